"""Hostile data in the UI: what a site, a spider or a HAR file puts in a flow must
neither crash a screen nor freeze it.

- JSON bodies json or pygments choke on (nested 100,000 deep, a 5,000-digit
  number, NaN, lone surrogates) show raw, with a note saying why;
"""

from __future__ import annotations

import time

import pytest
from scrapy.http import Headers
from textual.geometry import Region

from tests.fakes import FakeSource
from workbench.core.body import pretty_json, render_body
from workbench.core.recorder import StoredBody
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.flow_detail import FlowDetailScreen

SIZE = (140, 36)
JSON = Headers({"Content-Type": "application/json"})
DEEP = "[" * 100_000 + "]" * 100_000
RAW_JSON = {  # body -> the note that says why it is shown raw
    DEEP: "JSON nested too deep to pretty-print; shown raw",
    '{"a":' * 50_000 + "1" + "}" * 50_000: "JSON nested too deep to pretty-print; shown raw",
    "[" + "9" * 5000 + "]": "JSON number too long to pretty-print; shown raw",
    "[-" + "9" * 5000 + "]": "JSON number too long to pretty-print; shown raw",
    "[1, NaN]": "JSON with NaN (not standard JSON); shown raw",
    '{"x": -Infinity}': "JSON with -Infinity (not standard JSON); shown raw",
    "[1e99999]": "JSON number out of a float's range; shown raw",
}


def widget_text(widget) -> str:
    """The text a widget draws, line by line."""
    size = widget.size
    return "\n".join(s.text for s in widget.render_lines(Region(0, 0, size.width, size.height)))


# -- 1. JSON that json or pygments choke on ---------------------------------------------


@pytest.mark.parametrize(("body", "note"), list(RAW_JSON.items()), ids=lambda v: v[:12])
def test_json_that_cannot_be_pretty_printed_is_shown_raw_with_a_note(body, note):
    shown = render_body("http://127.0.0.1/j", JSON, body.encode())
    assert shown.kind == "json" and note in shown.note
    assert shown.text == body[: len(shown.text)]  # the body as it came
    assert pretty_json(body) == (body, note)


def test_json_pretty_printing_never_raises_and_escapes_lone_surrogates():
    shown = render_body("http://127.0.0.1/j", JSON, b'{"k": "\\ud800", "ok": "\\ud83d\\ude00"}')
    assert shown.text == '{\n  "k": "\\ud800",\n  "ok": "😀"\n}' and not shown.note
    shown.text.encode("utf-8")  # a terminal can write it
    assert pretty_json("[1, 2") == ("[1, 2", "invalid JSON")
    assert pretty_json("{") == ("{", "invalid JSON")
    assert pretty_json('["]", "{{{"]')[0] == '[\n  "]",\n  "{{{"\n]'  # brackets in strings


def test_json_depth_is_bounded_and_its_pretty_form_too():
    shallow = "[" * 100 + "]" * 100
    assert pretty_json(shallow)[1] == ""  # 100 deep: still pretty-printed
    assert "too deep" in pretty_json("[" * 101 + "]" * 101)[1]
    # 400 wide rows of 90 deep: 18 MB pretty, 72 KB raw; the pretty form stops past the limit
    wide = "[" + ",".join(["[" * 90 + "1" + "]" * 90] * 400) + "]"
    began = time.perf_counter()
    text, note = pretty_json(wide, limit=100_000)
    assert 100_000 < len(text) < 200_000 and note == ""
    assert time.perf_counter() - began < 2.0


class JsonSource(FakeSource):
    """The api flow's body is one of the hostile JSON bodies."""

    def __init__(self, body: str) -> None:
        super().__init__("finished")
        self.json_body = body.encode()

    def body(self, flow_id: int) -> StoredBody | None:
        if flow_id == 11:  # /api/products?page=1, application/json
            return StoredBody(self.json_body, len(self.json_body), False)
        return super().body(flow_id)


@pytest.mark.parametrize("body", [DEEP, "[" + "9" * 5000 + "]", '["\\ud800", NaN]'],
                         ids=["deep", "digits", "surrogate-nan"])  # fmt: skip
async def test_the_body_tab_of_hostile_json_opens(body):
    source = JsonSource(body)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.push_screen(FlowDetailScreen(source, source.flow(11), tab="body"))
        await pilot.pause()
        shown = "\n".join(widget_text(w) for w in app.screen.query("#body-info, #body-view"))
        assert "shown raw" in shown and ("[[[[" in shown or "9999" in shown or "ud800" in shown)
