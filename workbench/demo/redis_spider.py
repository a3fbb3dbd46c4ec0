"""The demo spider as a scrapy-redis worker: start several, they share one queue.

    python -m workbench.demo.site --pages 300 --port 8000
    scrapy runspider workbench/demo/redis_spider.py -a url=http://127.0.0.1:8000/ \\
        -s REDIS_URL=redis://:PASSWORD@127.0.0.1:6379/0

Each worker runs :class:`RedisDemoSpider` (the demo spider's callbacks, name
``demo``) with scrapy-redis's scheduler and dupefilter, so the requests of all
of them go through ``demo:requests`` and ``demo:dupefilter`` in Redis, and its
items into ``demo:items`` (``RedisPipeline``); the listing pages go first
(priority 10), so the products pile up in the queue and the workers drain
it.  ``SCHEDULER_PERSIST`` is True here: pass ``-s SCHEDULER_PERSIST=False``
to see what the first worker to finish does to the others.  Every worker
yields the home page; the shared dupefilter lets only the first through.  A
worker waits ``MAX_IDLE_TIME_BEFORE_CLOSE`` seconds (10) on an empty queue
before it closes.

Scrapy 2.13+ never calls ``start_requests()``, which is where scrapy-redis's
``RedisSpider`` reads its first batch of start URLs: without a ``start()``
it reads them only once the spider goes idle.  ``start()`` here yields the
home page and then that first batch (``next_requests()``), as
``start_requests()`` did (see docs/redis.md).

Like ``spider.py`` it imports nothing of workbench; it needs scrapy-redis
(``pip install 'scrapy-workbench[redis]'``).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

from scrapy import signals

try:
    from scrapy_redis.spiders import RedisMixin
except ImportError as exc:  # pragma: no cover - said to the user by Scrapy
    raise ImportError(
        "the Redis demo needs scrapy-redis: pip install 'scrapy-workbench[redis]'"
    ) from exc


def _demo_spider() -> type:
    try:
        from . import spider  # imported as workbench.demo.redis_spider

        return spider.DemoSpider
    except ImportError:  # scrapy runspider loads this file from its path
        name = "workbench_demo_spider"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(
                name, Path(__file__).with_name("spider.py")
            )
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        return sys.modules[name].DemoSpider


class RedisDemoSpider(RedisMixin, _demo_spider()):  # type: ignore[misc]
    name = "demo"
    custom_settings = {
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,
        "ITEM_PIPELINES": {"scrapy_redis.pipelines.RedisPipeline": 300},
        "MAX_IDLE_TIME_BEFORE_CLOSE": 10,
        # a worker alone takes about 10 pages a second: more workers go faster
        "CONCURRENT_REQUESTS": 4,
        "DOWNLOAD_DELAY": 0.1,
        "RANDOMIZE_DOWNLOAD_DELAY": False,
    }

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.setup_redis(crawler)
        # RedisMixin counts idle time from when start URLs were last seen; here
        # from the last request or response of this worker too
        crawler.signals.connect(spider._busy, signal=signals.request_scheduled)
        crawler.signals.connect(spider._busy, signal=signals.response_received)
        spider._busy()
        return spider

    def _busy(self, *args, **kwargs) -> None:
        self.spider_idle_start_time = int(time.time())

    def parse_listing(self, response):
        """The demo's listing pages, the next one first: the whole catalogue is
        queued quickly and the workers drain it, a backlog to watch."""
        for request in super().parse_listing(response):
            if getattr(request, "callback", None) == self.parse_listing:
                request = request.replace(priority=10)
            yield request

    async def start(self):
        async for request in super().start():  # the home page (once for the fleet)
            yield request
        for request in self.next_requests():  # what start_requests() read before 2.13
            yield request
