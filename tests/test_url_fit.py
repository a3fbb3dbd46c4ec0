"""URLs in narrow columns keep what tells rows apart (ui/format.py's fit_url and
UrlFit): the shared origin or the scheme goes first, then the middle, never the end."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from workbench.ui import format as fmt

ORIGIN = "http://127.0.0.1:8123"
URLS = [f"{ORIGIN}/product/{n}.html?sort=price&page={n}" for n in range(8, 13)]


def test_a_url_that_fits_is_whole():
    assert fmt.fit_url(URLS[0], 200) == URLS[0]
    # and stays whole only when every URL of the column fits: rows alike
    assert fmt.fit_url(f"{ORIGIN}/a", 30, ORIGIN, longest=60) == "/a"


def test_the_shared_origin_goes_first():
    assert fmt.fit_url(URLS[0], 40, ORIGIN, longest=50) == "/product/8.html?sort=price&page=8"


def test_without_a_shared_origin_the_scheme_goes():
    assert fmt.fit_url("https://shop.example/cart", 20) == "shop.example/cart"


@pytest.mark.parametrize("width", [12, 16, 20, 24])
def test_the_middle_goes_never_the_end(width):
    fitted = [fmt.fit_url(url, width, ORIGIN, 60) for url in URLS]
    assert len(set(fitted)) == len(URLS), fitted  # every row still tells its URL apart
    for url, text in zip(URLS, fitted, strict=True):
        assert cell_len(text) <= width
        assert "…" in text and url.endswith(text.split("…")[-1])
        assert url[len(ORIGIN) :].startswith(text.split("…")[0])


def test_the_old_way_lost_the_path():
    """What the issue saw: cut at the end, every row reads the same."""
    assert len({url[:15] for url in URLS}) == 1
    assert len({fmt.fit_url(url, 15, ORIGIN, 60) for url in URLS}) == len(URLS)


def test_wide_characters_and_tiny_widths():
    url = "http://例え.jp/商品/番号/12345"
    for width in range(0, 30):
        text = fmt.fit_url(url, width)
        assert cell_len(text) <= width
    assert fmt.fit_url(url, 1) == "…"
    assert fmt.fit_url(url, 0) == ""


def test_origin_of():
    assert fmt.origin_of("http://127.0.0.1:8123/x?y") == ORIGIN
    assert fmt.origin_of("https://h.example?q=1") == "https://h.example"
    assert fmt.origin_of("https://h.example") == "https://h.example"
    assert fmt.origin_of("data:text/html,hi") == ""


def test_url_fit_knows_what_the_rows_share():
    urls = fmt.UrlFit()
    assert urls.see(URLS)  # the fitting changed: the table restyles
    assert urls.shared == ORIGIN
    assert not urls.see(URLS[:1])  # nothing new
    cell = urls.cell(URLS[0])
    assert cell.text(20).plain == "/produ…=price&page=8"
    assert urls.header("URL").text(40).plain == f"URL on {ORIGIN}"
    assert urls.header("URL").text(21).plain == "URL on 127.0.0.1:8123"
    assert urls.header("URL").text(10).plain == "URL"
    assert urls.header("URL").text(200).plain == "URL"  # rows whole: no origin to name
    assert urls.see(["https://other.example/a"])
    assert urls.shared == ""
    assert urls.cell(URLS[0]).text(20).plain == "127.0.…=price&page=8"  # its scheme went
    urls.reset()
    assert urls.shared == "" and urls.longest == 0


def test_a_url_cell_is_sanitised():
    urls = fmt.UrlFit()
    hostile = f"{ORIGIN}/evil\x1b]0;PWNED\x07.html"
    urls.see([hostile])
    for width in (10, 20, 200):
        assert "\x1b" not in urls.cell(hostile).text(width).plain
        assert "\x1b" not in fmt.url_cell(hostile, "(+2) ").text(width).plain


def test_a_single_url_cell_keeps_its_prefix():
    cell = fmt.url_cell(URLS[0], "(+2, Enter) ")
    assert cell.text(200).plain == "(+2, Enter) " + URLS[0]
    narrow = cell.text(30).plain
    assert narrow.startswith("(+2, Enter) 127") and narrow.endswith("page=8")
    assert cell_len(cell.text(5).plain) <= 5


def test_log_lines_lose_the_shared_origin_alike():
    lines = [
        f"Crawled (200) <GET {ORIGIN}/product/8.html> (referer: {ORIGIN}/catalogue/1.html)",
        f"Scraped from <200 {ORIGIN}/product/8.html>\n{{'name': 'x'}}",
        "Spider opened",
    ]
    urls = fmt.UrlFit()
    assert urls.see_text(lines)
    assert urls.shared == ORIGIN and urls.longest == len(lines[0])
    fitted = [urls.text_cell(line).text(60).plain for line in lines]
    assert fitted[0] == "Crawled (200) <GET /product/8.html> (referer: /catalogue/1.html)"
    assert fitted[1].startswith("Scraped from <200 /product/8.html>")  # fits, yet alike
    assert fitted[2] == "Spider opened"
    assert urls.text_cell(lines[0]).text(200).plain == lines[0]  # all fit: untouched
    urls.see_text(["GET https://other.example/x"])
    assert urls.text_cell(lines[0]).text(60).plain.startswith("Crawled (200) <GET 127.0.0.1")
