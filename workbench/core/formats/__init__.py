"""What leaves the process: HAR 1.2 files (har) and text made safe for a terminal
(sanitize).

Headless: nothing here imports Textual or workbench.ui (tests/test_architecture.py).
"""
