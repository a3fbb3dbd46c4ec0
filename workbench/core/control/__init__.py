"""Running and steering crawls: the crawl host on the app's loop (host),
breakpoints, the pace of downloader slots and AutoThrottle (pace), a look into
the scheduler without consuming it (scheduler_view), JOBDIR inspection
(jobdir), the telnet console's variables (telnet), and the shutdown watchdog
(watchdog).

Headless: nothing here imports Textual or workbench.ui (tests/test_architecture.py).
"""
