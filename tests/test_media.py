"""Media pipelines: the files pipeline's downloads are flows, marked as media,
with where each file was stored."""

from __future__ import annotations

import asyncio
from pathlib import Path

import scrapy

from tests.conftest import demo_settings
from tests.helpers.app import widget_text
from workbench.core.control.host import CrawlHost
from workbench.core.inspection.filters import parse_filter
from workbench.core.sources.local import LocalSource
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.widgets.record_table import RecordTable


class FilesSpider(scrapy.Spider):
    name = "files"

    async def start(self):
        yield scrapy.Request(self.url)

    def parse(self, response):
        yield {"page": response.url, "file_urls": [response.urljoin("static/logo.png"),
                                                   response.urljoin("missing.png")]}  # fmt: skip


def crawl(demo_url: str, store: Path) -> CrawlHost:
    return CrawlHost(
        demo_settings(
            ITEM_PIPELINES={"scrapy.pipelines.files.FilesPipeline": 1},
            FILES_STORE=str(store),
        ),
        FilesSpider,
        {"url": demo_url},
    )


async def test_files_pipeline_downloads_are_media_flows_with_where_they_went(demo_url, tmp_path):
    host = crawl(demo_url, tmp_path / "files")
    source = LocalSource(host)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(160, 36)) as pilot:
        await source.start()
        await asyncio.wait_for(host.wait(), 60)
        app.refresh_panels()
        await pilot.pause()
        flows = {f.url.rsplit("/", 1)[1]: f for f in source.flows_since(0)}
        logo = flows["logo.png"]
        assert logo.callback == "NO_CALLBACK" and logo.status == 200
        path, _, status = logo.stored.rpartition(" ")
        assert status == "(downloaded)" and Path(path).is_file()
        assert Path(path).parent == tmp_path / "files" / "full"
        assert Path(path).read_bytes()[:4] == b"\x89PNG"
        assert flows["missing.png"].stored is None  # a 404: the pipeline stored nothing
        media = parse_filter("~media")
        assert [f for f in source.flows_since(0) if media(f)] == [logo]
        table = app.query_one("#flow-table", RecordTable)
        row = table.rows.index(logo)
        line = "".join(s.text for s in table.render_line(row + 1 - table.scroll_offset.y))
        assert "media" in line and "logo.png" in line
        table.cursor = row
        await pilot.press("enter", "2")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen)
        text = widget_text(app.screen.query_one("#response-view"))
        assert "Stored" in text and "(downloaded)" in text
    host.close()
