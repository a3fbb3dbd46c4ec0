"""What became of each request, as a user sees it: the Flows panel's Fate column and
dimmed rows, ~dropped and ~fate, a dropped request's detail, the links from a
duplicate to its original and from a redirect to its target (Pilot, FakeSource)."""

from __future__ import annotations

from tests.fakes import FakeSource
from tests.helpers.app import widget_text
from workbench.ui.app import WorkbenchApp
from workbench.ui.panels.flows import flow_style
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.widgets.record_table import RecordTable

SIZE = (150, 40)


def table_text(table: RecordTable) -> str:
    lines = (table.render_line(y) for y in range(table.size.height))
    return "\n".join("".join(s.text for s in line) for line in lines)


async def open_flow(app, pilot, flow_id: int) -> FlowDetailScreen:
    table = app.query_one("#flow-table", RecordTable)
    table.focus()
    table.cursor = next(i for i, f in enumerate(table.rows) if f.id == flow_id)
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, FlowDetailScreen) and app.screen.flow.id == flow_id
    return app.screen


async def test_dropped_requests_are_dimmed_rows_with_their_fate():
    source = FakeSource(fates=True)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one("#flow-table", RecordTable)
        assert len(table.rows) == 18
        text = table_text(table)
        assert "Fate" in text.splitlines()[0]
        for label in ("offsite", "depth", "robots", "pending", "retry 1/2"):
            assert label in text, label
        offsite = next(line for line in text.splitlines() if "ads.example" in line)
        assert "—" in offsite and "offsite" in offsite  # no status: never sent
        assert flow_style(source.flow(14)) == "dim" and flow_style(source.flow(1)) is None
        panel = app.query_one("FlowsPanel")
        subtitle = str(panel.border_subtitle)
        assert "never downloaded: 122 duplicate, 1 depth, 1 offsite, 2 other" in subtitle
        assert "120 of them counted, not kept (WORKBENCH_MAX_DROPPED)" in subtitle

        await pilot.press("f", *"~dropped", "enter")
        await pilot.pause()
        assert [f.id for f in table.rows] == [13, 14, 15, 16, 17, 18]
        await pilot.press("f", "ctrl+u", *"~fate 'retried|offsite'", "enter")
        await pilot.pause()
        assert [f.id for f in table.rows] == [5, 14]


async def test_a_duplicates_detail_says_who_dropped_it_and_opens_its_original():
    source = FakeSource(fates=True)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_flow(app, pilot, 13)
        title = widget_text(screen.query_one("#title"))
        assert "Flow #13" in title and "duplicate" in title
        request = widget_text(screen.query_one("#request-view"))
        assert "Never downloaded" in request
        assert "dropped as a duplicate of flow #7 by RFPDupeFilter" in request
        lines = {x.split("  ")[0]: x for x in request.splitlines()}
        assert "scrapy.dupefilters.RFPDupeFilter" in lines["Decided by"]
        assert "#7 200" in lines["Duplicate of"] and "(o opens it)" in lines["Duplicate of"]
        assert "User-Agent" in request  # the request as it was
        await pilot.press("2")
        await pilot.pause()
        response = widget_text(screen.query_one("#response-view"))
        assert "never reached the network" in response
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen) and app.screen.flow.id == 7
        await pilot.press("q", "q")
        await pilot.pause()
        screen = await open_flow(app, pilot, 14)
        request = widget_text(screen.query_one("#request-view"))
        assert "filtered offsite by OffsiteMiddleware: Filtered offsite request to" in request


async def test_a_redirect_links_to_what_became_of_its_target():
    source = FakeSource(fates=True)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_flow(app, pilot, 3)  # the 301
        await pilot.press("2")
        await pilot.pause()
        response = widget_text(screen.query_one("#response-view"))
        redirected = next(x for x in response.splitlines() if x.startswith("Redirected to"))
        assert "#17" in redirected and "duplicate" in redirected
        await pilot.press("4")
        await pilot.pause()
        produced = widget_text(screen.query_one("#produced-view"))
        line = next(x for x in produced.splitlines() if "/catalogue/page-1.html" in x)
        assert "duplicate" in line and "#17" in line
        await pilot.press("enter")  # the highlighted request: its flow
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen) and app.screen.flow.id == 17
        await pilot.press("o")  # and from the duplicate, the flow it duplicates
        await pilot.pause()
        assert app.screen.flow.id == 2


async def test_the_produced_tab_lists_each_request_with_its_fate():
    source = FakeSource(fates=True)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_flow(app, pilot, 2)  # the listing: three products, their fates
        await pilot.press("4")
        await pilot.pause()
        produced = widget_text(screen.query_one("#produced-view"))
        assert "Requests (3)" in produced
        lines = {n: x for x in produced.splitlines() for n in (1, 2, 3) if f"/product/{n}." in x}
        assert "200" in lines[2] and "#8" in lines[2]
        assert "✗" in lines[3]  # its callback failed
        await pilot.press("q")
        await pilot.pause()
        screen = await open_flow(app, pilot, 8)
        await pilot.press("4")
        await pilot.pause()
        produced = widget_text(screen.query_one("#produced-view"))
        assert "depth" in next(x for x in produced.splitlines() if "page-9" in x)
        await pilot.press("j", "enter")  # j/k move, as in the tables
        await pilot.pause()
        assert app.screen.flow.id == 15  # the request dropped as too deep
        await pilot.press("q")
        await pilot.pause()
        screen = app.screen
        await pilot.press("o")  # nothing links from a plain download: it says so
        await pilot.pause()
        assert app.screen is screen
