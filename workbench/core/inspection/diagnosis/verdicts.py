"""Verdicts and the registry of the rules that make them.

A rule is a function of the :class:`~.evidence.Evidence` that returns a
:class:`Verdict` or None ("nothing wrong here").  It is declared once, with
the :func:`rule` decorator, in a module of this package (imported by the
package's ``__init__``), and says what it needs (:data:`NEEDS`): a rule whose
needs the evidence lacks does not run, and the Diagnose view lists it as not
checked, with why.  No verdict without evidence.

:func:`diagnose` runs every rule, keeps what they found, most severe first,
and what could not be checked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.core.inspection.diagnosis.evidence import Evidence

logger = logging.getLogger(__name__)

# how bad a verdict is, worst first: something fails or is lost; what bounds the
# crawl's speed; worth knowing, not wrong in itself (never in the status line)
PROBLEM = "problem"
LIMIT = "limit"
NOTE = "note"
SEVERITIES = (PROBLEM, LIMIT, NOTE)

# what a rule may need; each maps to a test of the evidence and why it is missing
NEEDS: dict[str, tuple[Callable[[Evidence], bool], str]] = {
    "engine": (
        lambda ev: ev.engine is not None,
        "needs the engine's readings: a crawl run by workbench (one crawler at a time: S), "
        "or attached in full mode",
    ),
    "running": (
        lambda ev: ev.running,
        "applies while the crawl runs (and has run for a few seconds), not paused",
    ),
    "flows": (
        lambda ev: ev.fates is not None,
        "needs the recorded flows",
    ),
    "items": (
        lambda ev: ev.items is not None and ev.items.total > 0,
        "needs items: none recorded yet",
    ),
    "last_run": (
        lambda ev: ev.runs is not None,
        "needs an earlier run of this spider kept by workbench (workbench runs)",
    ),
}


@dataclass(frozen=True, slots=True)
class Target:
    """What Enter on a verdict opens: a panel, with the Flows filter or the slot to show."""

    panel: str  # "flows", "slots", "queue", "items", "stats", "log"
    filter: str = ""  # flows: the filter expression
    slot: str | None = None  # slots: the slot to select
    label: str = ""  # what it opens, in words ("the 12 offsite requests")


@dataclass(frozen=True, slots=True)
class Verdict:
    """One finding: in words, with its figures and the setting to change."""

    code: str  # the rule's code
    severity: str  # PROBLEM, LIMIT or NOTE
    headline: str  # a few words, for the status line
    finding: str  # one sentence
    evidence: tuple[tuple[str, str], ...]  # (what, figure), the readings behind it
    setting: str  # the setting to change and how ("" when no setting helps)
    doc: str  # the rule's source: the Scrapy docs section
    target: Target | None = None
    weight: float = 0.0  # within a severity, the heavier first


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    title: str  # what it checks, in a few words
    needs: tuple[str, ...]
    check: Callable[[Evidence], Verdict | None]


RULES: list[Rule] = []


def rule(
    code: str, title: str, needs: tuple[str, ...] = ()
) -> Callable[[Callable[[Evidence], Verdict | None]], Callable[[Evidence], Verdict | None]]:
    """Register a rule: ``@rule("cpu", "CPU and the event loop", needs=("engine",))``."""
    unknown = set(needs) - set(NEEDS)
    if unknown:
        raise ValueError(f"rule {code}: unknown needs {sorted(unknown)}")

    def register(check: Callable[[Evidence], Verdict | None]) -> Callable[..., Verdict | None]:
        if any(r.code == code for r in RULES):
            raise ValueError(f"rule {code} is declared twice")
        RULES.append(Rule(code, title, needs, check))
        return check

    return register


@dataclass(frozen=True, slots=True)
class Diagnosis:
    verdicts: tuple[Verdict, ...]  # the worst first
    checked: tuple[str, ...]  # titles of the rules that ran
    unchecked: tuple[tuple[str, str], ...]  # (title, why it could not run)

    @property
    def headline(self) -> Verdict | None:
        """The verdict for the status line: the worst problem or limit, if any."""
        for verdict in self.verdicts:
            if verdict.severity in (PROBLEM, LIMIT):
                return verdict
        return None


def diagnose(evidence: Evidence, rules: list[Rule] | None = None) -> Diagnosis:
    """Every rule on the evidence: the verdicts, worst first; what was not checked."""
    verdicts: list[Verdict] = []
    checked: list[str] = []
    unchecked: list[tuple[str, str]] = []
    for r in RULES if rules is None else rules:
        missing = [NEEDS[n][1] for n in r.needs if not NEEDS[n][0](evidence)]
        if missing:
            unchecked.append((r.title, missing[0]))
            continue
        try:
            verdict = r.check(evidence)
        except Exception as exc:  # a rule that fails must not hide the others
            logger.exception("Diagnosis rule %s failed", r.code)
            unchecked.append((r.title, f"failed: {type(exc).__name__}"))
            continue
        checked.append(r.title)
        if verdict is not None:
            verdicts.append(verdict)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    verdicts.sort(key=lambda v: (order.get(v.severity, len(order)), -v.weight))
    return Diagnosis(tuple(verdicts), tuple(checked), tuple(unchecked))
