"""The selector playground: the headless evaluator and the screen."""

from __future__ import annotations

import json
import time

import pytest
import scrapy
from scrapy.http import Headers, HtmlResponse, TextResponse
from scrapy.http.response.json import JsonResponse
from textual.binding import Binding
from textual.widgets import Input, Static

from tests.selector_fakes import API_PAGE, PRODUCT_PAGE, PageSource
from workbench.core.inspection import selection as selectors
from workbench.core.inspection.selection import (
    MAX_SPANS,
    MAX_VALUES,
    VALUE_LIMIT,
    SelectorDocument,
    evaluate,
    pretty_json,
    python_line,
)
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.screens.selectors import SelectorScreen
from workbench.ui.widgets.body_view import BodyView

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

URL = "http://127.0.0.1:8000/product/1.html"
API = "http://127.0.0.1:8000/api/products?page=1"
HTML = Headers({"Content-Type": "text/html; charset=utf-8"})
JSON = Headers({"Content-Type": "application/json"})


def html_doc(body: bytes = PRODUCT_PAGE, headers: Headers | None = HTML) -> SelectorDocument:
    return SelectorDocument(URL, headers, body)


def in_shell(line: str, response: TextResponse) -> list:
    """Run a python_line the way a user would in scrapy shell."""
    return eval(line, {"response": response, "scrapy": scrapy})


def spanned(document: SelectorDocument, result) -> list[str]:
    text = document.view_text(result.view)
    return [text[start:end] for start, end in result.spans]


# -- each kind on HTML and JSON ---------------------------------------------------


def test_css_values_count_and_python_line():
    result = html_doc().evaluate("css", "ul.related a::text")
    assert result.ok and result.count == 3
    assert result.values == ("A Light in the Attic", "Tipping the Velvet", "Soumission")
    assert result.python_line == "response.css('ul.related a::text').getall()"


def test_xpath_attributes_and_computed_values():
    document = html_doc()
    hrefs = document.evaluate("xpath", "//ul/li/a/@href")
    assert hrefs.values == ("/product/2.html", "/product/3.html", "/product/4.html")
    assert document.evaluate("xpath", "count(//li)").values == ("3.0",)
    assert hrefs.python_line == "response.xpath('//ul/li/a/@href').getall()"


def test_regex_over_the_decoded_text_like_selector_re():
    document = html_doc()
    plain = document.evaluate("re", r"\d+\.\d\d")
    assert plain.values == ("12.50",)
    groups = document.evaluate("re", r"(\d+) (available|of)")
    assert groups.values == ("7", "available", "3", "of")  # groups flattened, like parsel
    named = document.evaluate("re", r"Rated (?P<extract>\d) of (\d)")
    assert named.values == ("3",)  # the "extract" group of the first match wins
    entities = document.evaluate("re", r"gardens &amp; \w+")
    assert entities.values == ("gardens &amp; silence",)  # &amp; is kept, as in parsel
    assert plain.python_line == (
        r"scrapy.Selector(text=response.text, type='text').re(r'\d+\.\d\d')"
    )


def test_jmespath_on_a_json_body_and_default_kind():
    document = SelectorDocument(API, JSON, API_PAGE)
    assert document.default_kind == "jmespath"
    assert html_doc().default_kind == "css"
    result = document.evaluate("jmespath", "products[*].name")
    assert result.values == ("The Silent Garden", "A Light in the Attic", "Tipping the Velvet")
    objects = document.evaluate("jmespath", "products[?price > `20`]")
    assert objects.count == 1
    assert objects.data[0]["name"] == "A Light in the Attic"  # real objects, for the shell
    assert json.loads(objects.values[0])["id"] == 2  # shown as compact JSON
    assert result.python_line == "response.jmespath('products[*].name').getall()"


def test_jmespath_on_html_says_it_needs_json():
    result = html_doc().evaluate("jmespath", "products")
    assert result.ok and result.count == 0
    assert "JSON" in result.note and "html" in result.note


def test_css_and_regex_on_a_json_body():
    document = SelectorDocument(API, JSON, API_PAGE)
    css = document.evaluate("css", "a")
    assert css.error == "This body is JSON: css needs HTML or XML (use jmespath)"
    names = document.evaluate("re", r'"name": "([^"]+)"')
    assert names.values[0] == "The Silent Garden" and names.view == "text"


def test_empty_expression_is_not_an_error():
    for kind in selectors.KINDS:
        result = html_doc().evaluate(kind, "")
        assert result.ok and result.count == 0 and result.values == ()


# -- errors: one useful line, never an exception -----------------------------------


@pytest.mark.parametrize(
    ("kind", "expression", "expected"),
    [
        ("css", "a[", "Invalid CSS selector: Expected ident or '*', got <EOF at 2>"),
        ("css", "p::nope", "Invalid CSS selector: The pseudo-element ::nope is unknown"),
        ("xpath", "//a[", "XPath error: Invalid expression in //a["),
        ("xpath", "count(", "XPath error: Invalid number of arguments in count("),
        ("re", "(", "Invalid regular expression: missing ), unterminated subpattern at position 0"),
        ("re", "a{2,1}", "Invalid regular expression: min repeat greater than max repeat"),
    ],
)
def test_invalid_html_selectors_give_the_parsers_message(kind, expression, expected):
    result = html_doc().evaluate(kind, expression)
    assert result.error is not None and result.error.startswith(expected)
    assert "\n" not in result.error and result.count == 0
    assert result.python_line  # still shown: it is what the user typed


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("products[", "Invalid jmespath expression: Incomplete expression (at position 9)"),
        ("nope(@)", "Unknown function: nope()"),
        ("abs(page, page)", "Expected 1 argument for function abs(), received 2"),
        ("products | | x", "invalid token: Parse error at column 11"),
    ],
)
def test_invalid_jmespath_gives_one_line(expression, expected):
    result = SelectorDocument(API, JSON, API_PAGE).evaluate("jmespath", expression)
    assert result.error is not None and result.error.startswith(expected), result.error
    assert "\n" not in result.error


def test_no_text_to_select_from():
    png = Headers({"Content-Type": "image/png"})
    binary = SelectorDocument("http://127.0.0.1:8000/logo.png", png, b"\x89PNG\x00\x01")
    assert not binary.selectable
    assert binary.evaluate("css", "a").error == "Nothing to select from: the body is binary"
    assert not SelectorDocument(URL, HTML, b"").selectable


# -- the Python line gives the same values in scrapy shell --------------------------


@pytest.mark.parametrize(
    ("kind", "expression"),
    [
        ("css", "p.price::text"),
        ("css", "li a::attr(href)"),
        ("css", "h1"),
        ("xpath", "//p[contains(@class, 'rating')]/@class"),
        ("xpath", '//a[text()="Soumission"]/text()'),
        ("xpath", "normalize-space(//p[@class='stock'])"),
        ("re", r"(\d+)\.(\d+)"),
        ("re", r"Rated (?P<extract>\d)"),
        ("re", r"gardens &amp; \w+"),
        ("re", 'it\'s "quoted"\\s+and\nnewline|\\x1b'),
        ("re", "\\"),  # invalid: still valid Python
    ],
)
def test_python_line_gives_the_same_values_on_html(kind, expression):
    response = HtmlResponse(URL, headers=HTML, body=PRODUCT_PAGE)
    result = evaluate(URL, HTML, PRODUCT_PAGE, kind, expression)
    compile(result.python_line, "<line>", "eval")  # any expression is valid Python
    if result.error:
        with pytest.raises(Exception):  # noqa: B017 (whatever the parser raises)
            in_shell(result.python_line, response)
        return
    expected = in_shell(result.python_line, response)
    assert list(result.data) == expected
    assert result.count == len(expected) > 0


@pytest.mark.parametrize(
    "expression", ["products[*].name", "products[0]", "page", "products[*].tags[]", "length(@)"]
)
def test_python_line_gives_the_same_values_on_json(expression):
    response = JsonResponse(API, headers=JSON, body=API_PAGE)
    result = evaluate(API, JSON, API_PAGE, "jmespath", expression)
    assert list(result.data) == in_shell(result.python_line, response)


def test_python_line_quotes_any_expression():
    import ast

    assert python_line("css", "a[title='x']") == """response.css("a[title='x']").getall()"""
    tricky = 'it\'s "both" \\d\n\x00'
    for kind in selectors.KINDS:
        tree = ast.parse(python_line(kind, tricky), mode="eval")
        literals = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
        assert tricky in literals, kind


# -- highlights -------------------------------------------------------------------


def test_regex_spans_are_exact():
    document = html_doc()
    result = document.evaluate("re", r"(\d+) (available|of)")
    assert spanned(document, result) == ["7", "available", "3", "of"]


def test_css_and_xpath_spans_point_at_the_elements_and_values():
    document = html_doc()
    assert spanned(document, document.evaluate("css", "li a")) == [
        '<a href="/product/2.html">',
        '<a href="/product/3.html">',
        '<a href="/product/4.html">',
    ]
    assert spanned(document, document.evaluate("css", "li a::attr(href)")) == [
        "/product/2.html",
        "/product/3.html",
        "/product/4.html",
    ]
    assert spanned(document, document.evaluate("xpath", "//h1/text()")) == ["The Silent Garden"]
    # text with an entity is found in its source form
    texts = spanned(document, document.evaluate("css", "nav::text"))
    assert texts == [" &gt; "]
    assert document.evaluate("xpath", "count(//a)").spans == ()  # computed: no position


def test_element_spans_on_repeated_tags_of_one_line_and_multiline_tags():
    body = b'<html><body><p>a</p><p>b</p><p>c</p><div\n  class="x"\n  id="y">d</div></body></html>'
    document = html_doc(body)
    assert spanned(document, document.evaluate("css", "p::text")) == ["a", "b", "c"]
    assert spanned(document, document.evaluate("css", "div")) == ['<div\n  class="x"\n  id="y">']


def test_jmespath_spans_in_the_pretty_json():
    document = SelectorDocument(API, JSON, API_PAGE)
    result = document.evaluate("jmespath", "products[*].name")
    assert result.view == "pretty"
    assert spanned(document, result) == [
        '"The Silent Garden"',
        '"A Light in the Attic"',
        '"Tipping the Velvet"',
    ]
    tags = document.evaluate("jmespath", "products[0].tags")  # a list is spread, as in parsel
    assert spanned(document, tags) == ['"quiet"', '"garden"']
    first = document.evaluate("jmespath", "products[0]")
    assert json.loads(spanned(document, first)[0])["name"] == "The Silent Garden"


def test_pretty_json_matches_json_dumps():
    data = json.loads(API_PAGE)
    data["nested"] = {"empty": {}, "list": [], "deep": [[1, [2, {"é": None}]]], "f": 1e-7}
    text, spans = pretty_json(data)
    assert text == json.dumps(data, indent=2, ensure_ascii=False)
    start, end = spans[id(data["nested"]["deep"])][0]
    assert json.loads(text[start:end]) == data["nested"]["deep"]


# -- decoding: Scrapy's rules -----------------------------------------------------


def test_cp1252_page_is_decoded_as_scrapy_does():
    body = (
        b"<html><head><meta charset='windows-1252'></head>"
        b"<body><p class='price'>Caf\xe9 \x80 5 \x93quoted\x94</p></body></html>"
    )
    document = SelectorDocument(URL, Headers({"Content-Type": "text/html"}), body)
    assert document.encoding() == "cp1252"
    result = document.evaluate("css", "p.price::text")
    assert result.values == ("Café € 5 \u201cquoted\u201d",)
    regex = document.evaluate("re", "€ (\\d)")
    assert regex.values == ("5",)
    assert spanned(document, regex) == ["5"]
    response = HtmlResponse(URL, headers=Headers({"Content-Type": "text/html"}), body=body)
    assert in_shell(result.python_line, response) == list(result.values)


# -- bounds ---------------------------------------------------------------------------


def test_large_body_results_are_bounded():
    items = b"".join(b"<li class='i'>item %d</li>\n" % i for i in range(70_000))
    long_text = b"x" * 200_000
    body = b"<html><body><ul>" + items + b"</ul><p>" + long_text + b"</p></body></html>"
    assert len(body) > 1_500_000
    document = html_doc(body)
    began = time.perf_counter()
    result = document.evaluate("css", "li::text")
    assert result.count == 70_000 and result.truncated
    assert len(result.values) == len(result.data) == MAX_VALUES
    assert len(result.spans) == MAX_SPANS
    assert result.values[-1] == f"item {MAX_VALUES - 1}"
    # spans past line 65535, where libxml2 stops counting, are still found in order
    last = document.evaluate("xpath", "//li[position() > 69990]/text()")
    assert spanned(document, last) == [f"item {i}" for i in range(69990, 70_000)]
    long = document.evaluate("css", "p::text")
    assert len(long.values[0]) == VALUE_LIMIT and long.values[0].endswith("…")
    assert len(long.data[0]) == 200_000  # the real value, for the shell
    regex = document.evaluate("re", r"item \d+")
    assert regex.count == 70_000 and len(regex.values) == MAX_VALUES
    assert time.perf_counter() - began < 30  # generous: a shared 2-core machine


def test_regex_match_count_is_capped(monkeypatch):
    from workbench.core.inspection.selection import document

    monkeypatch.setattr(document, "MAX_MATCHES", 100)  # where the regex evaluation reads it
    result = html_doc(b"<p>" + b"a" * 1000 + b"</p>").evaluate("re", "a")
    assert result.count == 100 and result.count_capped


# -- the screen (Pilot) -------------------------------------------------------------------


async def settle(pilot) -> None:
    """Let the debounce fire (Enter evaluates at once) and the worker finish."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def wait_until(pilot, predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)
        await pilot.app.workers.wait_for_complete()


def shown(screen: SelectorScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def body_lines(screen: SelectorScreen) -> list[str]:
    view = screen.query_one(BodyView)
    return [
        "".join(segment.text for segment in view.render_line(y))
        for y in range(view.scrollable_content_region.height)
    ]


async def open_selectors(pilot, ups: int = 5) -> SelectorScreen:
    """Open flow #7 (/product/1.html) in the detail screen, then press p."""
    await pilot.pause()
    for _ in range(ups):
        await pilot.press("k")
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(pilot.app.screen, FlowDetailScreen)
    await pilot.press("p")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, SelectorScreen)
    return screen


async def test_typing_a_selector_shows_count_values_and_highlights():
    app = WorkbenchApp(PageSource(), autostart=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_selectors(pilot)
        assert screen.flow.id == 7 and screen.kind == "css"
        assert isinstance(app.focused, Input)
        await pilot.press(*"li a::text", "enter")
        await settle(pilot)
        summary = shown(screen, "#summary")
        assert "3 matches" in summary
        assert "response.css('li a::text').getall()" in summary
        values = shown(screen, "#values").splitlines()
        assert values == ["1 A Light in the Attic", "2 Tipping the Velvet", "3 Soumission"]
        view = screen.query_one(BodyView)
        assert [screen.document.text()[a:b] for a, b in view.spans] == [
            "A Light in the Attic",
            "Tipping the Velvet",
            "Soumission",
        ]
        assert "3 highlighted" in str(view.border_subtitle)


async def test_results_follow_typing_after_the_debounce():
    app = WorkbenchApp(PageSource(), autostart=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_selectors(pilot)
        await pilot.press(*"h1::text")  # no Enter: the debounce evaluates
        await wait_until(pilot, lambda: screen.valid is not None and screen.valid.count == 1)
        assert shown(screen, "#values") == "1 The Silent Garden"


async def test_invalid_xpath_shows_an_inline_error_and_clears_the_old_result():
    app = WorkbenchApp(PageSource(), autostart=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_selectors(pilot)
        await pilot.press("ctrl+t")
        assert screen.kind == "xpath"
        await pilot.press(*"//h1/text()", "enter")
        await settle(pilot)
        assert shown(screen, "#values") == "1 The Silent Garden"
        error = screen.query_one("#error", Static)
        assert not error.display
        assert len(screen.query_one(BodyView).spans) == 1
        await pilot.press("[", "enter")
        await settle(pilot)
        assert screen.query_one(Input).value == "//h1/text()["
        assert error.display
        assert "XPath error: Invalid expression in //h1/text()[" in shown(screen, "#error")
        assert shown(screen, "#values") == ""  # not the previous expression's matches
        assert shown(screen, "#summary") == "No results: the expression is invalid."
        assert screen.query_one(BodyView).spans == ()  # nor its highlights
        await pilot.press("backspace", "enter")
        await settle(pilot)
        assert not error.display
        assert shown(screen, "#values") == "1 The Silent Garden"
        assert len(screen.query_one(BodyView).spans) == 1


async def test_kinds_cycle_with_a_visible_indicator():
    app = WorkbenchApp(PageSource(), autostart=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_selectors(pilot)
        seen = []
        for _ in range(4):
            seen.append(screen.kind)
            indicator = screen.query_one("#kinds", Static).content
            active = [s for s in indicator.spans if "reverse" in str(s.style)]
            assert len(active) == 1
            assert indicator.plain[active[0].start : active[0].end].strip() == screen.kind
            await pilot.press("ctrl+t")
            await settle(pilot)
        assert seen == ["css", "xpath", "re", "jmespath"] and screen.kind == "css"
        await pilot.press("ctrl+t", "ctrl+t")
        await pilot.press(*r"(\d+) available", "enter")
        await settle(pilot)
        assert shown(screen, "#values") == "1 7"


async def test_json_flow_starts_in_jmespath():
    app = WorkbenchApp(PageSource(), autostart=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_selectors(pilot, ups=1)
        assert screen.flow.id == 11 and screen.kind == "jmespath"
        await pilot.press(*"products[*].id", "enter")
        await settle(pilot)
        assert shown(screen, "#values").splitlines() == ["1 1", "2 2", "3 3"]
        assert any('"products": [' in line for line in body_lines(screen))  # pretty


async def test_ctrl_y_copies_the_python_line_and_offers_it_to_the_shell():
    app = WorkbenchApp(PageSource(), autostart=False)
    offered = []
    app.offer_to_shell = lambda line, value: offered.append((line, value))  # type: ignore[attr-defined]
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_selectors(pilot)
        await pilot.press(*"h1::text", "enter")
        await settle(pilot)
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert app.clipboard == "response.css('h1::text').getall()"
        assert offered == [("response.css('h1::text').getall()", ["The Silent Garden"])]
        assert screen.query_one(Input).value == "h1::text"  # ctrl+y did not type


async def test_ctrl_y_without_offer_to_shell_still_copies():
    app = WorkbenchApp(PageSource(), autostart=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_selectors(pilot)
        await pilot.press("ctrl+t", "ctrl+t", *r"\d+", "ctrl+y")
        await pilot.pause()
        assert app.clipboard == r"scrapy.Selector(text=response.text, type='text').re(r'\d+')"


async def test_escape_goes_back_even_from_the_input():
    app = WorkbenchApp(PageSource(), autostart=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_selectors(pilot)
        await pilot.press(*"q")  # a letter goes into the input, it does not leave
        assert isinstance(app.screen, SelectorScreen)
        assert isinstance(app.focused, Input)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen)


async def test_p_on_the_flows_table_opens_the_selected_flow():
    app = WorkbenchApp(PageSource(), autostart=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        for _ in range(5):
            await pilot.press("k")
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, SelectorScreen) and app.screen.flow.id == 7


@pytest.mark.parametrize(
    ("ups", "missing", "message"),
    [
        (2, (), "the download failed"),  # flow #10: a timeout
        (5, (7,), "no longer kept"),  # evicted from the body store
    ],
)
async def test_no_stored_body_shows_why(ups, missing, message):
    app = WorkbenchApp(PageSource(missing=missing), autostart=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        for _ in range(ups):
            await pilot.press("k")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SelectorScreen)
        assert message in shown(screen, "#no-body")
        assert not screen.query(Input)
        await pilot.press("ctrl+y")  # harmless
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen)


async def test_untrusted_text_never_reaches_the_terminal_raw():
    app = WorkbenchApp(PageSource(), autostart=False)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_selectors(pilot)
        await pilot.press(*"p.description::text", "enter")
        await settle(pilot)
        assert "\x1b" in screen.valid.values[0]  # the data is the data...
        values = shown(screen, "#values")
        assert "\x1b" not in values and "\x07" not in values
        assert "\\x1b]0;PWNED\\x07" in values  # ...shown as visible escapes
        lines = body_lines(screen)
        assert any("\\x1b]0;PWNED\\x07" in line for line in lines)
        assert not any("\x1b" in line or "\x07" in line for line in lines)


def test_screen_bindings_have_actions_and_descriptions():
    for binding in SelectorScreen.BINDINGS:
        assert isinstance(binding, Binding)
        assert callable(getattr(SelectorScreen, f"action_{binding.action}", None))
        assert binding.description and binding.tooltip
    keys = {b.key for b in SelectorScreen.BINDINGS}
    assert {"escape", "ctrl+t", "ctrl+y"} <= keys
    flow_keys = {b.key: b.action for b in FlowDetailScreen.BINDINGS}
    assert flow_keys["p"] == "selectors"
    help_keys = {
        b.key for _, bindings in WorkbenchApp(PageSource()).help_sections() for b in bindings
    }
    assert keys <= help_keys


def test_core_selectors_does_not_import_textual():
    import subprocess
    import sys

    code = "import sys, workbench.core.inspection.selection; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
