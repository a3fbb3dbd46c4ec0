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
