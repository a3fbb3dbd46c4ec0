"""The headless browser of a scrapy-playwright crawl: its contexts and pages over
time (which request opened each, how long each stays open), the console
messages and page errors of each page, the browser processes' memory, the
leak warning when pages or contexts are opened and never closed, and a
screenshot of a page the spider still holds.

Nothing here imports Playwright or scrapy-playwright at the top: a crawl
without them never loads them (``extension`` finds the download handler the
crawl already built).
"""
