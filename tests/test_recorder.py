from __future__ import annotations

import os

import pytest
from scrapy.settings import Settings

from workbench.core.recording.recorder import BodyStore, Limits, Recorder, Ring
from workbench.core.recording.records import Flow


def make_flow(recorder: Recorder, url: str = "http://127.0.0.1/x", status: int | None = 200):
    return Flow(
        id=recorder.next_flow_id(),
        time=0.0,
        method="GET",
        url=url,
        status=status,
        error=None,
        size=3,
        latency=0.1,
        callback="parse",
        depth=0,
        priority=0,
        slot="127.0.0.1",
    )


def test_ring_counts_what_it_drops_and_reads_since_a_cursor():
    ring = Ring(3)
    for i in range(5):
        ring.append(i)
    assert list(ring) == [2, 3, 4]
    assert ring.total == 5 and ring.dropped == 2
    assert ring.since(3) == [3, 4]
    assert ring.since(0) == [2, 3, 4]  # what was dropped is gone, the rest is there
    assert ring.since(5) == []


def test_body_store_is_bounded_by_count_and_bytes():
    store = BodyStore(max_count=2, max_bytes=100)
    store.put(1, b"a" * 10)
    store.put(2, b"b" * 10)
    store.put(3, b"c" * 10)
    assert store.get(1) is None and store.get(3).body == b"c" * 10
    assert store.evicted == 1
    store.put(4, b"d" * 1000)  # larger than a quarter of the budget: a prefix is kept
    kept = store.get(4)
    assert kept.truncated and kept.size == 1000 and len(kept.body) == 25
    assert store.bytes <= 100


def page(n: int) -> bytes:
    return (
        b"<html><head><title>Product %d</title></head><body><ul>" % n
        + b"".join(b'<li><a href="/product/%d">Product %d</a></li>' % (n + i, i) for i in range(40))
        + b"</ul></body></html>"
    )


def test_body_store_compresses_full_chunks_and_gives_every_body_back():
    store = BodyStore(max_count=1000, max_bytes=64 << 20)
    bodies = {n: page(n) for n in range(1, 201)}
    for n, body in bodies.items():
        store.put(n, body)
    store.flush()
    raw = sum(len(b) for b in bodies.values())
    assert store.bytes < raw / 4  # chunks of similar pages compress well
    assert all(store.get(n).body == body for n, body in bodies.items())
    assert store.get(7).size == len(bodies[7]) and not store.get(7).truncated
    assert len(store) == 200 and store.evicted == 0


def test_body_store_keeps_exactly_the_newest_bodies_and_frees_whole_chunks():
    store = BodyStore(max_count=50, max_bytes=64 << 20)
    for n in range(1, 301):
        store.put(n, page(n))
    store.flush()
    assert len(store) == 50 and store.evicted == 250
    assert store.get(250) is None and store.get(251).body == page(251)
    # the memory counted is what the kept chunks take: a few, not ten
    one_chunk = store.bytes
    for n in range(301, 1001):
        store.put(n, page(n))
    store.flush()
    assert store.bytes < 2 * one_chunk + 2 * len(page(1000)) * BodyStore.CHUNK_BODIES


def test_body_store_stores_what_does_not_compress_as_it_is_and_counts_it():
    store = BodyStore(max_count=1000, max_bytes=64 << 20)
    noise = [os.urandom(4000) for _ in range(BodyStore.CHUNK_BODIES)]
    for n, body in enumerate(noise, 1):
        store.put(n, body)
    store.flush()
    assert store.bytes == sum(len(b) for b in noise)
    assert [store.get(n).body for n in range(1, len(noise) + 1)] == noise


def test_body_store_on_a_tiny_budget_keeps_the_newest_body():
    store = BodyStore(max_count=5000, max_bytes=2000)  # WORKBENCH_MAX_BODY_BYTES=2000
    for n in range(1, 101):
        store.put(n, page(n))
    store.flush()
    newest = store.get(100)
    assert newest is not None and newest.truncated and newest.body == page(100)[:500]
    assert store.bytes <= 2000


def test_recorder_flows_are_bounded_and_indexed():
    recorder = Recorder(Limits(flows=3))
    flows = [make_flow(recorder) for _ in range(5)]
    for flow in flows:
        recorder.add_flow(flow, b"abc")
    assert [f.id for f in recorder.flows] == [3, 4, 5]
    assert recorder.flow(1) is None and recorder.flow(5) is flows[4]
    assert recorder.flows.dropped == 2


def test_items_link_to_their_flow():
    recorder = Recorder()
    flow = make_flow(recorder)
    recorder.add_flow(flow)
    recorder.add_item({"a": 1}, flow.id)
    recorder.add_item({"a": 2}, flow.id, dropped="DropItem: no price")
    assert list(flow.items) == [1]
    assert recorder.items_scraped == 1 and recorder.items_dropped == 1
    assert [r.fields for r in recorder.items_of(flow)] == [(("a", 1),)]


def test_limits_come_from_settings_and_reject_nonsense():
    settings = Settings({"WORKBENCH_MAX_FLOWS": 10, "WORKBENCH_MAX_BODY_BYTES": 2048})
    limits = Limits.from_settings(settings)
    assert limits.flows == 10 and limits.body_bytes == 2048
    with pytest.raises(ValueError, match="WORKBENCH_MAX_FLOWS"):
        Limits.from_settings(Settings({"WORKBENCH_MAX_FLOWS": 0}))


def test_item_fields_are_the_same_by_every_path():
    """dicts and scrapy Items skip ItemAdapter; the fields must not change for it."""
    from dataclasses import dataclass

    import scrapy

    class Product(scrapy.Item):
        title = scrapy.Field()
        price = scrapy.Field()
        tags = scrapy.Field()

    @dataclass
    class ProductData:
        title: str
        price: float
        tags: list

    tags = ["a", "b"]
    recorder = Recorder(Limits())
    kinds = [
        {"title": "Lamp", "price": 12.5, "tags": tags},
        Product(title="Lamp", price=12.5, tags=tags),
        ProductData("Lamp", 12.5, tags),
    ]
    fields = [recorder.add_item(item, None).fields for item in kinds]
    expected = (("title", "Lamp"), ("price", 12.5), ("tags", tags))
    assert fields[0] == fields[1] == fields[2] == expected
    # plain data is kept packed, a copy: the spider's own list is not held
    assert fields[1][2][1] == tags and fields[1][2][1] is not tags
    assert recorder.add_item({1: "x"}, None).fields == (("1", "x"),)


def test_item_fields_of_other_types_are_kept_as_references():
    """A value marshal cannot copy (a Selector, a Decimal, an object) leaves the
    fields a shallow copy holding the values themselves."""
    import decimal

    recorder = Recorder(Limits())
    price = decimal.Decimal("12.50")
    fields = recorder.add_item({"title": "Lamp", "price": price}, None).fields
    assert fields == (("title", "Lamp"), ("price", price))
    assert fields[1][1] is price


def test_meta_reprs_are_short_whatever_the_value():
    from workbench.core.recording.tap import _reprs

    long = "x" * 500
    shown = dict(
        _reprs({"depth": 2, "ok": True, "none": None, "latency": 0.25, "s": "short", "long": long,
                "nested": {"k": list(range(100))}, 7: b"raw"})
    )  # fmt: skip
    assert shown["depth"] == "2" and shown["ok"] == "True" and shown["none"] == "None"
    assert shown["latency"] == "0.25" and shown["s"] == "'short'"
    assert len(shown["long"]) < 220 and shown["long"].startswith("'xxx")
    assert len(shown["nested"]) < 220 and shown["7"] == "b'raw'"


def test_dropped_rows_have_a_bound_of_their_own():
    """Rows of requests that never reached the network stop at WORKBENCH_MAX_DROPPED
    kept in the ring; past that they are counted, and downloads still get rows."""
    import dataclasses

    from workbench.core.recording.fates import DUPLICATE

    recorder = Recorder(Limits(flows=4, dropped=2))
    assert Limits.from_settings(Settings({"WORKBENCH_MAX_DROPPED": 7})).dropped == 7
    for _ in range(5):  # a flood of duplicates
        if recorder.room_for_dropped():
            recorder.count_fate(DUPLICATE)
            recorder.add_flow(dataclasses.replace(make_flow(recorder), fate=DUPLICATE))
        else:
            recorder.count_unkept(DUPLICATE)
    assert recorder.dropped_kept == 2 and recorder.dropped_unkept == 3
    assert recorder.fate_counts == {DUPLICATE: 5}
    for _ in range(3):
        recorder.add_flow(make_flow(recorder))
    # the ring rolled: one dropped row went, so there is room for one more
    assert [f.fate for f in recorder.flows] == [DUPLICATE, None, None, None]
    assert recorder.dropped_kept == 1 and recorder.room_for_dropped()


def test_packed_pairs_read_as_the_tuples_they_were():
    import copy
    import pickle

    from scrapy.http.headers import Headers

    from workbench.core.recording.records import Packed, freeze_headers, pack

    headers = freeze_headers(Headers({"Content-Type": "text/html", "Set-Cookie": ["a=1", "b=2"]}))
    assert isinstance(headers, Packed)
    assert list(headers) == [
        (b"Content-Type", (b"text/html",)),
        (b"Set-Cookie", (b"a=1", b"b=2")),
    ]
    assert len(headers) == 2 and headers[1][0] == b"Set-Cookie"
    assert headers[:1] == headers.unpack()[:1]
    assert headers == tuple(headers) and bool(headers)
    assert copy.deepcopy(headers) == headers == pickle.loads(pickle.dumps(headers))
    assert not pack(())  # nothing to show
    assert Headers(headers).getlist("Set-Cookie") == [b"a=1", b"b=2"]  # as replay rebuilds them


def test_equal_headers_are_kept_once_other_packed_values_each_on_their_own():
    from scrapy.http.headers import Headers

    from workbench.core.recording.records import Packed, freeze_headers, pack

    one = freeze_headers(Headers({"Content-Type": "text/html", "Date": "Sun, 06 Dec 2026"}))
    two = freeze_headers(Headers({"Content-Type": "text/html", "Date": "Sun, 06 Dec 2026"}))
    other = freeze_headers(Headers({"Content-Type": "text/html", "Date": "Mon, 07 Dec 2026"}))
    assert isinstance(one, Packed) and one is two
    assert one != other and one is not other
    fields = (("price", "1.00"),)
    assert pack(fields) == pack(fields) and pack(fields) is not pack(fields)
