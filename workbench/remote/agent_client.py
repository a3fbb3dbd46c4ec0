"""Calls into the agent of an attached crawl, over its RemoteControl ``/execute``.

:meth:`AgentClient.install` sends the fixed agent code (``agent.py``, as a
literal) once; every later call is one fixed line naming an agent method and
its JSON arguments.  :func:`decode_answer` reads what the agent printed: a
bounded, compressed JSON object, or the reason it refused.
"""

from __future__ import annotations

import base64
import json
import secrets
import zlib
from pathlib import Path
from typing import Any

from workbench.remote.agent import LEASE, STASH_KEY
from workbench.remote.client import RemoteControlClient, RemoteError

MAX_ANSWER = 64 * 1024 * 1024  # decompressed

AGENT_SOURCE = (Path(__file__).parent / "agent.py").read_text(encoding="utf-8")

# Fixed code: the agent's own source and our version travel as literals.
LOADER = """\
_wb_agent = stash.get({key!r})
if _wb_agent is None or _wb_agent.removed:
    _wb_mod = {{"__name__": "workbench_agent"}}
    exec(compile({source!r}, "<workbench agent>", "exec"), _wb_mod)
    _wb_agent = _wb_mod["agent_for"](crawler, stash, {version!r}, {lease!r}, {probe!r})
print(await _wb_agent.call({client!r}, "hello", "{{}}"))
"""
CALL = "print(await stash[{key!r}].call({client!r}, {name!r}, {args!r}))"


class Refused(ValueError):
    """The agent refused a call; the message says why."""


class AgentGone(RemoteError):
    """The agent is no longer in the crawl (removed after a minute without polls)."""


def decode_answer(result: dict[str, Any]) -> Any:
    """The agent's answer in an /execute result (Refused, AgentGone, RemoteError)."""
    status = result.get("status")
    if status != "ok":
        tb = str(result.get("traceback") or "")
        if "KeyError" in tb and STASH_KEY in tb:
            raise AgentGone("the attach agent is no longer in the crawl")
        if status == "timeout":
            raise RemoteError("the crawl did not answer in time (its loop may be busy)")
        last = tb.strip().splitlines()[-1] if tb.strip() else str(status)
        raise RemoteError(f"the crawl could not run the agent: {last}")
    text = str(result.get("output") or "").strip()
    if result.get("output_truncated"):
        raise RemoteError("the agent's answer was cut by REMOTE_CONTROL_OUTPUT_MAX_BYTES")
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(base64.b64decode(text), MAX_ANSWER)
        if inflater.unconsumed_tail:
            raise ValueError("too large")
        answer = json.loads(raw)
    except (ValueError, zlib.error) as exc:
        raise RemoteError(f"the agent's answer is unreadable ({exc})") from None
    if not isinstance(answer, dict):
        raise RemoteError("the agent's answer is not an object")
    if "error" in answer:
        raise Refused(str(answer["error"]))
    return answer.get("ok")


class AgentClient:
    """Calls into the agent of one crawl, as one client (several may attach)."""

    def __init__(self, client: RemoteControlClient, probe: bool = False) -> None:
        from workbench import __version__

        self.client = client
        self.probe = probe  # ask for the probe even where workbench could record
        self.version = __version__
        self.id = secrets.token_hex(8)  # which client this is, for the agent's leases
        self.lease = LEASE

    def install(self) -> dict[str, Any]:
        code = LOADER.format(
            key=STASH_KEY,
            source=AGENT_SOURCE,
            version=self.version,
            client=self.id,
            lease=float(self.lease),
            probe=bool(self.probe),
        )
        return decode_answer(self.client.execute(code, timeout=30.0))

    def call(self, name: str, timeout: float = 10.0, **args: Any) -> Any:
        code = CALL.format(key=STASH_KEY, client=self.id, name=name, args=json.dumps(args))
        return decode_answer(self.client.execute(code, timeout=timeout))
