"""Looking into what was recorded: decoding bodies (body), selector evaluation
(selection), curl export and injection (curl), replay and the request/response
rebuild it uses (replay, rebuild), the flow filter language (filters), and
Scrapy's own check and parse commands recorded (contracts, parse).

Headless: nothing here imports Textual or workbench.ui (tests/test_architecture.py).
"""
