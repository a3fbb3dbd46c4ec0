"""The agent answers its do_* methods and nothing else (one list: the methods)."""

from __future__ import annotations

import asyncio

import pytest

from workbench.remote.agent import CALLS, Agent
from workbench.remote.agent_client import Refused, decode_answer


def test_only_the_do_methods_are_calls():
    assert {name[3:] for name in dir(Agent) if name.startswith("do_")} == CALLS
    assert {"hello", "poll", "detach", "body", "shell_target"} <= CALLS


@pytest.mark.parametrize("name", ["install", "__init__", "_full", "call", "remove"])
def test_anything_else_is_refused_without_running_it(name):
    agent = Agent.__new__(Agent)  # no crawl: a refused name must not need one
    agent.budget, agent.removed, agent.clients = 1 << 20, False, {}
    answer = asyncio.run(agent.call("client", name, "{}"))
    with pytest.raises(Refused, match=f"unknown call {name!r}"):
        decode_answer({"status": "ok", "output": answer})


def test_flows_carry_their_fate_and_an_older_agents_flows_have_none():
    """What became of a request goes over the wire with the flow, and with its
    update when decided later (a retry followed); an agent of an older workbench
    sends none of it, and its flows read as plain downloads."""
    import json

    from tests.fakes import FakeSource
    from workbench.remote import wire
    from workbench.remote.agent import _fate_fields, _mutable, flow_to_wire

    source = FakeSource(fates=True)
    for before in source.flows_since(0):
        data = json.loads(json.dumps(flow_to_wire(before)))
        after = wire.flow(data)
        fields = ("fate", "fate_by", "fate_reason", "fate_n", "fate_limit", "duplicate_of")
        assert [getattr(after, f) for f in fields] == [getattr(before, f) for f in fields]
    old = flow_to_wire(source.flow(1))
    for name in ("fate", "fate_by", "fate_reason", "fate_n", "fate_limit", "duplicate_of"):
        del old[name]
    assert wire.flow(old).fate is None
    # the flaky page's 500 was sent plain, then its retry was scheduled
    sent = wire.flow(flow_to_wire(source.flow(6)))
    flaky = source.flow(6)
    seen = _mutable(flaky)
    flaky.fate, flaky.fate_n, flaky.fate_limit = "retried", 1, 2
    assert _mutable(flaky) != seen  # the agent sends an update
    wire.update_flow(sent, {"items": [], "requests": [], **_fate_fields(flaky)})
    assert (sent.fate, sent.fate_n, sent.fate_limit) == ("retried", 1, 2)
    older = wire.flow(flow_to_wire(source.flow(6)))
    wire.update_flow(older, {"items": [], "requests": []})  # an older agent's update
    assert older.fate == "retried"  # left as it was
