"""Which objects the leak search samples: made while the class grew, never before the crawl."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from types import SimpleNamespace

from scrapy.http import HtmlResponse

from workbench.core.leaks.liverefs import RefTracker, class_key
from workbench.core.leaks.memprobe import MemoryProbe


def test_leak_samples_never_predate_the_crawl():
    # objects of the class made before the crawl (an earlier crawl's, a cache's)
    stale = [HtmlResponse(f"http://stale.invalid/{i}", body=b"") for i in range(30)]
    time.sleep(0.01)
    started = datetime.now(tz=timezone.utc)
    time.sleep(0.01)
    fresh = [HtmlResponse(f"http://fresh.invalid/{i}", body=b"") for i in range(6)]
    stats = SimpleNamespace(get_value=lambda name: started if name == "start_time" else None)
    probe = MemoryProbe(lambda: SimpleNamespace(stats=stats), RefTracker(window=0.0))
    # the leak window holds none of them: the search widens to the crawl, not further
    probe.tracker.last_sample = time.monotonic() + 1
    chosen = [ref() for ref in probe._samples(class_key(HtmlResponse), 10)]
    assert chosen and {id(o) for o in chosen} <= {id(o) for o in fresh}
    assert not {id(o) for o in chosen} & {id(o) for o in stale}
