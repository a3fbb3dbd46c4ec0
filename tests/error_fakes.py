"""Errors for FakeSource(errors=True): the same callback error on many pages, a
refused download, an item pipeline's error, with tracebacks as Scrapy writes
them (a project under /home/user/shop, its libraries in its virtualenv)."""

from __future__ import annotations

import logging
from typing import Any

from tests.fakes import T0, FakeSource
from workbench.core.recording import errors
from workbench.core.recording.records import Flow, ItemRecord, LogRecord

VENV = "/home/user/shop/.venv/lib/python3.12/site-packages"
STDLIB = "/usr/lib/python3.12"
SPIDER = "/home/user/shop/shop/spiders/books.py"
PIPELINES = "/home/user/shop/shop/pipelines.py"
BASE = "http://127.0.0.1:8000"

_SCRAPY_FRAMES = [
    ("scrapy/utils/defer.py", 373, "aiter_errback", "yield await anext(it)"),
    ("scrapy/utils/python.py", 366, "__anext__", "return await anext(self.data)"),
    ("scrapy/utils/python.py", 347, "_async_chain", "async for o in as_async_generator(it):"),
    ("scrapy/utils/asyncgen.py", 18, "as_async_generator", "async for r in it:"),
    ("scrapy/core/spidermw.py", 109, "_evaluate_iterable", "async for r in iterable:"),
    ("scrapy/utils/decorators.py", 152, "asyncgen_inner", "async for item in func(*a, **kw):"),
    ("scrapy/spidermiddlewares/base.py", 67, "process_spider_output", "async for o in result:"),
]  # fmt: skip


def _frame(path: str, line: int, function: str, code: str) -> str:
    return f'  File "{path}", line {line}, in {function}\n    {code}\n'


def callback_traceback(n: int) -> str:
    frames = "".join(_frame(f"{VENV}/{p}", line, f, c) for p, line, f, c in _SCRAPY_FRAMES * 4)
    frames += _frame(SPIDER, 42, "parse_product", 'raise ValueError(f"bad price {n} on {url}")')
    return (
        "Traceback (most recent call last):\n"
        + frames
        + f"builtins.ValueError: bad price {n} on {BASE}/product/{n}.html\n"
    )


DOWNLOAD_TRACEBACK = (
    "Traceback (most recent call last):\n"
    + _frame(f"{VENV}/scrapy/utils/_download_handlers.py", 55, "wrap_twisted_exceptions", "yield")
    + "twisted.internet.error.ConnectionRefusedError: Connection was refused by other side: "
    "111: Connection refused.\n\n"
    "The above exception was the direct cause of the following exception:\n\n"
    "Traceback (most recent call last):\n"
    + _frame(
        f"{VENV}/scrapy/core/downloader/middleware.py",
        80,
        "download_async",
        "result = await self._process_request(request)",
    )
    + _frame(
        f"{VENV}/scrapy/core/downloader/__init__.py",
        318,
        "_download",
        "response = await self.handlers.download_request_async(request)",
    )
    + _frame(f"{STDLIB}/contextlib.py", 158, "__exit__", "self.gen.throw(typ, value, traceback)")
    + _frame(
        f"{VENV}/scrapy/utils/_download_handlers.py",
        61,
        "wrap_twisted_exceptions",
        "raise DownloadConnectionRefusedError(str(e)) from e",
    )
    + "scrapy.exceptions.DownloadConnectionRefusedError: Connection was refused by other "
    "side: 111: Connection refused.\n"
)

ITEM_TRACEBACK = (
    "Traceback (most recent call last):\n"
    + _frame(
        f"{VENV}/scrapy/core/scraper.py",
        402,
        "start_itemproc_async",
        "output = await self.itemproc.process_item_async(item)",
    )
    + _frame(f"{VENV}/scrapy/middleware.py", 120, "_process_chain", "return await method(obj)")
    + _frame(PIPELINES, 18, "process_item", 'item["price"] = float(item["price"])')
    + "builtins.KeyError: 'price'\n"
)


def error_flows(first_id: int, t0: float) -> list[Flow]:
    """36 pages whose callback raised the same ValueError, then 5 refused downloads."""
    flows = []
    for n in range(36):
        flows.append(
            Flow(
                first_id + n,
                t0 + 20 + n,
                "GET",
                f"{BASE}/product/{100 + n}.html",
                200,
                None,
                2000,
                0.01,
                "parse_product",
                2,
                0,
                "127.0.0.1",
                response_class="HtmlResponse",
                callback_error=f"ValueError: bad price {100 + n} on {BASE}/product/{100 + n}.html",
                callback_traceback=callback_traceback(100 + n),
            )
        )
    start = first_id + 36
    for n in range(5):
        flows.append(
            Flow(
                start + n,
                t0 + 30 + n,
                "GET",
                f"http://127.0.0.1:9/closed/{n}",
                None,
                "DownloadConnectionRefusedError: Connection was refused by other side: 111: "
                "Connection refused.",
                0,
                None,
                "parse",
                1,
                0,
                "127.0.0.1:9",
                error_traceback=DOWNLOAD_TRACEBACK,
            )
        )
    return flows


def error_items(first_id: int, t0: float, flow_ids: list[int]) -> list[ItemRecord]:
    """Two items an item pipeline failed on."""
    return [
        ItemRecord(
            first_id + n,
            t0 + 40 + n,
            flow_id,
            "Product",
            (("name", f"Book {n}"),),
            error="KeyError: 'price'",
        )
        for n, flow_id in enumerate(flow_ids)
    ]


def groups_of(flows: list[Flow], items: list[ItemRecord]) -> errors.ErrorGroups:
    """The groups of the fake's records, the item errors with their traceback."""
    groups = errors.ErrorGroups()
    for flow in flows:
        groups.add_flow(flow)
    for item in items:
        groups.add_item(item, ITEM_TRACEBACK)
    return groups


class ErrorsFakeSource(FakeSource):
    """FakeSource with the errors above among its records (its groups counted with
    the item errors' tracebacks, as the recorder counts them)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        more = error_flows(100, T0)
        self.flows = [*self.flows, *more]
        self.items = [*self.items, *error_items(100, T0, [more[0].id, more[1].id])]
        message = f"Spider error processing <GET {BASE}/product/135.html> (referer: {BASE}/)\n"
        self.log = [
            *self.log,
            LogRecord(
                100,
                T0 + 55,
                logging.ERROR,
                "ERROR",
                "scrapy.core.scraper",
                message + callback_traceback(135),
            ),
        ]

    def error_groups(self) -> errors.ErrorsView:
        return groups_of(self.flows, self.items).view()
