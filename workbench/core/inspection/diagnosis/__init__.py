"""Diagnosis: verdicts on what is wrong with a crawl, from the evidence it left.

The rules apply Scrapy's own docs ("Finding the bottleneck", "Speeding up
broad crawls", AutoThrottle) and the fates of the requests to the live
figures, and each names the evidence and the setting to change:

- ``verdicts``: :class:`Verdict`, :class:`Target` (what Enter opens), the
  registry (:func:`rule`, :data:`RULES`, :data:`NEEDS`) and :func:`diagnose`;
- ``evidence``: :class:`Evidence`, what the rules read, and :func:`gather`;
- ``pace_rules``, ``pace_slot_rules``, ``pace_stall_rules``: what bounds the
  speed (the CPU and the event loop, the network; a slot's concurrency or
  delay, one slot holding the crawl; a starved scheduler, a stall);
- ``outcome_rules``: retries and pushback, download, callback and HTTP
  errors, requests dropped (offsite, duplicates, depth, robots...);
- ``run_rules``: what changed for the worse since the last run of the spider;
- ``browser_rules``: a scrapy-playwright crawl's pages and contexts left open;
- ``fate_summary``: the fates summary, by fate and by component.

A new rule is a function decorated with :func:`rule` in a module imported
here (the rules register in the order imported, which is the order Diagnose
checks and lists them in); new evidence is a field of :class:`Evidence` with
a ``None`` default (and an entry in ``NEEDS`` for the rules that cannot do
without it).
"""

from __future__ import annotations

from workbench.core.inspection.diagnosis import (  # noqa: F401  (rules)
    browser_rules,
    outcome_rules,
    pace_rules,
    pace_slot_rules,
    pace_stall_rules,
    run_rules,
)
from workbench.core.inspection.diagnosis.evidence import Evidence, gather
from workbench.core.inspection.diagnosis.fate_summary import (
    FateRow,
    FateSummary,
    fate_filter,
    summarize_fates,
)
from workbench.core.inspection.diagnosis.verdicts import (
    LIMIT,
    NEEDS,
    NOTE,
    PROBLEM,
    RULES,
    Diagnosis,
    Rule,
    Target,
    Verdict,
    diagnose,
    rule,
)

__all__ = [
    "LIMIT",
    "NEEDS",
    "NOTE",
    "PROBLEM",
    "RULES",
    "Diagnosis",
    "Evidence",
    "FateRow",
    "FateSummary",
    "Rule",
    "Target",
    "Verdict",
    "diagnose",
    "fate_filter",
    "gather",
    "rule",
    "summarize_fates",
]
