"""What changed since the last run, as a verdict: the changes for the worse between
this crawl and the last kept run of its spider
(:mod:`workbench.core.recording.run_changes`), the Stats panel's section in one
finding.  Fewer items than last time, once the crawl is over, is a problem; any
other change for the worse (or fewer items per page while it runs) a note: the
other rules say why (offsite, errors, fields), this one that it is new."""

from __future__ import annotations

from workbench.core.inspection.diagnosis.evidence import Evidence
from workbench.core.inspection.diagnosis.verdicts import NOTE, PROBLEM, Target, Verdict, rule
from workbench.core.recording.run_changes import Change, clock
from workbench.core.recording.runs import ITEMS, when

SHOWN = 6  # changes in the evidence
WORDS = 60  # characters of a change in the headline


@rule("last-run", "what changed since the last run", needs=("last_run",))
def since_the_last_run(ev: Evidence) -> Verdict | None:
    comparison = ev.runs
    assert comparison is not None
    if comparison.too_early:
        return None
    worse = comparison.worse
    if not worse:
        return None
    previous = comparison.previous
    items = next((c for c in worse if c.subject == ITEMS), None)
    first = items or worse[0]
    took = f" in {clock(previous.duration)}" if previous.duration is not None else ""
    figures = [
        ("last run", f"{when(previous.started, ev.snapshot.time)}: {previous.pages:,} pages, "
                     f"{previous.items:,} items{took}, {previous.finish_reason or '?'}"),
    ]  # fmt: skip
    figures += [(c.kind, c.text) for c in worse[:SHOWN]]
    if len(worse) > SHOWN:
        figures.append(("and", f"{len(worse) - SHOWN} more (workbench runs --json)"))
    so_far = " so far" if comparison.live else ""
    return Verdict(
        "last-run",
        PROBLEM if items is not None and not comparison.live else NOTE,
        f"{_words(first)} since the last run",
        f"Compared with the last run of this spider, {len(worse)} thing(s) changed for the "
        f"worse{so_far}: " + "; ".join(c.text for c in worse[:3]) + ".",
        tuple(figures),
        "none by itself: what changed since then in the spider, the site or the settings "
        "(the other verdicts say where)",
        "workbench docs, What changed since the last run",
        Target("stats", label="the Stats panel's comparison with the last run"),
        weight=0.1,  # after the verdicts that say why
    )


def _words(change: Change) -> str:
    """A change in a few words: ``items -25%``, ``errors appeared``, ``new error …``."""
    if change.kind == "count" and "(none before)" in change.text:
        return change.text.split(":")[0] + " appeared"
    words = change.text.split(" (")[0]
    return words if len(words) <= WORDS else words[: WORDS - 1] + "…"
