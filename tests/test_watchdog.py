"""The shutdown watchdog: a deadline, the stacks, a distinct exit status."""

from __future__ import annotations

import threading
import time

from workbench.core.control.watchdog import EXIT_STUCK, Watchdog


def _watchdog(tmp_path):
    dog = Watchdog()
    dog.log_file = str(tmp_path / "crawl.log")
    ended: list[int] = []
    fired = threading.Event()

    def exit_(status: int) -> None:
        ended.append(status)
        fired.set()

    dog.exit = exit_
    return dog, ended, fired


def test_it_ends_the_process_at_the_deadline_with_the_stacks_in_the_log(tmp_path):
    dog, ended, fired = _watchdog(tmp_path)
    dog.arm(0.2, "the crawl finished")
    assert fired.wait(5)
    assert ended == [EXIT_STUCK]
    text = (tmp_path / "crawl.log").read_text()
    assert "still running after the crawl finished" in text
    assert "Thread 0x" in text and "test_it_ends_the_process" in text  # this thread's stack


def test_disarmed_or_paused_it_waits(tmp_path):
    dog, ended, fired = _watchdog(tmp_path)
    dog.arm(0.2, "x")
    dog.disarm()
    assert not fired.wait(0.5)
    dog.arm(0.3, "y")
    with dog.paused(grace=0.3):  # a long HAR save
        assert not fired.wait(0.6)
    assert fired.wait(5)  # armed again afterwards, from then
    assert ended == [EXIT_STUCK]


def test_an_earlier_deadline_wins(tmp_path):
    dog, _, fired = _watchdog(tmp_path)
    dog.arm(60, "late")
    began = time.monotonic()
    dog.arm(0.2, "soon")
    assert fired.wait(5) and time.monotonic() - began < 3
    assert "soon" in (tmp_path / "crawl.log").read_text()
