from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scrapy.http import Headers

from tests.helpers import factories
from workbench.core.inspection.filters import (
    FILTER_HELP,
    ITEMS,
    FilterError,
    FlowFilter,
    ItemSubject,
    parse_filter,
)
from workbench.core.recording.records import Flow, ItemRecord

ROOT = Path(__file__).resolve().parent.parent
_ids = itertools.count(1)


def make_flow(
    url: str = "https://example.com/page",
    *,
    request_headers: dict | None = None,
    response_headers: dict | None = None,
    **overrides,
) -> Flow:
    """The shared factory's flow, numbered, with headers given as dicts."""
    return factories.make_flow(
        id=next(_ids),
        url=url,
        latency=0.1,
        slot="example.com",
        request_headers=None if request_headers is None else Headers(request_headers),
        response_headers=None if response_headers is None else Headers(response_headers),
        **overrides,
    )


def matches(expr: str, flow: Flow, body: bytes | None = None) -> bool:
    return parse_filter(expr)(flow, (lambda f: body) if body is not None else None)


def error_of(expr: str) -> FilterError:
    with pytest.raises(FilterError) as info:
        parse_filter(expr)
    return info.value


# --- operators ----------------------------------------------------------------


def test_url_regex_case_insensitive():
    flow = make_flow("https://example.com/Products/42")
    assert matches("~u products", flow)
    assert matches(r"~u /\d+$", flow)
    assert not matches("~u /cart", flow)


@pytest.mark.parametrize("op", ["~c", "~s"])
def test_status_code(op):
    assert matches(f"{op} 200", make_flow(status=200))
    assert not matches(f"{op} 200", make_flow(status=404))
    assert not matches(f"{op} 200", make_flow(status=None, error="DNSLookupError: x"))


def test_status_range_and_class():
    assert matches("~c 500-599", make_flow(status=503))
    assert matches("~c 500-599", make_flow(status=500))
    assert matches("~c 500-599", make_flow(status=599))
    assert not matches("~c 500-599", make_flow(status=404))
    assert matches("~c 4xx", make_flow(status=404))
    assert matches("~c 4XX", make_flow(status=499))
    assert not matches("~c 4xx", make_flow(status=500))
    assert not matches("~c 4xx", make_flow(status=None))


def test_domain():
    flow = make_flow("https://shop.Example.com:8080/a?b=c")
    assert matches(r"~d example\.com$", flow)
    assert matches("~d ^shop", flow)
    assert not matches("~d other", flow)
    # the domain is the host only, not the path
    assert not matches("~d a", make_flow("https://x.org/a"))


def test_method():
    assert matches("~m get", make_flow(method="GET"))
    assert matches("~m POST", make_flow(method="post"))
    assert not matches("~m POST", make_flow(method="GET"))
    # equality, not a search
    assert not matches("~m GE", make_flow(method="GET"))


def test_headers():
    flow = make_flow(
        request_headers={"User-Agent": "Scrapy/2.19", "Accept": "text/html"},
        response_headers={"Content-Type": "application/json", "Set-Cookie": ["a=1", "b=2"]},
    )
    assert matches("~h user-agent", flow)
    assert matches("~h 'Content-Type: application/json'", flow)
    assert matches("~h '^set-cookie: b=2$'", flow)  # every value of a repeated header
    assert matches("~hq scrapy", flow)
    assert not matches("~hq json", flow)
    assert matches("~hs json", flow)
    assert not matches("~hs scrapy", flow)
    assert not matches("~h nothing-like-this", flow)


def test_headers_missing_and_non_utf8():
    assert not matches("~h .", make_flow())
    flow = make_flow(response_headers={"X-Name": "caf\xe9".encode("latin-1")})
    assert matches("~hs 'X-Name: café'", flow)
    flow = make_flow(response_headers={"X-Name": "café".encode()})
    assert matches("~hs 'X-Name: café'", flow)


def test_content_type():
    flow = make_flow(
        request_headers={"Content-Type": "application/x-www-form-urlencoded"},
        response_headers={"Content-Type": "text/html; charset=utf-8"},
    )
    assert matches("~t html", flow)
    assert matches("~t ^text/", flow)
    assert not matches("~t form", flow)  # request header is not looked at
    assert not matches("~t html", make_flow())


def test_body():
    flow = make_flow()
    body = b"<html><title>Caf\xc3\xa9 Menu</title></html>"
    assert matches("~b menu", flow, body)
    assert matches("~b café", flow, body)
    assert matches(r"~b '<title>\w+'", flow, body)
    assert not matches("~b pizza", flow, body)
    # no provider, or the provider has no body: no match
    assert not matches("~b menu", flow)
    assert not parse_filter("~b menu")(flow, lambda f: None)
    assert parse_filter("!~b menu")(flow)


def test_body_provider_is_lazy_and_called_once():
    calls = []

    def body_of(flow):
        calls.append(flow.id)
        return b"hello world"

    flow = make_flow(status=404)
    assert not parse_filter("~c 200 & ~b hello")(flow, body_of)
    assert calls == []  # short-circuit: the body was not needed
    assert parse_filter("~b hello & ~b world & ~b o")(flow, body_of)
    assert calls == [flow.id]
    calls.clear()
    other = make_flow()
    assert parse_filter("~b hello ~b world")(other, body_of)
    assert parse_filter("~b hello ~b world")(flow, body_of)
    assert calls == [other.id, flow.id]


def test_needs_body():
    assert parse_filter("~b x").needs_body
    assert parse_filter("~u a | !(~c 200 & ~b x)").needs_body
    assert not parse_filter("~u a & ~c 200").needs_body
    assert not parse_filter("'~b x'").needs_body  # quoted: bare text
    assert not parse_filter("").needs_body


def test_error():
    assert matches("~e", make_flow(status=None, error="TimeoutError: took too long"))
    assert matches("~e", make_flow(callback_error="KeyError: 'price'"))
    assert not matches("~e", make_flow(status=500))
    assert matches("!~e", make_flow())


def test_fate_and_never_downloaded():
    offsite = make_flow(status=None, fate="offsite", fate_by="scrapy.x.OffsiteMiddleware")
    duplicate = make_flow(status=None, fate="duplicate")
    pending = make_flow(status=None, fate="pending")
    gave_up = make_flow(status=503, fate="gave-up", fate_n=2, fate_limit=2)
    plain = make_flow()
    assert matches("~fate offsite", offsite) and not matches("~fate offsite", duplicate)
    assert matches("~fate 'offsite|dup'", duplicate)
    assert matches("~fate DOWNLOADED", plain) and not matches("~fate downloaded", offsite)
    assert matches("~fate gave", gave_up) and matches("~c 503 & ~fate gave-up", gave_up)
    for flow in (offsite, duplicate, pending):
        assert matches("~dropped", flow) and not matches("!~dropped", flow)
    # downloaded, whatever became of it afterwards
    assert not matches("~dropped", gave_up) and not matches("~dropped", plain)
    assert not matches("~e", offsite)  # not an error: a decision
    assert repr(parse_filter("~dropped | ~fate x")._root) == "(~dropped | ~fate 'x')"
    assert isinstance(error_of("~fate"), ValueError)  # its argument is due
    assert isinstance(error_of("~u ~dropped"), ValueError)


def test_callback():
    flow = make_flow(callback="parse_product")
    assert matches("~cb parse_product", flow)
    assert matches("~cb PRODUCT", flow)
    assert matches("~cb ^parse_", flow)
    assert not matches("~cb ^product", flow)
    assert not matches("~cb parse", make_flow(callback=None))


def test_all():
    assert matches("~a", make_flow())
    assert matches("~a", make_flow(status=None, error="x"))
    assert not matches("!~a", make_flow())


# --- combinations ---------------------------------------------------------------


def test_and_or_not():
    ok = make_flow("https://a.com/foo", status=200)
    missing = make_flow("https://a.com/foo", status=404)
    other = make_flow("https://a.com/bar", status=200)
    f = parse_filter("~u foo & ~c 200")
    assert [f(ok), f(missing), f(other)] == [True, False, False]
    f = parse_filter("~u foo | ~c 200")
    assert [f(ok), f(missing), f(other)] == [True, True, True]
    f = parse_filter("!~u foo")
    assert [f(ok), f(missing), f(other)] == [False, False, True]
    f = parse_filter("!!~u foo")
    assert [f(ok), f(missing), f(other)] == [True, True, False]


def test_juxtaposition_is_and():
    ok = make_flow("https://a.com/foo", status=200)
    missing = make_flow("https://a.com/foo", status=404)
    f = parse_filter("~c 200 ~u foo")
    assert f(ok)
    assert not f(missing)
    assert repr(f) == repr(parse_filter("~c 200 & ~u foo")).replace(" & ~u", " ~u", 1)


def test_precedence():
    # ! > & > |
    f = parse_filter("~u a | ~u b & ~u c")
    assert f(make_flow("https://x.org/a"))
    assert not f(make_flow("https://x.org/b"))
    assert f(make_flow("https://x.org/bc"))
    f = parse_filter("!~u a & ~u b")
    assert f(make_flow("https://x.org/b"))
    assert not f(make_flow("https://x.org/ab"))
    # juxtaposition binds like &
    f = parse_filter("~u a | ~u b ~u c")
    assert not f(make_flow("https://x.org/b"))
    assert f(make_flow("https://x.org/bc"))
    assert "or\n  ~u 'a'\n  and\n" in f.describe()


def test_parentheses():
    f = parse_filter("(~u a | ~u b) & ~u c")
    assert not f(make_flow("https://x.org/a"))
    assert f(make_flow("https://x.org/ac"))
    assert f(make_flow("https://x.org/bc"))
    f = parse_filter("!(~u a | ~u b)")
    assert not f(make_flow("https://x.org/a"))
    assert f(make_flow("https://x.org/c"))
    f = parse_filter("((~u a))")
    assert f(make_flow("https://x.org/a"))
    f = parse_filter("(~c 200)(~u a)")  # juxtaposed groups
    assert f(make_flow("https://x.org/a"))
    assert not f(make_flow("https://x.org/a", status=500))
    f = parse_filter("(!~e)")
    assert f(make_flow())


def test_operators_need_no_spaces_at_word_start():
    f = parse_filter("~c 200 &~u a |!~e")
    assert f(make_flow("https://x.org/a"))
    assert f(make_flow("https://x.org/b"))
    assert not f(make_flow("https://x.org/b", callback_error="E"))


def test_special_characters_inside_words():
    # & | ! ( ) inside a word belong to it, so URLs and regexes need no quoting
    assert matches("~u a=1&b=2", make_flow("https://x.org/?a=1&b=2"))
    assert not matches("~u a=1&b=2", make_flow("https://x.org/?b=2&a=1"))
    f = parse_filter("~u jpg|png")
    assert f(make_flow("https://x.org/a.png"))
    assert f(make_flow("https://x.org/a.jpg"))
    f = parse_filter(r"(~u \.(jpg|png)$) & ~c 200")
    assert f(make_flow("https://x.org/a.png"))
    assert not f(make_flow("https://x.org/a.png?x"))
    # an argument may start with ( or !
    assert matches("~u (foo|bar)", make_flow("https://x.org/bar"))
    assert matches("~u !important", make_flow("https://x.org/!important"))


def test_quoting():
    flow = make_flow("https://x.org/search?q=a b")
    assert matches('~u "a b"', flow)
    assert matches("~u 'a b'", flow)
    assert not matches("~u 'a  b'", flow)
    assert matches("~u 'q=a b' & ~c 200", flow)
    # escaped quotes
    assert matches(r"~u 'it\'s'", make_flow("https://x.org/it's"))
    assert matches(r'~u "say \"hi\""', make_flow('https://x.org/say "hi"'))
    # other backslashes are kept for the regex
    assert matches(r"~u '/\d+$'", make_flow("https://x.org/42"))
    assert not matches(r"~u '/\d+$'", make_flow("https://x.org/d"))
    # quoting makes operator characters plain
    assert matches("'(' | ')'", make_flow("https://x.org/)"))
    assert matches("~u '[(]' | ~u '[)]'", make_flow("https://x.org/("))
    assert matches('"~u"', make_flow("https://x.org/~u"))
    assert matches("~u '&'", make_flow("https://x.org/?a&b"))


def test_bare_text_matches_url():
    flow = make_flow("https://example.com/Product/42")
    assert matches("product", flow)
    assert matches(r"/\d+", flow)
    assert not matches("cart", flow)
    assert matches("example product", flow)  # juxtaposition
    assert matches("'Product/42'", flow)
    assert matches("!cart", flow)


def test_bare_text_bad_regex_is_literal():
    f = parse_filter("a[b")
    assert f(make_flow("https://x.org/a[b"))
    assert not f(make_flow("https://x.org/ab"))
    f = parse_filter("*.png")
    assert f(make_flow("https://x.org/*.png"))
    assert not f(make_flow("https://x.org/a.png"))
    assert parse_filter("foo(bar")(make_flow("https://x.org/foo(bar"))


def test_empty_expression_matches_everything():
    for expr in ("", "   ", "\t\n"):
        f = parse_filter(expr)
        assert isinstance(f, FlowFilter)
        assert f.matches_all
        assert f(make_flow())
        assert f(make_flow(status=None, error="x"))
        assert f.expression == expr
    assert not parse_filter("~a").matches_all


def test_filter_is_reusable_and_describes_itself():
    f = parse_filter("~u foo & (~c 4xx | ~e)")
    assert f.expression == "~u foo & (~c 4xx | ~e)"
    flows = [make_flow("https://x.org/foo", status=s) for s in (200, 404, 500, 403)]
    assert [f(fl) for fl in flows] == [False, True, False, True]
    assert [f(fl) for fl in flows] == [False, True, False, True]
    assert "~u 'foo'" in repr(f)
    assert f.describe() == "and\n  ~u 'foo'\n  or\n    ~c 4xx\n    ~e"


def test_help_lists_every_operator():
    lines = FILTER_HELP.splitlines()
    for op in ("~u", "~d", "~m", "~c", "~h", "~hq", "~hs", "~t", "~b", "~cb", "~e", "~a"):
        assert any(line.startswith(op + " ") for line in lines), op
    for token in ("!", "&", "|", "("):
        assert token in FILTER_HELP
    import workbench.core.inspection.filters as module

    assert module.__doc__ and "OPERATORS" in module.__doc__  # the one list, not a copy


# --- errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "position", "fragment"),
    [
        ("~x", 0, "unknown operator ~x"),
        ("a ~x", 2, "unknown operator ~x"),
        ("~u foo & ~zz bar", 9, "unknown operator ~zz"),
        ("~c200", 0, "unknown operator ~c200"),
        ("~", 0, "operator name"),
        ("~u", 2, "missing argument for ~u"),
        ("~u   ", 5, "missing argument for ~u"),
        ("~c & ~u a", 3, "missing argument for ~c"),
        ("(~m)", 3, "missing argument for ~m"),
        ("~u ~c 200", 3, "missing argument for ~u"),
        ("~u [", 3, "bad regex for ~u: unterminated character set"),
        ("~d 'a(b'", 5, "bad regex for ~d: missing ), unterminated subpattern"),
        ("~h *x", 3, "bad regex for ~h: nothing to repeat"),
        ("~cb 'x+++'", 8, "bad regex for ~cb"),
        ("~b '(?'", 6, "bad regex for ~b"),
        ("~c abc", 3, "bad status code 'abc'"),
        ("~s 2000", 3, "bad status code '2000'"),
        ("~c 0xx", 3, "bad status code"),
        ("~c 599-500", 3, "bad status range"),
        ("(~u a", 0, "unclosed '('"),
        ("~c 200 & (~u a | (~u b)", 9, "unclosed '('"),
        ("a (", 2, "unclosed '('"),
        ("~u a)", 4, "unbalanced ')'"),
        (")", 0, "unbalanced ')'"),
        ("(a)) b", 3, "unbalanced ')'"),
        ("()", 0, "empty parentheses"),
        ("~u a & ( )", 7, "empty parentheses"),
        ("~u a &", 5, "'&' must be followed by an expression"),
        ("~u a |", 5, "'|' must be followed by an expression"),
        ("!", 0, "'!' must be followed by an expression"),
        ("(~u a |)", 6, "'|' must be followed by an expression"),
        ("& a", 0, "'&' needs an expression on its left"),
        ("| a", 0, "'|' needs an expression on its left"),
        ("a | | b", 4, "unexpected '|' after '|'"),
        ("a & & b", 4, "unexpected '&' after '&'"),
        ("~u 'abc", 3, "unterminated string"),
        ('"abc', 0, "unterminated string"),
    ],
)
def test_errors(expr, position, fragment):
    err = error_of(expr)
    assert isinstance(err, ValueError)
    assert fragment in err.message, err.message
    if fragment.startswith("bad regex"):
        # inside the pattern: which character Python's re blames differs by version
        start = expr.index(" ", expr.index("~")) + 1
        assert start <= err.position < len(expr), (err.position, err.message)
        position = err.position
    else:
        assert err.position == position, (err.position, err.message)
    assert str(err) == f"{err.message} at column {position + 1}"
    assert err.expression == expr


def test_error_str_example():
    assert str(error_of("a ~x")) == "unknown operator ~x at column 3"


def test_regex_error_position_in_quoted_argument_with_escapes():
    # the [ is at offset 7: ~ u ␠ " x \ " [
    err = error_of(r'~u "x\"[" ')
    assert err.position == 7
    assert "unterminated character set" in err.message


# --- speed and imports ----------------------------------------------------------


def test_performance_100k_flows():
    flows = [
        make_flow(
            f"https://site{i % 7}.example.com/{'foo' if i % 3 else 'bar'}/{i}",
            status=200 if i % 5 else 404,
        )
        for i in range(100_000)
    ]
    f = parse_filter("~u foo & ~c 200")
    start = time.perf_counter()
    matched = sum(1 for flow in flows if f(flow))
    elapsed = time.perf_counter() - start
    assert matched == sum(1 for i in range(100_000) if i % 3 and i % 5)
    assert elapsed < 2.0, elapsed


def test_import_does_not_load_textual():
    code = (
        "import sys\n"
        "import workbench.core.inspection.filters\n"
        "assert not any(m == 'textual' or m.startswith('textual.') for m in sys.modules), "
        "sorted(m for m in sys.modules if m.startswith('textual'))\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_operator_of_the_table_parses_and_is_in_the_help_and_the_docs():
    """OPERATORS is the one list: the parser, the in-app help and the docs' table
    agree with it (an operator added in one place only fails here)."""
    import re
    from pathlib import Path

    from workbench.core.inspection.filters import FILTER_HELP, OPERATORS

    samples = {"REGEX": "x", "CODE": "404", "METHOD": "GET", "FIELD": "title"}
    samples["FIELD[=REGEX]"] = "title=x"
    help_codes = {line.split()[0] for line in FILTER_HELP.splitlines() if line.startswith("~")}
    docs = (Path(__file__).resolve().parents[1] / "docs" / "keys-and-filters.md").read_text()
    table = " ".join(line for line in docs.splitlines() if line.startswith("| `~"))
    doc_codes = set(re.findall(r"`(~\w+)", table))
    for op in OPERATORS:
        for code in (op.code, *op.aliases):
            parse_filter(f"~{code} {samples.get(op.arg, '')}".strip(), op.applies_to[0])
            assert f"~{code}" in doc_codes, f"~{code} is missing from the docs' table"
        assert f"~{op.code}" in help_codes
    codes = {f"~{c}" for op in OPERATORS for c in (op.code, *op.aliases)}
    assert doc_codes == codes, doc_codes ^ codes


def test_an_operator_without_argument_is_not_taken_as_an_argument():
    for expr in ("~u ~media", "~u ~e", "~cb ~a"):
        assert isinstance(error_of(expr), ValueError), expr


def test_an_operator_applies_only_where_it_is_declared_to():
    """``~f`` and ``~it`` test an item: in the Flows filter they are an error that
    names the operator and where it applies, not a filter that matches every flow."""
    from workbench.core.inspection.filters import FLOWS, ITEMS, OPERATORS

    for expr, op in [("!~f title", "~f"), ("~u x & ~it Product", "~it"), ("~f", "~f")]:
        error = error_of(expr)
        assert error.message.startswith(f"{op} does not apply to flows"), error.message
        assert "items" in error.message and "\n" not in str(error)
        assert expr[error.position :].startswith(op)
    # an item is tested with its flow: the flow operators apply to it too
    item_filter = parse_filter("!~f title & ~u /product/", ITEMS)
    untitled = make_flow("https://example.com/product/1")
    assert item_filter(untitled)  # a flow has no item fields: "no title"
    assert all(op.applies_to and set(op.applies_to) <= {FLOWS, ITEMS} for op in OPERATORS)
    item_only = {"f", "it", "missing", "none", "empty", "outcome"}
    assert {op.code for op in OPERATORS if FLOWS not in op.applies_to} == item_only


# -- item filters: the Items panel, item breakpoints ---------------------------------


def _item(fields: tuple, kind: str = "Product", **extra) -> ItemRecord:
    return ItemRecord(1, 0.0, 7, kind, fields, **extra)


def item_matches(expr: str, record: ItemRecord, flow: Flow | None = None) -> bool:
    return parse_filter(expr, ITEMS)(ItemSubject(record, flow))


def test_field_operators_tell_missing_none_and_empty_apart():
    filled = _item((("title", "Hat"), ("price", 0)))
    unset = _item((("price", 1),))
    none = _item((("title", None),))
    blank = _item((("title", "  \n"),))
    empty_list = _item((("title", []),))
    rows = [filled, unset, none, blank, empty_list]
    expected = {
        "~f title": [True, False, False, False, False],
        "!~f title": [False, True, True, True, True],
        "~missing title": [False, True, False, False, False],
        "~none title": [False, False, True, False, False],
        "~empty title": [False, False, False, True, True],
        "~f price": [True, True, False, False, False],  # 0 is a value
    }
    for expr, want in expected.items():
        assert [item_matches(expr, r) for r in rows] == want, expr


def test_a_field_value_is_searched_as_text():
    item = _item((("price", 0), ("tags", ["sale", "new"]), ("title", "Red Hat")))
    assert item_matches("~f price=^0$", item)
    assert not item_matches("~f price=^1", item)
    assert item_matches('~f tags="sale"', item)  # a list as JSON
    assert item_matches("~f title=hat$", item)  # ignores case, like every regex
    assert item_matches("~f 'title=red hat'", item)
    assert not item_matches("~f title=^$", _item((("title", ""),)))  # empty is not filled
    error = error_of_items("~f title=(")
    assert error.message.startswith("bad regex for ~f")
    assert error.position == len("~f title=")  # at the (
    error = error_of_items("~none title=x")
    assert "field name only" in error.message and error.position == len("~none title")
    assert error_of_items("~f =x").message == "missing field name for ~f"


def error_of_items(expr: str) -> FilterError:
    with pytest.raises(FilterError) as info:
        parse_filter(expr, ITEMS)
    return info.value


def test_type_outcome_spider_and_the_items_flow():
    product = make_flow("https://shop.example/product/1")
    ok = _item((("title", "x"),), spider="shop")
    dropped = _item((("title", None),), "Review", dropped="DropItem: no title")
    failed = _item((("title", "x"),), error="ValueError: bad")
    assert item_matches("~it ^product$", ok) and not item_matches("~it product", dropped)
    assert [item_matches("~outcome dropped", r) for r in (ok, dropped, failed)] == [0, 1, 0]
    assert [item_matches("~outcome error", r) for r in (ok, dropped, failed)] == [0, 0, 1]
    assert [item_matches("~outcome ok", r) for r in (ok, dropped, failed)] == [1, 0, 0]
    assert item_matches("~spider shop", ok) and not item_matches("~spider shop", failed)
    # the flow operators test the flow that produced the item; without it, nothing
    assert item_matches("~u /product/ & ~f title", ok, product)
    assert not item_matches("~u /product/", ok, None)
    assert not item_matches("~c 200", ok, None) and item_matches("~c 200", ok, product)
    # ~spider applies to flows too
    assert parse_filter("~spider shop")(make_flow(spider="shop"))
