"""The fleet: every running crawl the user names, on this host, over ssh and on
Scrapyd nodes, polled concurrently into one table (``workbench fleet``).

Headless (no Textual): the command and the UI read a :class:`FleetSnapshot`
from a :class:`FleetPoller`.

- ``model``: :class:`FleetRow` (one crawl, frozen), :class:`FleetSnapshot`
  (rows, what each source answered, the totals) and the states;
- ``probe``: the fixed code sent through RemoteControl's ``/execute`` to read
  a crawl's counters (it installs nothing), and its answer checked;
- ``local``: crawls from RemoteControl job files, here or over ssh;
- ``scrapyd``: a Scrapyd node's JSON API (credentials from the URL or
  ``~/.netrc``, never shown), its finished jobs' logs;
- ``poller``: :class:`FleetPoller`, the bounded pool, the timeouts, the rates;
- ``filter``: the flow filter language's grammar over fleet rows;
- ``export``: a snapshot as JSON (``workbench fleet --json``).

Extending it (a Redis queue source, say): a source is any object with a
``name`` and ``list(timeout) -> Listing`` (:class:`~.poller.FleetSource`);
an annotator is a callable ``(rows) -> rows`` run after every poll, which may
set :attr:`FleetRow.queue_shared` (the queue column then shows the shared
queue) and :attr:`FleetRow.notes`.  Both are given to :class:`FleetPoller`.
"""

from __future__ import annotations

from workbench.core.fleet.model import (
    CLOSING,
    FINISHED,
    PAUSED,
    PENDING,
    RUNNING,
    UNREACHABLE,
    FleetRow,
    FleetSnapshot,
    FleetTotals,
    SourceStatus,
)
from workbench.core.fleet.poller import FleetPoller, FleetSource, Listing

__all__ = [
    "CLOSING",
    "FINISHED",
    "PAUSED",
    "PENDING",
    "RUNNING",
    "UNREACHABLE",
    "FleetPoller",
    "FleetRow",
    "FleetSnapshot",
    "FleetSource",
    "FleetTotals",
    "Listing",
    "SourceStatus",
]
