"""What became of the requests: retries, errors and drops, from the stats and
the fates.  These need no engine readings, so they judge a finished crawl, an
attached one and a HAR file alike (each from the figures it has).
"""

from __future__ import annotations

import re

from workbench.core.inspection.diagnosis.evidence import Evidence
from workbench.core.inspection.diagnosis.verdicts import (
    LIMIT,
    NOTE,
    PROBLEM,
    Target,
    Verdict,
    rule,
)
from workbench.core.recording.fates import (
    DEPTH,
    DUPLICATE,
    IGNORED,
    MAXSIZE,
    OFFSITE,
    PENDING,
    ROBOTS,
    SCHEDULER,
    short_name,
)

CONCURRENCY_DOC = "Scrapy docs, Optimization: Sending more requests at a time"
BROAD = "Scrapy docs, Optimization: Speeding up broad crawls"
SPIDERS_DOC = "Scrapy docs, Spiders: allowed_domains"
SETTINGS_DOC = "Scrapy docs, Settings"

MIN_REQUESTS = 20
"""Fewer requests than this and a rate means nothing: no retry or error-rate verdict."""

RETRY_SHARE = 0.10
"""Retries per request above which retrying is a problem.  "Sending more requests at
a time": "growing retry/count ... means you have gone past the limit" of the site;
"Speeding up broad crawls": lower RETRY_TIMES."""

PUSHBACK = (429, 503)
"""Statuses with which a site says "slower": "Sending more requests at a time"
names 429 and 503 responses as the sign of having gone past its limit."""

PUSHBACK_SHARE = 0.05
"""Share of responses with a :data:`PUSHBACK` status that makes a verdict."""

DOWNLOAD_ERROR_SHARE = 0.05
"""Download errors (timeouts, refused connections, DNS) per request that make a verdict."""

CALLBACK_ERROR_SHARE = 0.05
"""Callback errors per response above which they are a problem (below: a note)."""

HTTP_ERROR_SHARE = 0.10
"""Share of responses with one 4xx or 5xx status that makes a verdict."""

DUPLICATE_SHARE = 0.5
"""Share of the requests produced that the dupefilter dropped, with at least
:data:`DUPLICATE_MIN` of them, that makes "many duplicates" (a note: the
dupefilter does its work, but callbacks produce the same links again and again)."""

DUPLICATE_MIN = 50

FIELD_GAP = 0.05
"""Share of an item type's items without a field (missing, None or empty) above
which it is a problem; below, a note.  Any gap at all is a verdict: "some items
have no title" is a question users bring."""

MIN_ITEMS = 10
"""Fewer items of the type than this and a gap is only a note: one item of three
is thin evidence for "the selectors are wrong"."""


def _n(count: int, noun: str) -> str:
    """ "1 request", "3 requests"."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _requests(ev: Evidence) -> int:
    return ev.stat("downloader/request_count")


def _responses(ev: Evidence) -> int:
    return ev.stat("downloader/response_count") or ev.snapshot.pages


def _top(counts: dict[str, int], n: int = 3) -> str:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{name} ×{count:,}" for name, count in ordered[:n])


@rule("retries", "retries and pushback (429, 503)")
def retries(ev: Evidence) -> Verdict | None:
    requests = _requests(ev)
    if requests < MIN_REQUESTS:
        return None
    retried = ev.stat("retry/count")
    gave_up = ev.stat("retry/max_reached")
    statuses = ev.stats_under("downloader/response_status_count/")
    responses = max(1, _responses(ev))
    pushback = sum(statuses.get(str(s), 0) for s in PUSHBACK)
    retry_share = retried / requests
    if retry_share < RETRY_SHARE and pushback / responses < PUSHBACK_SHARE:
        return None
    reasons = ev.stats_under("retry/reason_count/")
    figures = [
        ("retries", f"{retried:,} for {requests:,} requests ({retry_share:.0%})"),
        ("given up", f"{gave_up:,} (retry/max_reached)"),
    ]
    if reasons:
        figures.append(("why", _top(reasons)))
    if pushback:
        figures.append(("429 and 503 responses", f"{pushback:,} of {responses:,}"))
    timeouts = sum(n for r, n in reasons.items() if "Timeout" in r)
    if pushback and pushback >= timeouts:
        finding = (
            "The site pushes back (429, 503): the crawl goes faster than it tolerates, "
            "and every retry costs another request."
        )
        setting = (
            "CONCURRENT_REQUESTS_PER_DOMAIN lower, DOWNLOAD_DELAY higher, or "
            "AUTOTHROTTLE_ENABLED = True (it never lowers the delay on such responses)"
        )
        headline = f"site pushes back: {pushback:,} × 429/503"
    elif timeouts and timeouts * 2 >= retried:
        finding = "Requests time out and are retried: the site answers too slowly."
        setting = (
            "DOWNLOAD_TIMEOUT to give up sooner, RETRY_TIMES lower; fewer requests at a "
            "time if the site is overloaded"
        )
        headline = f"{retried:,} retries, mostly timeouts"
    else:
        finding = (
            f"{retry_share:.0%} of the requests were retries: each is a request that failed first."
        )
        setting = "RETRY_TIMES lower (or RETRY_ENABLED = False) if these failures do not recover"
        headline = f"high retry rate ({retry_share:.0%})"
    return Verdict(
        "retries",
        PROBLEM if gave_up or pushback else LIMIT,
        headline,
        finding,
        tuple(figures),
        setting,
        CONCURRENCY_DOC if pushback else BROAD,
        Target("flows", "~fate retried | ~fate gave-up", label="the retried requests"),
        weight=retry_share,
    )


@rule("download-errors", "download errors")
def download_errors(ev: Evidence) -> Verdict | None:
    requests = _requests(ev)
    errors = ev.stat("downloader/exception_count")
    if requests < MIN_REQUESTS or errors / requests < DOWNLOAD_ERROR_SHARE:
        return None
    kinds = {
        short_name(k): n for k, n in ev.stats_under("downloader/exception_type_count/").items()
    }
    return Verdict(
        "download-errors",
        PROBLEM,
        f"download errors on {errors / requests:.0%} of requests",
        f"{errors:,} of {requests:,} requests failed to download (no response).",
        (("download errors", f"{errors:,} of {requests:,}"), ("which", _top(kinds) or "?")),
        "DOWNLOAD_TIMEOUT for timeouts; for refused connections or DNS errors, the URLs "
        "(or REACTOR_THREADPOOL_MAXSIZE for DNS on a broad crawl)",
        BROAD,
        Target("flows", "~e & !~c 100-599", label="the failed downloads"),
        weight=errors / requests,
    )


@rule("callback-errors", "callback errors")
def callback_errors(ev: Evidence) -> Verdict | None:
    errors = ev.stat("spider_exceptions/count")
    if errors <= 0:
        return None
    responses = max(1, _responses(ev))
    kinds = {k: n for k, n in ev.stats_under("spider_exceptions/").items() if k != "count"}
    rate = errors / responses
    return Verdict(
        "callback-errors",
        PROBLEM if rate >= CALLBACK_ERROR_SHARE else NOTE,
        f"callbacks raised on {rate:.0%} of responses"
        if rate >= 0.01
        else f"{errors:,} callback error(s)",
        f"The spider's callbacks raised {errors:,} time(s) for {responses:,} responses: "
        "what those pages would have given is lost.",
        (
            ("callback errors", f"{errors:,} of {responses:,} responses"),
            ("which", _top(kinds) or "?"),
        ),
        "none: a bug in the spider's code (Enter shows the flows, the Error tab the traceback)",
        "Scrapy docs, Spiders",
        Target("flows", "~e & ~c 100-599", label="the responses whose callback raised"),
        weight=rate,
    )


@rule("http-errors", "HTTP error statuses")
def http_errors(ev: Evidence) -> Verdict | None:
    responses = _responses(ev)
    if responses < MIN_REQUESTS:
        return None
    statuses = ev.stats_under("downloader/response_status_count/")
    worst = None
    for status, count in statuses.items():
        if not status.isdigit() or int(status) < 400 or int(status) in PUSHBACK:
            continue
        if count / responses >= HTTP_ERROR_SHARE and (worst is None or count > worst[1]):
            worst = (status, count)
    if worst is None:
        return None
    status, count = worst
    ignored = ev.stat("httperror/response_ignored_count")
    return Verdict(
        "http-errors",
        PROBLEM,
        f"{status} on {count / responses:.0%} of responses",
        f"{count:,} of {responses:,} responses were {status}"
        + (
            f"; HttpErrorMiddleware kept {ignored:,} error responses from the callbacks."
            if ignored
            else "."
        ),
        (
            ("status " + status, f"{count:,} of {responses:,}"),
            ("4xx/5xx", _top({k: v for k, v in statuses.items() if k.isdigit() and int(k) >= 400})),
        ),
        "none for broken links; HTTPERROR_ALLOWED_CODES (or handle_httpstatus_list) to "
        "let the callbacks see them",
        "Scrapy docs, Spider middleware: HttpErrorMiddleware",
        Target("flows", f"~c {status}", label=f"the {status} responses"),
        weight=count / responses,
    )


def _siblings(host: str, reached: frozenset[str]) -> bool:
    """``host`` looks like part of a site that was crawled: www.x.com and x.com,
    shop.x.com and x.com (the last two labels match); not for addresses."""

    def tail(h: str) -> str:
        h = h.lower().removeprefix("www.")
        labels = h.split(".")
        return ".".join(labels[-2:]) if not h.replace(".", "").isdigit() else h

    mine = tail(host)
    return any(tail(r.split(":")[0]) == mine for r in reached if r and r != host)


@rule("offsite", "requests filtered offsite (allowed_domains)")
def offsite(ev: Evidence) -> Verdict | None:
    count = int(ev.snapshot.fates.get(OFFSITE, 0))
    if count <= 0:
        return None
    row = ev.fates.row(OFFSITE) if ev.fates is not None else None
    hosts = row.hosts if row is not None else ()
    reached = ev.fates.hosts_reached if ev.fates is not None else frozenset()
    near = [h for h, _ in hosts if _siblings(h, reached)]
    stat = ev.stat("offsite/filtered")  # absent from a HAR file's stats
    filtered = f"{count:,}" + (f" (offsite/filtered {stat:,})" if stat else "")
    figures = [("filtered offsite", filtered)]
    if hosts:
        figures.append(("to", ", ".join(f"{h} ×{n:,}" for h, n in hosts)))
    if near:
        return Verdict(
            "offsite",
            PROBLEM,
            f"{_n(count, 'offsite drop')} to {near[0]}",
            f"Requests to {', '.join(near)} were filtered as offsite although it looks like "
            "part of the site crawled: allowed_domains leaves it out.",
            tuple(figures),
            f"the spider's allowed_domains: add {near[0]} (or its domain)",
            SPIDERS_DOC,
            Target("flows", "~fate offsite", label="the offsite requests"),
            weight=count,
        )
    return Verdict(
        "offsite",
        NOTE,
        f"{_n(count, 'offsite drop')}",
        f"{count:,} requests to other sites were filtered, as allowed_domains asks.",
        tuple(figures),
        "allowed_domains, if any of these hosts should be crawled",
        SPIDERS_DOC,
        Target("flows", "~fate offsite", label="the offsite requests"),
        weight=count,
    )


@rule("duplicates", "many duplicates")
def duplicates(ev: Evidence) -> Verdict | None:
    count = int(ev.snapshot.fates.get(DUPLICATE, 0))
    produced = count + max(ev.snapshot.pages, ev.stat("scheduler/enqueued"))
    if count < DUPLICATE_MIN or count / max(1, produced) < DUPLICATE_SHARE:
        return None
    return Verdict(
        "duplicates",
        NOTE,
        f"{count:,} duplicates",
        f"The dupefilter dropped {count:,} requests already seen, more than it let "
        "through: callbacks yield the same links again and again (menus, pagination).",
        (
            (
                "dropped as duplicates",
                f"{count:,} ({count / max(1, produced):.0%} of the requests produced)",
            ),
            ("pages downloaded", f"{ev.snapshot.pages:,}"),
        ),
        "none needed (the dupefilter works); follow fewer repeated links, e.g. a "
        "LinkExtractor restricted to the content",
        "Scrapy docs, Settings: DUPEFILTER_CLASS",
        Target("flows", "~fate duplicate", label="the duplicates"),
        weight=count,
    )


def _dropped(fate: str, title: str, severity: str, setting: str, words: str) -> None:
    """Register the rule for a fate that drops requests: any such request is a verdict."""

    @rule(fate, title)
    def check(ev: Evidence) -> Verdict | None:
        count = int(ev.snapshot.fates.get(fate, 0))
        if count <= 0:
            return None
        figures = [(words, f"{count:,}")]
        row = ev.fates.row(fate) if ev.fates is not None else None
        if ev.fates is not None:
            parts = [r for r in ev.fates.rows if r.fate == fate and r.part and r.component]
            if parts:
                figures.append(
                    ("by", ", ".join(f"{short_name(r.component)} ×{r.count:,}" for r in parts))
                )
        if row is not None and row.examples:
            figures.append(("first", row.examples[0][1]))
        return Verdict(
            fate,
            severity,
            f"{count:,} {words}",
            f"{_n(count, 'request')} {words}.",
            tuple(figures),
            setting,
            SETTINGS_DOC,
            Target("flows", f"~fate {fate}", label=f"the requests {words}"),
            weight=count,
        )


_dropped(
    DEPTH,
    "requests beyond DEPTH_LIMIT",
    NOTE,
    "DEPTH_LIMIT, if they should be crawled",
    "beyond DEPTH_LIMIT",
)
_dropped(
    ROBOTS,
    "requests disallowed by robots.txt",
    NOTE,
    "ROBOTSTXT_OBEY (honour it unless you may ignore it)",
    "disallowed by robots.txt",
)
_dropped(
    IGNORED,
    "requests ignored by a component",
    NOTE,
    "the component named (IgnoreRequest)",
    "ignored (IgnoreRequest)",
)
_dropped(
    SCHEDULER,
    "requests the scheduler refused",
    NOTE,
    "the scheduler's queue (request_dropped)",
    "refused by the scheduler",
)
_dropped(
    MAXSIZE,
    "responses over DOWNLOAD_MAXSIZE",
    PROBLEM,
    "DOWNLOAD_MAXSIZE (or the request's download_maxsize meta)",
    "over DOWNLOAD_MAXSIZE",
)


@rule(PENDING, "requests pending at the end")
def pending(ev: Evidence) -> Verdict | None:
    count = int(ev.snapshot.fates.get(PENDING, 0))
    if count <= 0:
        return None
    reason = ev.snapshot.status.finish_reason or "?"
    setting = "JOBDIR, to resume the crawl where it stopped"
    if reason.startswith("closespider_"):
        setting = (
            f"CLOSESPIDER_{reason.removeprefix('closespider_').upper()} (it ended the crawl); "
            + setting
        )
    return Verdict(
        PENDING,
        NOTE,
        f"{_n(count, 'request')} never sent",
        f"The crawl ended ({reason}) with {count:,} request(s) still in the scheduler.",
        (("still pending", f"{count:,}"), ("finish reason", reason)),
        setting,
        "Scrapy docs, Jobs: pausing and resuming crawls",
        Target("flows", "~fate pending", label="the pending requests"),
        weight=count,
    )


def items_filter(item_type: str, field: str) -> str:
    """The Items filter of the items of ``item_type`` where ``field`` is not filled."""
    if re.fullmatch(r"[^\s=()&|!\"'~]+", field):
        term = f"!~f {field}"
    else:  # quoted: a name with spaces, quotes or operators
        term = "!~f '" + field.replace("'", "\\'") + "'"
    return f"{term} & ~it '^{re.escape(item_type)}$'"


@rule("items", "items missing fields", needs=("items",))
def items_missing_fields(ev: Evidence) -> Verdict | None:
    assert ev.items is not None
    problems = ev.items.problems()
    if not problems:
        return None
    worst = problems[0]
    gap = worst.unfilled / worst.total if worst.total else 0.0
    figures = [(f"{p.item_type}.{p.field}", p.sentence()) for p in problems[:4]]
    if len(problems) > 4:
        figures.append(("and", f"{len(problems) - 4} more field(s) not always filled"))
    if worst.examples:
        first = worst.examples[0]
        figures.append(("first without it", f"item #{first.item_id} from {first.url or '?'}"))
    return Verdict(
        "items",
        PROBLEM if gap >= FIELD_GAP and worst.total >= MIN_ITEMS else NOTE,
        f"{worst.field} not filled in {gap:.0%} of {worst.item_type}",
        f"{len(problems)} field(s) are not filled in every item: {worst.sentence()}.",
        tuple(figures),
        "none: the selectors of the callback that yields them (open the items, then their flows)",
        "Scrapy docs, Items",
        Target(
            "items",
            items_filter(worst.item_type, worst.field),
            label=f"the {worst.item_type} items without {worst.field}",
        ),
        weight=gap,
    )
