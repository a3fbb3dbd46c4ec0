"""Recording a crawl: the records (records), the bounded rings that keep them
(recorder), the Scrapy components that feed them from signals (extension) through
the map of live requests to flows (tap), what became of each request (fates: the
vocabulary; fate_hooks: where Scrapy decides it), the errors grouped (errors;
tracebacks: whose code a frame is, folding), items' fields filled or not
(item_health), each run's summary kept for the next (runs; run_store, where
they are kept; run_changes), and logging routed into them (logcapture).

Headless: nothing here imports Textual or workbench.ui (tests/test_architecture.py).
"""
