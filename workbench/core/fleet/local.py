"""Crawls from RemoteControl job files: this host's (``workbench ps``) and
another host's over ssh (``workbench ps --ssh``), and how each is probed.

``core`` does not import ``remote`` (the layers), so the job listing and the
RemoteControl client are handed in by the command (``commands/fleet.py``):

- a :class:`JobFileSource` calls its ``lister(timeout)``, which returns a
  ``JobList`` (``remote/jobs.py``: jobs checked as ``ps`` checks them, and
  the problems), and hands the poller one :class:`ProbeTarget` per crawl;
- a :class:`Prober` calls ``connect(target, timeout)`` once per crawl, which
  returns ``(client, close)``: an object with ``execute(code, timeout)``
  (``RemoteControlClient``) and a callable that releases what it opened (an
  ssh port forward) or None.  Clients are kept between polls (the listener
  check is made once) and released when the crawl is no longer listed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.core.fleet.model import LOCAL, SSH
from workbench.core.fleet.probe import PROBE_CODE, Reading, read_probe

LOCALHOST = "localhost"  # the machine label of this host's job files


@dataclass(frozen=True)
class ProbeTarget:
    """One crawl to probe: its job file, and where it was read."""

    key: str
    machine: str  # LOCALHOST or the ssh host: what a Scrapyd pid is matched on
    host: str  # the label shown in the host column
    source: str  # LOCAL or SSH
    job: Any  # workbench.remote.jobs.Job (the token stays inside)
    ssh_host: str | None = None


class JobFileSource:
    """The crawls of one machine's job files: this host's, or ``ssh_host``'s."""

    def __init__(self, lister: Callable[[float], Any], ssh_host: str | None = None) -> None:
        self.lister = lister
        self.ssh_host = ssh_host
        self.kind = SSH if ssh_host else LOCAL
        self.name = ssh_host or LOCALHOST

    def list(self, timeout: float) -> Any:
        """The crawls found, as a :class:`~.poller.Listing` (raises when the
        machine cannot be read: the poller shows the reason)."""
        from workbench.core.fleet.poller import Listing

        found = self.lister(timeout)
        targets = [
            ProbeTarget(
                key=f"{self.kind}:{self.name}:{job.job_id}",
                machine=self.name,
                host=self.name,
                source=self.kind,
                job=job,
                ssh_host=self.ssh_host,
            )
            for job in found.jobs
        ]
        return Listing(targets=targets, problems=[str(p) for p in found.problems])

    def close(self) -> None:
        pass


Connect = Callable[[ProbeTarget, float], "tuple[Any, Callable[[], None] | None]"]


class Prober:
    """Probes crawls through their RemoteControl servers (thread-safe)."""

    def __init__(self, connect: Connect, timeout: float) -> None:
        self.connect = connect
        self.timeout = timeout
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}  # target key -> client
        self._closers: dict[str, Callable[[], None]] = {}
        self._closed = False

    def probe(self, target: ProbeTarget) -> Reading:
        """The crawl's reading (raises RemoteError, SshError, ProbeError... when it
        cannot be had: the poller shows the reason)."""
        with self._lock:
            client = self._clients.get(target.key)
        if client is None:
            client, close = self.connect(target, self.timeout)
            with self._lock:
                closed = self._closed
                if not closed:
                    self._clients[target.key] = client
                    if close is not None:
                        self._closers[target.key] = close
            if closed:  # the fleet closed while this forward opened: nobody would close it
                if close is not None:
                    close()
                raise RuntimeError("the fleet has closed")
        return read_probe(client.execute(PROBE_CODE, timeout=self.timeout))

    def forget(self, keep: set[str]) -> None:
        """Drop the clients, and release the forwards, of crawls no longer listed."""
        with self._lock:
            gone = [key for key in self._clients if key not in keep]
            closers = [self._closers.pop(key) for key in gone if key in self._closers]
            for key in gone:
                del self._clients[key]
        for close in closers:
            with contextlib.suppress(Exception):
                close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.forget(set())
