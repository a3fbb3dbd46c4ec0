"""What the panels read: the Source interface and the in-process sources (local:
LocalSource, CheckSource, ParseSource), several crawlers in one process
(multi; multi_merge, their readings as one), and a saved HAR file (har_file).

Headless: nothing here imports Textual or workbench.ui (tests/test_architecture.py).
"""
