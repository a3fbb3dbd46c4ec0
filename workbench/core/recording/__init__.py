"""Recording a crawl: the records (records), the bounded rings that keep them
(recorder), the Scrapy components that feed them from signals (extension) through
the map of live requests to flows (tap), what
became of each request (fates: the vocabulary; fate_hooks: where Scrapy decides
it), and logging routed into them (logcapture).

Headless: nothing here imports Textual or workbench.ui (tests/test_architecture.py).
"""
