"""Property-based attacks: random and hostile entries, threads and config values, every stage.

Whatever a stranger writes, each stage either returns valid data (text that
encodes as UTF-8, http(s) URLs or nothing, sane counts) or raises the
project's own one-line error; a whole build on loopback always finishes.
"""

from __future__ import annotations

import json
import math
import tempfile
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.build import Outcome, build, select
from digest.collect.feeds import read_feed
from digest.comments import SOURCES, pick_comments
from digest.config import Config, parse_config
from digest.errors import ConfigError, FeedError
from digest.isolate import repaired
from digest.issues import codec
from digest.models import CommentThread, Entry, Feed, FeedStatus, Fetched
from digest.store import State
from tests.hostile_site import NOW, SECRET, item, loopback, rss, secret_page

SURROGATES = st.sampled_from(["\ud800", "\udc80", "\udfff", "\ud83d"])
NASTY = st.sampled_from(
    [
        "&amp;lt;script&amp;gt;", "&lt;b&gt;", "<script>alert(1)</script>", "{{ 7*7 }}",
        "\u202e", "\x00", "\x1b[31m", "&#xD800;", "&#0;", "]]>", "\ufeff", "&nbsp;", "\r\n",
        "http://127.0.0.3/", "http://[::1/x", "http://a:99999/", "javascript:alert(1)",
        "http://xn--ls8h.\u2100.example/", "http://169.254.169.254/", "9" * 40, "-1", "NaN",
        "Fri, 31 Dec 9999 23:59:59 +1400", "0001-01-01T00:00:00+14:00",
    ]
)  # fmt: skip
# Text an XML document can hold (no controls or surrogates), with hostile fragments mixed in.
XML_TEXT = st.lists(
    st.one_of(NASTY.filter(lambda s: "\x00" not in s and "\x1b" not in s), st.text(max_size=30)),
    max_size=4,
).map("".join)
ANY_TEXT = st.lists(st.one_of(NASTY, SURROGATES, st.text(max_size=20)), max_size=4).map("".join)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), ANY_TEXT, NASTY),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)


def _valid(text: object) -> bool:
    if text is None:
        return True
    assert isinstance(text, str)
    text.encode("utf-8")  # raises on a lone surrogate
    return True


def _http_or_empty(url: str | None) -> bool:
    if not url:
        return True
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and _valid(url)


def _check_entries(entries: list[Entry], warnings: list[str]) -> None:
    for entry in entries:
        for value in (entry.title, entry.author, entry.source, entry.key, entry.content_html):
            assert _valid(value)
        assert _http_or_empty(entry.url) and _http_or_empty(entry.image)
        assert _http_or_empty(entry.comments_feed) and _http_or_empty(entry.comments_page)
        assert entry.comment_count is None or entry.comment_count >= 0
    for warning in warnings:
        assert _valid(warning) and "\n" not in warning


@st.composite
def xml_feeds(draw: st.DrawFn) -> bytes:
    atom = draw(st.booleans())
    raw = draw(st.booleans())  # unescaped text: markup and ill-formed documents too
    entries = []
    for _ in range(draw(st.integers(0, 4))):
        title, link, body, date, count = (draw(XML_TEXT) for _ in range(5))
        title, date, count = (v if raw else escape(v) for v in (title, date, count))
        link, body = escape(link), escape(body)
        if atom:
            kind = draw(st.sampled_from(["text", "html", "xhtml"]))
            entries.append(
                f'<entry><title type="{kind}">{title}</title><link href="{link}"/>'
                f"<id>{link}</id><updated>{date}</updated><author><name>{title}</name></author>"
                f'<content type="html">{body}</content>'
                f'<link rel="replies" href="{link}" thr:count="{count}"/></entry>'
            )
        else:
            entries.append(
                f"<item><title>{title}</title><link>{link}</link><pubDate>{date}</pubDate>"
                f"<author>{title}</author><description>{body}</description>"
                f"<comments>{link}</comments><wfw:commentRss>{link}</wfw:commentRss>"
                f"<slash:comments>{count}</slash:comments></item>"
            )
    if atom:
        doc = (
            '<feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:thr="http://purl.org/syndication/thread/1.0"><title>T</title>'
            + "".join(entries)
            + "</feed>"
        )
    else:
        doc = rss("T", []).replace("</channel>", "".join(entries) + "</channel>")
    return doc.encode("utf-8", "surrogatepass")


@st.composite
def json_feeds(draw: st.DrawFn) -> bytes:
    keys = [
        "id",
        "url",
        "external_url",
        "title",
        "content_html",
        "content_text",
        "summary",
        "image",
    ]
    keys += ["banner_image", "date_published", "date_modified", "author", "authors"]
    items = draw(
        st.lists(
            st.one_of(st.dictionaries(st.sampled_from(keys), JSON_VALUES, max_size=8), JSON_VALUES),
            max_size=5,
        )
    )
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": draw(ANY_TEXT), "items": items}
    return json.dumps(feed, ensure_ascii=True).encode()


FEED_AT = "http://127.0.0.2:8080/feed"


@settings(max_examples=150, deadline=None)
@given(body=st.one_of(xml_feeds(), json_feeds()))
def test_parse_feed_yields_valid_entries_or_a_feed_error(body: bytes) -> None:
    try:
        _, entries, warnings = read_feed(Fetched(FEED_AT, FEED_AT, body))
    except FeedError as e:
        assert _valid(str(e))
        return
    _check_entries(entries, warnings)


def _thread_shapes(draw: Any, source: str) -> Any:
    keys = [
        "id",
        "name",
        "author",
        "body",
        "body_html",
        "score",
        "created_utc",
        "permalink",
        "replies",
        "text",
    ]
    keys += [
        "points",
        "children",
        "created_at",
        "type",
        "post_number",
        "username",
        "cooked",
        "reply_count",
    ]
    keys += ["like_count", "reply_to_post_number", "post_url", "post_type", "content", "account"]
    keys += ["favourites_count", "replies_count", "in_reply_to_id", "url", "visibility"]
    comment = st.dictionaries(st.sampled_from(keys), JSON_VALUES, max_size=10)
    comments = draw(st.lists(comment, max_size=6))
    if source == "reddit":
        kids = [{"kind": draw(st.sampled_from(["t1", "more", 3])), "data": c} for c in comments]
        total = draw(JSON_VALUES)
        post = {"data": {"children": [{"data": {"num_comments": total, "author": "op"}}]}}
        return [post, {"data": {"children": kids}}]
    if source == "hackernews":
        return {"author": draw(JSON_VALUES), "children": comments}
    if source == "discourse":
        return {"posts_count": draw(JSON_VALUES), "post_stream": {"posts": comments}}
    return {"descendants": comments}


@settings(max_examples=120, deadline=None)
@given(data=st.data(), source=st.sampled_from(["reddit", "hackernews", "discourse", "mastodon"]))
def test_comment_sources_yield_valid_threads(data: st.DataObject, source: str) -> None:
    shape = (
        data.draw(st.one_of(st.builds(lambda: None), JSON_VALUES))
        if data.draw(st.booleans())
        else _thread_shapes(data.draw, source)
    )
    body = json.dumps(shape, ensure_ascii=True).encode()
    url = "http://127.0.0.2:8080/thread.json"
    try:
        thread = SOURCES[source].parse(Fetched(url, url, body, "application/json"))
    except FeedError as e:
        assert _valid(str(e))
        return
    assert isinstance(thread, CommentThread)
    assert thread.total is None or thread.total >= 0
    for comment in thread.comments:
        assert _valid(comment.author) and _valid(comment.text) and _http_or_empty(comment.url)
        assert comment.replies is None or comment.replies >= 0
        assert comment.score is None or math.isfinite(comment.score)
    for warning in thread.warnings:
        assert _valid(warning) and "\n" not in warning
    picked = pick_comments(thread.comments, 3, 40, article="brakes recall dealer", now=NOW)
    assert len(picked) <= 3


@settings(max_examples=60, deadline=None)
@given(
    lookback=st.integers(0, 36_500),  # the range config.toml accepts
    max_stories=st.integers(1, 1_000_000_000),
    published=st.lists(
        st.none() | st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(tzinfo=UTC)),
        max_size=5,
    ),
)
def test_selection_survives_any_window_and_any_date(
    lookback: int, max_stories: int, published: list[datetime | None]
) -> None:
    text = f"[newsletter]\nlookback_days = {lookback}\nmax_stories = {max_stories}\n"
    config = parse_config(text, Path("."))
    entries = tuple(
        Entry(key=f"k{i}", title="t", url=f"https://e.example/{i}", source="s", feed_url="f",
              published=when)
        for i, when in enumerate(published)
    )  # fmt: skip
    with State(":memory:") as store:
        feed = Feed(url="f", status=FeedStatus.OK, entries=entries)
        chosen = select([feed], store, config, NOW).entries
    assert len(chosen) <= min(len(entries), max_stories)
    if lookback == 0:  # no limit: everything
        assert len(chosen) == min(len(entries), max_stories)


TOML_VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.floats().map(lambda f: "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf")
                    if math.isinf(f) else repr(f)),
    st.booleans().map(lambda b: str(b).lower()),
    st.text(max_size=20).map(json.dumps).filter(lambda s: "\\ud" not in s),
    st.lists(st.text(max_size=10).map(json.dumps).filter(lambda s: "\\ud" not in s),
             max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
)  # fmt: skip
SECTIONS = {
    "newsletter": ["title", "max_stories", "lookback_days", "language", "url", "from"],
    "fetch": ["timeout", "max_bytes", "concurrency", "per_host", "max_redirects", "allow_private"],
    "summary": ["sentences", "algorithm", "max_words"],
    "comments": ["per_story", "max_words", "abuse_threshold"],
}


@settings(max_examples=200, deadline=None)
@given(
    section=st.sampled_from(sorted(SECTIONS)),
    data=st.data(),
)
def test_any_config_value_loads_or_is_one_config_error(section: str, data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(SECTIONS[section]))
    value = data.draw(TOML_VALUES)
    text = f'[[feeds]]\nurl = "https://e.example/feed"\n\n[{section}]\n{key} = {value}\n'
    try:
        config = parse_config(text, Path("."))
    except ConfigError as e:
        assert ("\n" not in str(e) and f"{section}.{key}" in str(e)) or "invalid TOML" in str(e)
        return
    assert isinstance(config, Config)


def test_repaired_makes_every_string_of_a_story_valid() -> None:
    from digest.models import Comment, Story

    story = Story(
        title="a\ud800b", url="https://e.example/\udc80", source="s", author="\udfff",
        published=None, image=None, summary=("x\ud83d",), comment_count=-1,
        comments=(Comment(author="\ud800", text="t\udc00"),),
    )  # fmt: skip
    json.dumps(issue_to_dict_one(repaired(story))).encode("utf-8")


def issue_to_dict_one(story: Any) -> dict[str, Any]:
    from digest.models import Issue

    issue = Issue(id="x", title="t", generated_at=NOW, stories=(story,), feeds=())
    return codec.to_dict(issue)


# ── whole builds ───────────────────────────────────────────────────────────────


@st.composite
def hostile_items(draw: st.DrawFn, base: str, internal: str) -> list[str]:
    links = st.sampled_from(
        [f"{base}/fine/", f"{internal}/secret/", f"{base}/moved/", "http://169.254.169.254/",
         "http://xn--ls8h.\u2100.example/", "http://127.0.0.2:99999/", "javascript:alert(1)",
         f"{base}/missing/", "http://localhost:1/", ""]
    )  # fmt: skip
    items = []
    for n in range(draw(st.integers(1, 5))):
        title = draw(XML_TEXT)
        link = draw(links) + f"?{n}"
        discussion = f"<comments>{base}/t/x/77</comments>"
        elsewhere = f"<wfw:commentRss>{internal}/c.xml</wfw:commentRss>"
        thread = draw(st.sampled_from(["", discussion, elsewhere]))
        date = draw(st.sampled_from([None, "Mon, 01 Jan 0001 00:00:00 +1400", "yesterday"]))
        items.append(
            item(title or "untitled", link, excerpt=draw(st.booleans()), extra=thread, date=date)
        )
    return items


@pytest.mark.slow
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_a_generated_hostile_feed_among_healthy_ones_never_stops_the_build(
    data: st.DataObject,
) -> None:
    with loopback("127.0.0.2") as feed, loopback("127.0.0.3") as internal, \
            loopback("127.0.0.1") as healthy, tempfile.TemporaryDirectory() as tmp:  # fmt: skip
        internal.serve("/secret/", secret_page())
        feed.serve("/fine/", "<html><body><p>" + "Fine words here. " * 40 + "</p></body></html>")
        feed.redirect("/moved/", internal.base + "/secret/")
        topic = data.draw(JSON_VALUES)
        feed.serve("/t/77.json", json.dumps(topic, ensure_ascii=True), "application/json")
        items = data.draw(hostile_items(feed.base, internal.base))
        feed.serve("/feed.xml", rss("Hostile", items).encode("utf-8", "surrogatepass"),
                   "application/rss+xml")  # fmt: skip
        urls = []
        for n in range(3):
            good = [item(f"Healthy story {n}", f"{healthy.base}/{n}/", hours_ago=n + 1)]
            urls.append(healthy.serve(f"/{n}.xml", rss(f"Paper {n}", good), "application/rss+xml"))
        lines = ["[newsletter]", "lookback_days = 0", "max_stories = 20", "[fetch]", "timeout = 3"]
        for url in [*urls, feed.base + "/feed.xml"]:
            lines += ["[[feeds]]", f'url = "{url}"']
        config = parse_config("\n".join(lines), Path(tmp))
        output = Path(tmp) / "output"
        with State(":memory:") as store:
            result = build(config, store, output, now=NOW + timedelta(minutes=1), issue_id="x")
        written = [p.read_bytes().decode("utf-8") for p in (output / "x").iterdir()]
    assert result.outcome is Outcome.WRITTEN
    assert internal.requests == []
    assert result.issue is not None
    titles = {s.title for s in result.issue.stories}
    assert {f"Healthy story {n}" for n in range(3)} <= titles
    assert written and not any(SECRET in text for text in written)
    for warning in result.warnings:
        assert _valid(warning)
