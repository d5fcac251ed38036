"""Parametrised tables for the small pure functions of each stage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.collect.feeds import canonical_url, is_excerpt, parse_feed
from digest.errors import FeedError
from digest.models import Fetched
from digest.text.sanitise import html_to_paragraphs, safe_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.COM:443/a?utm_source=rss&id=3#frag", "https://example.com/a?id=3"),
        ("http://x.org/p?fbclid=1&gclid=2", "http://x.org/p"),
        ("https://x.org", "https://x.org/"),
        ("https://x.org:8080/a?b=1&utm_medium=feed&c=", "https://x.org:8080/a?b=1&c="),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("html", "excerpt"),
    [
        ("<p>Short teaser [&#8230;]</p>", True),
        ("<p>" + "word " * 300 + "</p>", False),
        ("<p>" + "word " * 300 + " Continue reading →</p>", True),
        ("<p>" + "word " * 300 + " [...]</p>", True),
        ("<p>One line.</p>", True),
    ],
)
def test_is_excerpt(html: str, excerpt: bool) -> None:
    assert is_excerpt(html) is excerpt


@pytest.mark.parametrize(
    ("html", "paragraphs"),
    [
        ("<p>a <b>b</b></p><p>c</p>", ["a b", "c"]),
        ("<script>alert(1)</script><p>x</p>", ["x"]),
        ("<style>p{}</style>text", ["text"]),
        ("A &amp; B<br>C", ["A & B", "C"]),
        ('<img src=x onerror="alert(1)">caption', ["caption"]),
        ("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>", ["<script>alert(1)</script>"]),
        ("", []),
    ],
)
def test_html_to_paragraphs(html: str, paragraphs: list[str]) -> None:
    assert html_to_paragraphs(html) == paragraphs


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("javascript:alert(1)", None, None),
        ("JaVaScRiPt:alert(1)", None, None),
        ("data:text/html,x", None, None),
        ("vbscript:x", None, None),
        ("/path", "https://a.example/x", "https://a.example/path"),
        ("/path", None, None),
        ("https://a.example/ok", None, "https://a.example/ok"),
        ("java\x00script:alert(1)", None, None),
        ("http://", None, None),
    ],
)
def test_safe_url(url: str, base: str | None, expected: str | None) -> None:
    assert safe_url(url, base) == expected


def _fetched(body: str, url: str = "https://site.example/feed") -> Fetched:
    return Fetched(url=url, final_url=url, content=body.encode())


def test_parse_feed_normalises_entries() -> None:
    body = """<?xml version="1.0"?><rss version="2.0"
      xmlns:media="http://search.yahoo.com/mrss/" xmlns:wfw="http://wellformedweb.org/CommentAPI/"
      xmlns:slash="http://purl.org/rss/1.0/modules/slash/"><channel><title>Site &amp; Co</title>
      <language>de-DE</language>
      <item><title>A &lt;b&gt;bold&lt;/b&gt; title</title><link>/a?utm_source=x&amp;k=1</link>
      <author>jo@site.example (Jo Writer)</author><pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate>
      <media:content url="https://img.example/1.jpg" medium="image"/>
      <wfw:commentRss>/a/feed/</wfw:commentRss><slash:comments>19</slash:comments>
      <description>Teaser [&#8230;]</description></item></channel></rss>"""
    title, entries = parse_feed(_fetched(body))
    assert title == "Site & Co"
    (entry,) = entries
    assert entry.title == "A <b>bold</b> title"  # RSS titles are plain text, shown as written
    assert entry.url == "https://site.example/a?k=1" == entry.key
    assert entry.author == "Jo Writer"
    assert entry.published == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert entry.image == "https://img.example/1.jpg"
    assert entry.comments_feed == "https://site.example/a/feed/"
    assert entry.comment_count == 19
    assert entry.language == "de"
    assert entry.is_excerpt


def test_atom_replies_link_and_thr_count() -> None:
    body = """<feed xmlns="http://www.w3.org/2005/Atom"
      xmlns:thr="http://purl.org/syndication/thread/1.0"><title>A</title>
      <entry><title>T</title><id>urn:1</id><link href="https://s.example/t"/>
      <link rel="replies" type="application/atom+xml" href="https://s.example/t/c" thr:count="7"/>
      <link rel="enclosure" type="image/png" href="https://s.example/i.png"/>
      <updated>2026-11-20T10:00:00Z</updated><content type="html">&lt;p&gt;x&lt;/p&gt;</content>
      </entry></feed>"""
    (entry,) = parse_feed(_fetched(body))[1]
    assert entry.comments_feed == "https://s.example/t/c"
    assert entry.comment_count == 7
    assert entry.image == "https://s.example/i.png"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("<!doctype html><html><body>hi</body></html>", "HTML page"),
        ("\x00\x01garbage", "not a feed"),
        ("<rss><channel></channel></rss>", "no entries"),
    ],
)
def test_not_a_feed(body: str, reason: str) -> None:
    with pytest.raises(FeedError, match=reason):
        parse_feed(_fetched(body))
