"""The headless browser of a scrapy-playwright crawl: pages (or contexts) opened
and never closed, and the stall they cause at scrapy-playwright's page limit.

The evidence is the Browser view's reading (``Source.browser()``,
:mod:`workbench.core.browser`), whose warning these verdicts carry to
Diagnose and the status line; Enter opens the Browser panel.
"""

from __future__ import annotations

from workbench.core.inspection.diagnosis.evidence import Evidence
from workbench.core.inspection.diagnosis.verdicts import PROBLEM, Target, Verdict, rule

DOC = "scrapy-playwright: Receiving Page objects in callbacks (close the page)"


def _flow(flow_id: int | None) -> str:
    return f"#{flow_id} " if flow_id is not None else ""


@rule("browser_pages", "browser pages or contexts left open")
def browser_pages(ev: Evidence) -> Verdict | None:
    """The Browser view's warning: pages held past their response, contexts left
    without pages, a context at PLAYWRIGHT_MAX_PAGES_PER_CONTEXT."""
    view = ev.browser
    if view is None or view.status or view.leak is None:
        return None
    leak = view.leak
    held = leak.held
    figures = [
        (
            "pages open",
            f"{view.open_pages} ({view.pages_opened} opened, {view.pages_closed} closed)",
        ),
        ("browser memory", f"{view.memory / 1_048_576:,.0f} MB (PSS)"),
    ]
    figures += [
        (f"page #{p.key}", f"opened by {_flow(p.flow_id)}{p.method} {p.request_url} → {p.callback}")
        for p in leak.oldest[:3]
    ]
    figures += [(f"context {c.name}", f"made by {c.opened_by}") for c in leak.contexts[:2]]
    if leak.stall:
        headline = "browser page limit: the crawl waits for a page to close"
        finding = f"{leak.message}; {leak.stall}."
    elif leak.at_close:
        headline = "browser pages left open until the end"
        finding = f"{leak.message}."
    else:
        headline = f"{held} browser pages left open" if held else "browser contexts left open"
        finding = f"{leak.message}: the browser's memory grows with them."
    return Verdict(
        "browser_pages",
        PROBLEM,
        headline,
        finding,
        tuple(figures),
        leak.advice,
        DOC,
        Target("browser", label="the Browser panel"),
        weight=2.0 if leak.stall else 1.0,
    )
