"""The RedisStatsCollector workaround docs/redis.md gives, as the tests run it
(tests/test_redis_fleet.py starts a worker with it; tests/test_redis_queue.py
checks that the page shows this very code)."""

# --- the code docs/redis.md shows, from here to the end ---
from datetime import datetime, timezone

from scrapy_redis.stats import RedisStatsCollector


class TypedRedisStatsCollector(RedisStatsCollector):
    """scrapy-redis's RedisStatsCollector, its values read back as numbers and
    its times as datetimes (Redis keeps text: Scrapy 2.19's LogStats and
    RemoteControl read start_time as a datetime, the fleet counts as numbers)."""

    TIMES = ("start_time", "finish_time")

    def _typed(self, key, value):
        if isinstance(value, bytes):
            value = value.decode()
        if not isinstance(value, str):
            return value
        try:
            number = float(value)
        except ValueError:
            return value
        if key in self.TIMES:
            return datetime.fromtimestamp(number, tz=timezone.utc)
        return int(number) if number.is_integer() else number

    def get_value(self, key, default=None, spider=None):
        value = self.server.hget(self._get_key(spider), key)
        return default if value is None else self._typed(key, value)

    def get_stats(self, spider=None):
        return {k: self._typed(k, v) for k, v in super().get_stats(spider).items()}
