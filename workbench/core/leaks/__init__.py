"""Leak hunting: trackref sampled over time with its hint (liverefs), referrer
chains back to a root (referrers), heap summaries and RSS (heap), and the
probe a source exposes (memprobe).

Headless: nothing here imports Textual or workbench.ui (tests/test_architecture.py).
"""
