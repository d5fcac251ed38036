"""The bundled demo newsroom: its feeds parse, its transport serves them, its pages extract."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
import trafilatura
from lxml import html as lxml_html

from digest.config import load_config
from digest.demo import CONFIG_PATH, DEMO_HOST, SITE_DIR, demo_image_files, demo_transport

BASE = f"https://{DEMO_HOST}"
FEEDS = {
    f"{BASE}/ledger/feed/": ("The Motor Ledger", 5, "rss20"),
    f"{BASE}/gazette/rss.xml": ("Gearbox Gazette", 4, "rss20"),
    f"{BASE}/openroad/atom.xml": ("Open Road Review", 3, "atom10"),
}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(transport=demo_transport()) as c:
        yield c


def parse(client: httpx.Client, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, url
    return feedparser.parse(response.content)


def comment_feed_url(entry: Any) -> str:
    """wfw:commentRss for RSS, the RFC 4685 rel="replies" link for Atom."""
    if "wfw_commentrss" in entry:
        return str(entry.wfw_commentrss)
    replies = [link for link in entry.links if link.get("rel") == "replies"]
    assert len(replies) == 1
    return str(replies[0]["href"])


def announced_total(entry: Any) -> int:
    if "slash_comments" in entry:
        return int(entry.slash_comments)
    replies = next(link for link in entry.links if link.get("rel") == "replies")
    return int(replies["thr:count"])


def all_entries(client: httpx.Client) -> list[Any]:
    return [e for url in FEEDS for e in parse(client, url).entries]


# (a) feeds and comment feeds ---------------------------------------------------------


@pytest.mark.parametrize("url", FEEDS)
def test_feed_parses_cleanly(client: httpx.Client, url: str) -> None:
    title, count, version = FEEDS[url]
    parsed = parse(client, url)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == version
    assert parsed.feed.title == title
    assert parsed.feed.language == "en-US"
    assert len(parsed.entries) == count
    for entry in parsed.entries:
        assert entry.title and entry.author and entry.published_parsed
        assert (11, 18) <= entry.published_parsed[1:3] <= (11, 25)
        assert entry.published_parsed[0] == 2026


def test_twelve_articles_with_distinct_links(client: httpx.Client) -> None:
    entries = all_entries(client)
    assert len(entries) == 12
    assert len({e.link for e in entries}) == 12


def test_ledger_is_full_text_with_tracking_links(client: httpx.Client) -> None:
    for entry in parse(client, f"{BASE}/ledger/feed/").entries:
        assert "utm_source=rss&utm_medium=rss" in entry.link
        text = lxml_html.fromstring(entry.content[0].value).text_content()
        assert 300 <= len(text.split()) <= 700
        assert entry.media_content[0]["medium"] == "image"


def test_gazette_carries_excerpts_only(client: httpx.Client) -> None:
    for entry in parse(client, f"{BASE}/gazette/rss.xml").entries:
        assert "content" not in entry
        assert entry.summary.endswith(("[…]", "[&#8230;]"))
        assert len(entry.summary.split()) < 80


def test_comment_feeds(client: httpx.Client) -> None:
    total = 0
    for entry in all_entries(client):
        parsed = parse(client, comment_feed_url(entry))
        assert not parsed.bozo, (entry.title, parsed.get("bozo_exception"))
        assert parsed.feed.title == f"Comments on: {entry.title}"
        assert 5 <= len(parsed.entries) <= 30, entry.title
        assert announced_total(entry) >= len(parsed.entries)
        article = entry.published_parsed
        for comment in parsed.entries:
            assert comment.author and comment.content[0].value
            assert comment.published_parsed > article
        total += len(parsed.entries)
    assert total == 152


def test_atom_replies_point_at_entries_in_the_thread(client: httpx.Client) -> None:
    for entry in parse(client, f"{BASE}/openroad/atom.xml").entries:
        comments = parse(client, comment_feed_url(entry)).entries
        ids = {c.id for c in comments}
        replies = [c["thr_in-reply-to"]["ref"] for c in comments]
        assert all(ref == entry.id or ref in ids for ref in replies)
        assert any(ref in ids for ref in replies)  # at least one reply to a comment


def test_hostile_comment_is_shipped_in_the_ledger() -> None:
    thread = "ledger/2026/11/castellan-recalls-crossovers-seat-belt-anchors/feed/index.xml"
    text = (SITE_DIR / thread).read_text(encoding="utf-8")
    for payload in ("<script>alert(1)</script>", "onerror=alert(1)", "javascript:", "{{ 7*7 }}"):
        assert payload in text


# (b) the transport -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/ledger/feed/", "application/rss+xml; charset=utf-8"),
        ("/gazette/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/openroad/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/openroad/winter-tires-explained/comments.xml", "application/atom+xml; charset=utf-8"),
        ("/gazette/2026/11/why-the-manual-gearbox-refuses-to-die/", "text/html; charset=utf-8"),
        ("/images/tamura-pickup.png", "image/png"),
    ],
)
def test_transport_serves_files(client: httpx.Client, path: str, content_type: str) -> None:
    response = client.get(BASE + path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["etag"]


def test_transport_ignores_query_strings(client: httpx.Client) -> None:
    response = client.get(f"{BASE}/gazette/rss.xml?utm_source=rss")
    assert response.status_code == 200


def test_png_is_600_by_300(client: httpx.Client) -> None:
    body = client.get(f"{BASE}/images/winter-tires.png").content
    assert body[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(body[16:20]) == 600 and int.from_bytes(body[20:24]) == 300


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/nothing-here.xml",
        f"{BASE}/ledger/2026/11/no-such-story/feed/",
        f"{BASE}/",
        "https://example.com/ledger/feed/",
        "https://evil.example/images/tamura-pickup.png",
    ],
)
def test_transport_404(client: httpx.Client, url: str) -> None:
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/%2e%2e/config.toml",
        b"/%2E%2E/%2E%2E/__init__.py",
        b"/images/%2e%2e/%2e%2e/config.toml",
        b"/images/..%2f..%2fconfig.toml",
        b"/images/..%5c..%5cconfig.toml",
    ],
)
def test_transport_refuses_traversal(client: httpx.Client, raw_path: bytes) -> None:
    url = httpx.URL(BASE).copy_with(raw_path=raw_path)
    assert ".." in url.path
    assert client.get(url).status_code == 404


def test_folder_without_slash_redirects(client: httpx.Client) -> None:
    response = client.get(f"{BASE}/ledger/feed")
    assert response.status_code == 301
    assert response.headers["location"] == f"{BASE}/ledger/feed/"


def test_conditional_get(client: httpx.Client) -> None:
    first = client.get(f"{BASE}/ledger/feed/")
    etag = first.headers["etag"]
    again = client.get(f"{BASE}/ledger/feed/", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    other = client.get(f"{BASE}/ledger/feed/", headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200
    assert other.content == first.content


def test_async_client_uses_the_transport() -> None:
    async def fetch() -> httpx.Response:
        async with httpx.AsyncClient(transport=demo_transport()) as c:
            return await c.get(f"{BASE}/openroad/atom.xml")

    assert asyncio.run(fetch()).status_code == 200


def test_image_files_cover_every_story_image(client: httpx.Client) -> None:
    images = demo_image_files()
    assert len(images) == 12
    assert all(path.is_file() and path.stat().st_size < 15_000 for path in images.values())
    used = set()
    for entry in parse(client, f"{BASE}/ledger/feed/").entries:
        used.add(entry.media_content[0]["url"])
    for entry in parse(client, f"{BASE}/openroad/atom.xml").entries:
        used.update(link["href"] for link in entry.links if link.get("rel") == "enclosure")
    for entry in parse(client, f"{BASE}/gazette/rss.xml").entries:
        page = lxml_html.fromstring(client.get(entry.link).content)
        used.update(page.xpath('//meta[@property="og:image"]/@content'))
    assert used == set(images)


# (c) the Gazette's pages need a real extractor ------------------------------------------


def gazette_pages(client: httpx.Client) -> list[tuple[str, bytes]]:
    return [
        (e.link, client.get(e.link).content)
        for e in parse(client, f"{BASE}/gazette/rss.xml").entries
    ]


def test_gazette_pages_extract_cleanly(client: httpx.Client) -> None:
    pages = gazette_pages(client)
    assert len(pages) == 4
    for url, body in pages:
        doc = lxml_html.fromstring(body)
        paragraphs = [p.text_content() for p in doc.xpath('//div[@class="entry-content"]/p')]
        assert 5 <= len(paragraphs) <= 10
        assert 400 <= len(" ".join(paragraphs).split()) <= 800
        chrome = [
            " ".join(el.text_content().split())
            for el in doc.xpath(
                '//aside[contains(@class, "sidebar")]//li | //aside[contains(@class, "sidebar")]//p'
                ' | //div[@id="cookie-consent"]/p | //nav//a'
            )
        ]
        assert chrome
        extracted = trafilatura.extract(body.decode("utf-8"), include_comments=False)
        assert extracted, url
        assert paragraphs[0] in extracted
        assert paragraphs[-1] in extracted
        assert "Most read" not in extracted
        assert "cookies" not in extracted
        for text in chrome:
            assert text not in extracted, (url, text)


# (d) every comment link resolves ----------------------------------------------------------


def test_every_comment_link_resolves_to_a_file(client: httpx.Client) -> None:
    seen = 0
    for entry in all_entries(client):
        url = comment_feed_url(entry)
        assert url.startswith(f"{BASE}/")
        response = client.get(url)
        assert response.status_code == 200, url
        seen += 1
    assert seen == 12


def test_every_file_is_reachable(client: httpx.Client) -> None:
    """Nothing in the site is orphaned: each file is a feed, a page, a thread or an image."""
    reachable: set[Path] = set(demo_image_files().values())
    urls = list(FEEDS)
    for entry in all_entries(client):
        urls.append(comment_feed_url(entry))
        if "gazette" in entry.link:
            urls.append(entry.link)
    for url in urls:
        path = url.removeprefix(BASE + "/")
        target = SITE_DIR / path
        if path.endswith("/"):
            target = next(target / n for n in ("index.html", "index.xml") if (target / n).exists())
        reachable.add(target)
    assert {p for p in SITE_DIR.rglob("*") if p.is_file()} == reachable


def test_site_is_small() -> None:
    assert sum(p.stat().st_size for p in SITE_DIR.rglob("*") if p.is_file()) < 600_000


def test_demo_config_loads() -> None:
    config = load_config(CONFIG_PATH)
    assert config.newsletter.lookback_days == 0
    assert [f.url for f in config.feeds] == list(FEEDS)
    assert config.newsletter.unsubscribe.endswith(f"@{DEMO_HOST}?subject=unsubscribe")
