"""A loopback newsroom for the performance benches: many sites, many feeds, real latency.

Each "site" is its own HTTP/1.1 server on its own loopback address (127.0.0.x),
answering after a fixed delay, with ETag validation so a second pass costs 304s.
Every feed item carries full text except the newest ones, which either have a
comment feed or are excerpts that send the reader to an article page.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = [
    "dealer",
    "recall",
    "engine",
    "hybrid",
    "tariff",
    "plant",
    "battery",
    "price",
    "trim",
    "warranty",
    "owners",
    "market",
    "supply",
    "demand",
    "safety",
    "software",
    "charging",
    "range",
    "towing",
    "cabin",
    "sedan",
    "truck",
]
SENTENCES = [
    "{maker} confirmed on Tuesday that the {model} will receive a {topic} before the spring.",
    "Dealers in the Midwest said demand for the {model} has outpaced supply for most of the year.",
    "The company expects the change to affect roughly {n},000 vehicles built since last March.",
    "Analysts at two banks described the move as a sensible answer to rising material costs.",
    "Owners will be notified by mail, and the work will be done at no charge at any dealer.",
    "The {model} competes in one of the busiest segments of the North American market.",
    "A spokesperson for {maker} declined to say whether other models would follow.",
    "Independent testers found the revised {model} slightly quieter on the highway.",
    "Insurance data shows the {model} has one of the lower claim rates in its class.",
    "The announcement came a week after a rival cut prices on its own competing model.",
    "Shares of {maker} rose a little more than {n} percent in afternoon trading.",
    "Regulators have asked for a written report on the {topic} within {n} days.",
]
MAKERS = ["Ford", "Toyota", "Honda", "Kia", "Volvo", "Subaru", "Mazda", "Hyundai", "Jeep", "Ram"]
MODELS = ["Ranger", "Tacoma", "Civic", "Telluride", "XC60", "Outback", "CX-5", "Wrangler"]
TOPICS = ["recall", "price cut", "new trim", "hybrid option", "tariff", "plant expansion"]
COMMENTS = [
    "The {model} has been a solid choice for my family for years, and this sounds like a "
    "reasonable fix that owners will appreciate.",
    "I work at a dealer. The parts have been on back order for weeks, so expect a wait "
    "before the work can be done. Call ahead and ask about your VIN first.",
    "Another year, another announcement. I will believe the price when I see it on a "
    "window sticker at my local store, not before.",
    "First!",
    "My neighbour had the same problem with his {model} last winter and the dealer "
    "fixed it in an afternoon without any fuss at all.",
    "Honestly the bigger story is how long it took {maker} to admit there was anything "
    "wrong with the design in the first place.",
]


def article_paragraphs(index: int, sentences: int = 12) -> list[str]:
    """Paragraphs of one story's text, varied by `index`."""
    words = {
        "maker": MAKERS[index % len(MAKERS)],
        "model": MODELS[index % len(MODELS)],
        "topic": TOPICS[index % len(TOPICS)],
        "n": str(3 + index % 40),
    }
    text = [SENTENCES[(index + k) % len(SENTENCES)].format(**words) for k in range(sentences)]
    return [" ".join(text[k : k + 3]) for k in range(0, len(text), 3)]


@dataclass
class Item:
    index: int
    slug: str
    title: str
    published: datetime
    comments: bool = False
    excerpt: bool = False


@dataclass
class Site:
    """One host: its documents by path, each with an ETag."""

    host: str
    documents: dict[str, tuple[bytes, str]] = field(default_factory=dict)

    def add(self, path: str, body: str, content_type: str) -> None:
        self.documents[path] = (body.encode(), content_type)


def _rss(base: str, title: str, items: list[Item]) -> str:
    parts = []
    for item in items:
        paragraphs = article_paragraphs(item.index)
        body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        if item.excerpt:
            content = f"<description>{escape(paragraphs[0][:90])} [&#8230;]</description>"
        else:
            content = (
                f"<description>{escape(paragraphs[0][:90])}</description>"
                f"<content:encoded><![CDATA[{body}]]></content:encoded>"
            )
        comments = ""
        if item.comments:
            comments = (
                f"<wfw:commentRss>{base}/{item.slug}/feed/</wfw:commentRss>"
                f"<slash:comments>{len(COMMENTS)}</slash:comments>"
                f"<comments>{base}/{item.slug}/#comments</comments>"
            )
        parts.append(
            f"<item><title>{escape(item.title)}</title><link>{base}/{item.slug}/</link>"
            f'<guid isPermaLink="false">{base}/?p={item.slug}</guid>'
            f"<dc:creator>Jo Writer</dc:creator>"
            f"<pubDate>{format_datetime(item.published)}</pubDate>{content}{comments}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:wfw="http://wellformedweb.org/CommentAPI/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:slash="http://purl.org/rss/1.0/modules/slash/">'
        f"<channel><title>{escape(title)}</title><link>{base}/</link>"
        f"<language>en-US</language>{''.join(parts)}</channel></rss>"
    )


def _comment_rss(base: str, item: Item) -> str:
    words = {"maker": MAKERS[item.index % len(MAKERS)], "model": MODELS[item.index % 8]}
    entries = []
    for number, text in enumerate(COMMENTS, start=1):
        when = item.published + timedelta(minutes=30 * number)
        entries.append(
            f"<item><title>By: Reader {number}</title>"
            f"<link>{base}/{item.slug}/#comment-{number}</link>"
            f"<dc:creator>Reader {number}</dc:creator><pubDate>{format_datetime(when)}</pubDate>"
            f'<guid isPermaLink="false">{base}/?c={item.slug}-{number}</guid>'
            f"<content:encoded><![CDATA[<p>{escape(text.format(**words))}</p>]]>"
            "</content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>Comments on: {escape(item.title)}</title>{''.join(entries)}"
        "</channel></rss>"
    )


def _page(base: str, item: Item) -> str:
    nav = "".join(f'<li><a href="{base}/section/{w}/">{w.title()}</a></li>' for w in WORDS)
    body = "".join(f"<p>{escape(p)}</p>" for p in article_paragraphs(item.index, 24))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(item.title)}</title>"
        f'<meta property="og:image" content="{base}/images/{item.slug}.jpg">'
        f'<meta property="og:title" content="{escape(item.title)}">'
        '<meta property="article:published_time" content="2026-11-30T08:00:00+00:00">'
        f"</head><body><header><nav><ul>{nav}</ul></nav></header>"
        f"<main><article><h1>{escape(item.title)}</h1><p class='byline'>By Jo Writer</p>"
        f"{body}</article></main><aside><ul>{nav}</ul></aside>"
        "<footer><p>Copyright the newsroom. All rights reserved.</p></footer></body></html>"
    )


def make_newsroom(
    now: datetime,
    *,
    sites: int = 50,
    feeds: int = 100,
    items: int = 20,
    comment_feeds: int = 40,
    pages: int = 20,
    port: int = 8731,
) -> tuple[list[Site], list[str]]:
    """The sites and the feed URLs; the newest `comment_feeds + pages` items are special."""
    hosts = [Site(f"127.0.0.{2 + s}") for s in range(sites)]
    feed_urls = []
    for f in range(feeds):
        site = hosts[f % sites]
        base = f"http://{site.host}:{port}"
        chosen = []
        for i in range(items):
            index = f * items + i
            special = i == 0 and f < comment_feeds + pages
            hours = 1.0 + f / 1000 if special else 2.0 + i * 2 + f / 1000
            chosen.append(
                Item(
                    index=index,
                    slug=f"f{f}-story-{i}",
                    title=f"{MAKERS[index % 10]} {MODELS[index % 8]} story {index}",
                    published=now - timedelta(hours=hours),
                    comments=special and f < comment_feeds,
                    excerpt=special and f >= comment_feeds,
                )
            )
        path = f"/feed-{f}.xml"
        site.add(path, _rss(base, f"Newsroom feed {f}", chosen), "application/rss+xml")
        for item in chosen:
            if item.comments:
                site.add(f"/{item.slug}/feed/", _comment_rss(base, item), "application/rss+xml")
            if item.excerpt:
                site.add(f"/{item.slug}/", _page(base, item), "text/html; charset=utf-8")
        feed_urls.append(base + path)
    return hosts, feed_urls


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128


class Newsroom:
    """Serve every site on its own address until `close()`; counts requests."""

    def __init__(self, sites: list[Site], *, port: int, latency: float) -> None:
        self.requests = 0
        self.not_modified = 0
        self._lock = threading.Lock()
        self._servers = [self._serve(site, port, latency) for site in sites]

    def _serve(self, site: Site, port: int, latency: float) -> _Server:
        newsroom = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                time.sleep(latency)
                found = site.documents.get(self.path.split("?")[0])
                with newsroom._lock:
                    newsroom.requests += 1
                if found is None:
                    self._answer(404, b"not found", "text/plain")
                    return
                body, content_type = found
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    with newsroom._lock:
                        newsroom.not_modified += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._answer(200, body, content_type, etag)

            def _answer(self, status: int, body: bytes, kind: str, etag: str = "") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if etag:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = _Server((site.host, port), Handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return server

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
