"""What a JOBDIR holds before a resume (core/control/jobdir.py), from files Scrapy wrote."""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.dupefilters import RFPDupeFilter

from workbench.core.control.jobdir import inspect_job, keeping_ports


def _seen(job, urls) -> None:
    """requests.seen as Scrapy's duplicate filter writes it."""
    dupefilter = RFPDupeFilter(str(job))
    for url in urls:
        dupefilter.request_seen(Request(url))
    dupefilter.close("shutdown")


def test_fingerprints_are_counted_as_scrapy_wrote_them(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    urls = [f"http://127.0.0.1:8000/product/{n}.html" for n in range(315)]
    _seen(job, urls + urls[:10])  # the duplicates are not written again
    report = inspect_job(job)
    assert report is not None and report.seen == 315
    assert "315 fingerprints seen" in report.summary()
    _seen(job, [f"http://127.0.0.1:8000/page/{n}.html" for n in range(5)])  # a resumed run
    assert inspect_job(job).seen == 320


def test_a_fingerprint_cut_short_is_not_counted(tmp_path):
    """As Scrapy reads it: a record cut by an unclean shutdown is left out."""
    job = tmp_path / "job"
    job.mkdir()
    _seen(job, [f"http://127.0.0.1:8000/product/{n}.html" for n in range(3)])
    with open(job / "requests.seen", "ab") as f:
        f.write(b"\x00\x14" + b"\x01" * 7)
    assert inspect_job(job).seen == 3


def test_an_older_scrapys_text_fingerprints_are_reported(tmp_path):
    """Scrapy before 2.19's binary format wrote hex lines, which it no longer reads."""
    job = tmp_path / "job"
    job.mkdir()
    (job / "requests.seen").write_text("a" * 40 + "\n" + "b" * 40 + "\n")
    report = inspect_job(job)
    assert report is not None and report.seen == 0
    assert "older Scrapy" in report.problem


async def test_the_demo_site_keeps_its_port_with_the_job(reactor, tmp_path, caplog):
    from scrapy.utils.defer import maybe_deferred_to_future

    from workbench.demo.site import listen

    with keeping_ports(tmp_path / "job"):  # a new job: any free port, then kept
        first = listen(pages=1)
    port = first.getHost().port
    await maybe_deferred_to_future(first.stopListening())
    with keeping_ports(tmp_path / "job"):  # the job resumed: the same port
        second = listen(pages=1)
    assert second.getHost().port == port
    with caplog.at_level(logging.WARNING), keeping_ports(tmp_path / "job"):
        third = listen(pages=1)  # the port is taken now (by the second): a free one
    try:
        assert third.getHost().port != port
        assert f"The job's site port {port} cannot be used" in caplog.text
        assert "listenTCP" not in vars(reactor)  # the reactor's own again
    finally:
        for listening in (second, third):
            await maybe_deferred_to_future(listening.stopListening())
