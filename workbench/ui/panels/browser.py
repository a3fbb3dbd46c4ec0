"""Browser: the headless browser of a scrapy-playwright crawl.

Its pages (oldest open first, which request opened each, how long each has
been open), its contexts, its processes' memory, open pages and memory over
time, and the leak warning when pages are opened and never closed: the Refs
panel's leak hint for the browser.  Enter opens the flow of the request that
opened the page; ``w`` saves a screenshot of an open page."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from workbench.core.browser.model import BrowserView, PageRow, asks_for_browser
from workbench.core.formats.sanitize import clean_line
from workbench.core.sources.base import Snapshot, Source
from workbench.ui import flow_actions
from workbench.ui import format as fmt
from workbench.ui.panels.base import Panel
from workbench.ui.widgets.record_table import Column, RecordTable
from workbench.ui.widgets.time_chart import TimeChart

STATE_STYLES = {
    "held": "bold red",
    "loading": "yellow",
    "open": "green",
    "closed": "dim",
    "shutdown": "red",
    "crashed": "bold magenta",
}
STATE_WORDS = {"shutdown": "left open"}  # closed by scrapy-playwright when the crawl closed


def page_age(row: PageRow, now: float) -> str:
    return fmt.duration((row.closed if row.closed is not None else now) - row.opened)


def page_cells(row: PageRow, now: float) -> list[Any]:
    flow = f"#{row.flow_id} " if row.flow_id is not None else ""
    opened_by = f"{flow}{row.method} {row.request_url}"
    moved = row.url != row.request_url
    return [
        f"#{row.key}",
        Text(STATE_WORDS.get(row.state, row.state), style=STATE_STYLES.get(row.state, "")),
        page_age(row, now),
        clean_line(row.context, 30),
        clean_line(opened_by, 300),
        clean_line(row.callback, 30),
        Text(clean_line(row.url, 300), style="cyan" if moved else ""),
        str(row.console) if row.console else "",
        Text(str(row.errors), style="red") if row.errors else "",
    ]


SHORT = 26  # rows: a panel shorter than this shows no charts and a shorter warning


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def megabytes(value: float) -> str:
    return f"{value:,.0f} MB"


class BrowserPanel(Panel):
    TITLE = "Browser"
    MIN_REFRESH = 1.0  # the processes are read every two seconds

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "w",
            "screenshot",
            "Screenshot",
            tooltip="Save a PNG of the selected open page (one the spider still holds)",
        ),
    ]

    DEFAULT_CSS = """
    BrowserPanel #browser-hint { height: auto; max-height: 8; color: $text;
                                 background: $error 20%; padding: 0 1; display: none;
                                 text-wrap: nowrap; text-overflow: ellipsis; }
    BrowserPanel #browser-hint.-leak { display: block; }
    BrowserPanel #browser-top { height: 8; }
    BrowserPanel #browser-charts { width: 2fr; }
    BrowserPanel #browser-pages-chart, BrowserPanel #browser-memory-chart { height: 4; }
    BrowserPanel #browser-about { width: 1fr; min-width: 30; padding: 0 1; }
    BrowserPanel #browser-status { height: auto; padding: 1 1; display: none; }
    BrowserPanel #browser-status.-shown { display: block; }
    BrowserPanel #browser-table { height: 1fr; }
    """

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.view: BrowserView | None = None
        self._shown: tuple[Any, ...] | None = None
        self._hint_lines = 0
        self._now = time.time()

    def compose(self) -> Any:
        yield Static("", id="browser-hint")
        yield Static("", id="browser-status")
        with Horizontal(id="browser-top"):
            with Vertical(id="browser-charts"):
                yield TimeChart("Open pages", fmt.number, "magenta", id="browser-pages-chart")
                yield TimeChart(
                    "Browser memory (PSS)", megabytes, "cyan", id="browser-memory-chart"
                )
            yield Static("", id="browser-about")
        yield RecordTable(
            [
                Column("Page", 5),
                Column("State", 9),
                Column("Open for", 8, "right"),
                Column("Context", 10, drop=2),
                Column("Opened by (flow, request)", None, min_width=24, weight=2),
                Column("Callback", 12, drop=3),
                Column("URL now", None, min_width=16, drop=5),
                Column("Log", 4, "right", drop=4),
                Column("Err", 4, "right"),
            ],
            lambda row: page_cells(row, self._now),
            row_key=lambda r: r.key,
            row_version=lambda r: (
                r.state,
                r.closed,
                r.console,
                r.errors,
                r.url,
                r.flow_id,
                int(self._now - r.opened),
            ),
            id="browser-table",
        )

    def on_mount(self) -> None:
        self.query_one("#browser-table", RecordTable).follow = False

    # -- refresh -------------------------------------------------------------------

    def refresh_from(self, snapshot: Snapshot) -> None:
        view = self.source.browser()
        self._now = view.time
        shown = (
            None if view.status else int(view.time),  # the pages' ages (no pages: no ages)
            view.status,
            len(view.pages),
            view.pages_closed,
            len(view.series),
            view.leak.message if view.leak else None,
            view.screenshots,
        )
        if shown == self._shown:
            return
        self._shown = shown
        self.view = view
        status = self.query_one("#browser-status", Static)
        status.set_class(bool(view.status), "-shown")
        self.query_one("#browser-top").display = self._charts_fit()
        if view.status:
            status.update(Text(clean_line(view.status, 500), style="italic"))
            self.set_subtitle("no browser")
            return
        table = self.query_one("#browser-table", RecordTable)
        first = not table.rows and view.pages
        table.set_rows(list(view.pages))
        if first:
            table.action_first()
        self._show_charts(view)
        self._show_about(view)
        self._show_hint(view)
        self.set_subtitle(
            f"{plural(view.open_pages, 'open page')} · {plural(view.open_contexts, 'context')} · "
            f"{view.pages_opened} opened, {view.pages_closed} closed · "
            f"{megabytes(view.memory / 1_048_576)} · Enter: the flow · w: screenshot"
        )

    def _show_charts(self, view: BrowserView) -> None:
        series = view.series
        pages = self.query_one("#browser-pages-chart", TimeChart)
        memory = self.query_one("#browser-memory-chart", TimeChart)
        if not series:
            pages.set_data([], 0.0, 1.0)
            memory.set_data([], 0.0, 1.0)
            return
        now = series[-1].time
        span = fmt.duration(now - series[0].time)
        peak = max(p.pages for p in series)
        pages.set_data(
            [(p.time, float(p.pages)) for p in series],
            now,
            0,
            f"now {series[-1].pages}, peak {peak} · last {span}",
        )
        values = [(p.time, p.memory / 1_048_576) for p in series if p.memory]
        memory.set_data(values, now, 0, f"last {span}" if values else "not read yet")

    def _show_about(self, view: BrowserView) -> None:
        text = Text()
        text.append(clean_line(view.browser, 200) + "\n", style="bold")
        open_contexts = [c for c in view.contexts if c.closed is None]
        text.append(f"Contexts open: {len(open_contexts)}\n")
        for c in open_contexts[:3]:
            by = f"#{c.flow_id} " if c.flow_id is not None else ""
            text.append(f"  {clean_line(c.name, 24)}", style="bold")
            text.append(f" {c.pages_open} pages, by {by}{clean_line(c.opened_by, 60)}\n")
        if len(open_contexts) > 3:
            text.append(f"  … {len(open_contexts) - 3} more\n", style="dim")
        processes = view.processes
        text.append(f"Processes: {len(processes)}, {megabytes(view.memory / 1_048_576)} PSS\n")
        kinds: dict[str, int] = {}
        for p in processes:
            kinds[p.kind] = kinds.get(p.kind, 0) + p.pss
        if kinds:
            text.append(
                "  " + ", ".join(f"{k} {v / 1_048_576:,.0f}" for k, v in kinds.items()) + " MB\n",
                style="dim",
            )
        if view.screenshots:
            text.append("Saved: ", style="bold")
            text.append(clean_line(view.screenshots[-1], 300) + "\n", style="cyan")
        self.query_one("#browser-about", Static).update(text)

    def _show_hint(self, view: BrowserView) -> None:
        """The warning: what is left open, what to do, the requests that opened the
        oldest pages (one line each, cut, never wrapped; fewer in a short panel)."""
        hint = self.query_one("#browser-hint", Static)
        leak = view.leak
        hint.set_class(leak is not None, "-leak")
        if leak is None:
            self._hint_lines = 0
            return
        short = self._short()
        title = "⚠ Pages left open: " if leak.oldest else "⚠ Contexts left open: "
        lines = [Text.assemble((title, "bold red"), clean_line(leak.message, 600))]
        if leak.stall:
            lines.append(
                Text.assemble(("  the crawl stalls: ", "bold red"), clean_line(leak.stall, 600))
            )
        if leak.advice and not short:
            lines.append(Text("  fix: " + clean_line(leak.advice, 600), style="italic"))
        for row in leak.oldest[: 1 if short else 3]:
            flow = f"#{row.flow_id} " if row.flow_id is not None else ""
            lines.append(
                Text.assemble(
                    (f"  page #{row.key}, open {page_age(row, view.time)}, opened by ", "dim"),
                    (f"{flow}{clean_line(row.method, 10)} ", "bold"),
                    clean_line(row.request_url, 300),
                    (f" → {clean_line(row.callback, 40)}", "dim"),
                )
            )
        for context in leak.contexts[: 0 if short else 2]:
            lines.append(
                Text(
                    f"  context {clean_line(context.name, 40)}, made by "
                    f"{clean_line(context.opened_by, 200)}"
                )
            )
        text = Text("\n").join(lines)
        text.no_wrap = True  # one line each, cut at the panel's edge
        text.overflow = "ellipsis"
        # its height set, not worked out (auto): a change made from on_resize, in the
        # middle of a layout pass, was not laid out (the short panel's two lines
        # stayed five high)
        hint.update(text, layout=False)
        if len(lines) != self._hint_lines:
            hint.styles.height = len(lines)
        self._hint_lines = len(lines)

    def on_resize(self) -> None:
        """A short panel leaves the charts out: the pages' table keeps its rows."""
        self.query_one("#browser-top").display = self._charts_fit()
        if self.view is not None:
            self._show_hint(self.view)

    def _short(self) -> bool:
        return 0 < self.size.height < SHORT  # 0: not laid out yet

    def _charts_fit(self) -> bool:
        return not self._short() and not (self.view is not None and self.view.status)

    # -- keys --------------------------------------------------------------------------

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        if event.table.id != "browser-table":
            return
        event.stop()
        row: PageRow = event.record
        if row.flow_id is None:
            self.app.notify(
                f"Page #{row.key}'s request has no flow yet (still loading).", timeout=4
            )
            return
        flow_actions.open_flow(self.app, self.source, row.flow_id)

    def action_screenshot(self) -> None:
        table = self.query_one("#browser-table", RecordTable)
        row: PageRow | None = table.current()
        if row is None:
            self.app.notify("No page selected.", severity="warning", timeout=4)
            return
        if not row.is_open:
            self.app.notify(
                f"Page #{row.key} is closed: only an open page (one the spider holds) can be shot.",
                severity="warning",
                timeout=5,
            )
            return
        self.app.notify(f"Taking a screenshot of page #{row.key}…", timeout=3)
        self.run_worker(self._shoot(row.key), group="browser-shot", exclusive=True)

    async def _shoot(self, key: int) -> None:
        try:
            path = await self.source.browser_screenshot(key)
        except Exception as exc:  # a closed page, a refusing source, Playwright's error
            self.app.notify(
                clean_line(f"{exc}", 400), title="No screenshot", severity="error", markup=False
            )
            return
        self._shown = None  # show the path at once
        self.app.notify(clean_line(path, 400), title=f"Saved page #{key}", timeout=8, markup=False)


def browser_part(source: Source, flow: Any) -> list[Any]:
    """The flow detail's Response tab: how the browser fetched it (its page, the
    page's final URL, its console messages and page errors); nothing for a
    request that did not go through the browser."""
    fetch = source.browser_fetch(flow.id)
    if fetch is None and not asks_for_browser(flow.meta):
        return []
    heading = Text("\nFetched by the headless browser (scrapy-playwright)", style="bold underline")
    if fetch is None:
        return [
            heading,
            Text(
                "meta playwright=True; the browser's page is not known here "
                "(not kept, or another source)",
                style="dim",
            ),
        ]
    state = STATE_WORDS.get(fetch.page_state, fetch.page_state)
    when = (
        f"closed after {fmt.duration(fetch.closed - fetch.opened)}"
        if fetch.closed
        else f"open for {fmt.duration((fetch.time or time.time()) - fetch.opened)}"
    )
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_row(
        "Page",
        Text(f"#{fetch.page_key} in context {clean_line(fetch.context, 60)}, {state} ({when})"),
    )
    table.add_row("Requested", Text(clean_line(fetch.requested_url, 2000)))
    moved = fetch.final_url != fetch.requested_url
    table.add_row(
        "Final URL", Text(clean_line(fetch.final_url, 2000), style="bold cyan" if moved else "")
    )
    shown = len(fetch.console)
    count = f"{fetch.console_total} messages, {fetch.errors_total} page errors"
    if shown < fetch.console_total:
        count += f" ({shown} kept)"
    table.add_row("Console", Text(count, style="red" if fetch.errors_total else ""))
    lines = [heading, table]
    for line in fetch.console:
        error = line.kind in ("pageerror", "error")
        lines.append(
            Text.assemble(
                (f"  {fmt.clock(line.time)} ", "dim"),
                (f"{clean_line(line.kind, 12):<9} ", "bold red" if error else "bold"),
                clean_line(line.text, 1000),
                (f"  {clean_line(line.where, 300)}" if line.where else "", "dim"),
            )
        )
    return lines
