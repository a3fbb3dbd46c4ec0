"""``workbench fleet --redis URL --spider NAME``: the options, and the
:class:`~workbench.core.fleet.redis_watch.RedisWatch` they make (a fleet
annotator whose report calls go through each local crawl's RemoteControl).

The URL's password stays inside the watch: it is never printed, not even in
an error (``CliError`` lines name the URL as :func:`redact_url` writes it).
"""

from __future__ import annotations

import argparse
import os
import threading
from typing import Any

from workbench.commands.base import CliError

KEY_KINDS = ("queue", "dupefilter", "start_urls", "items", "stats")


def add_redis_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="the scrapy-redis queue the workers share, as REDIS_URL writes it "
        "(redis://:PASSWORD@HOST:PORT/DB; the password is never shown), or env:NAME "
        "to read it from that environment variable (out of ps's sight): "
        "its view opens with Q",
    )
    parser.add_argument(
        "--spider", metavar="NAME", help="the spider whose keys to read (with --redis)"
    )
    parser.add_argument(
        "--redis-key",
        action="append",
        default=[],
        metavar="KIND=KEY",
        help="a key named otherwise than scrapy-redis's default, e.g. "
        "queue=%%(spider)s:q (kinds: " + ", ".join(KEY_KINDS) + ")",
    )


def build_watch(opts: argparse.Namespace) -> Any:
    """The watch the options ask for, or None (without --redis)."""
    if not opts.redis:
        if opts.spider or opts.redis_key:
            raise CliError("--spider and --redis-key go with --redis URL")
        return None
    if not opts.spider:
        raise CliError("--redis needs --spider NAME (the keys are named after the spider)")
    from workbench.core.fleet.redis_queue import RedisKeys, redact_url
    from workbench.core.fleet.redis_watch import RedisWatch

    url = opts.redis
    if url.startswith("env:"):
        url = os.environ.get(url[4:], "")
        if not url:
            raise CliError(f"--redis {opts.redis}: that environment variable is not set")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise CliError(f"--redis takes a redis:// URL, not {redact_url(url)!r}")
    overrides: dict[str, str] = {}
    for item in opts.redis_key:
        kind, _, key = item.partition("=")
        if kind not in KEY_KINDS or not key:
            raise CliError(f"--redis-key takes KIND=KEY with a kind of {', '.join(KEY_KINDS)}")
        overrides[kind] = key
    try:
        import redis  # noqa: F401
    except ImportError:
        raise CliError("--redis needs redis-py: pip install 'scrapy-workbench[redis]'") from None
    keys = RedisKeys.for_spider(opts.spider, **overrides)
    return RedisWatch(url, opts.spider, keys, execute=Reporter(opts.timeout))


class Reporter:
    """Sends the fixed worker report to a local crawl of the fleet (one client each)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, row: Any, code: str, timeout: float) -> dict:
        from workbench.remote.client import RemoteControlClient

        if row.job is None:
            raise ValueError("no job file: its scheduler cannot be asked")
        if row.ssh_host:
            raise ValueError("over ssh: its scheduler is not asked (attach to it)")
        with self._lock:
            client = self._clients.get(row.key)
            if client is None:
                client = self._clients[row.key] = RemoteControlClient(row.job, timeout=timeout)
        return client.execute(code, timeout=timeout)
