"""Loopback servers on chosen 127.0.0.x addresses, and the hostile items the attack suite serves.

Linux routes all of 127/8 to the loopback interface, so 127.0.0.2 and
127.0.0.3 are two hosts as far as the fetch policy is concerned: a feed on
one may not make digest read the other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[], tuple[int, dict[str, str], bytes]]
SECRET = "INTERNAL-ONLY credentials: root / hunter2 (metadata service)"
NOW = datetime.now(UTC)
PARAGRAPHS = [
    "The company said on Tuesday that it would recall about forty thousand pickups built "
    "at two plants last year, after reports of brake lines that wear through early.",
    "Owners will be told by mail, and dealers will replace the lines at no charge; the "
    "work takes about two hours and parts are expected to reach dealers next month.",
    "Regulators opened a review in the spring after a handful of complaints, and the "
    "maker said it knew of no crashes or injuries linked to the problem so far.",
    "Analysts said the cost would be modest next to the brand's sales, but the timing is "
    "awkward in a year when the model line has been the company's steadiest seller.",
]


class Loopback:
    """A threaded HTTP server on one loopback address, serving `routes`, logging requests."""

    def __init__(self, host: str) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        routes, requests = self.routes, self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                route = routes.get(self.path.split("?", 1)[0])
                status, headers, body = route() if route else (404, {}, b"not here")
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://{host}:{self.server.server_port}"

    def serve(self, path: str, body: str | bytes, kind: str = "text/html; charset=utf-8") -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = lambda: (200, {"Content-Type": kind}, data)
        return self.base + path

    def redirect(self, path: str, location: str) -> str:
        self.routes[path] = lambda: (302, {"Location": location}, b"")
        return self.base + path


@contextmanager
def loopback(host: str) -> Iterator[Loopback]:
    site = Loopback(host)
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.server.shutdown()
        site.server.server_close()


def item(
    title: str,
    link: str,
    *,
    hours_ago: int = 1,
    excerpt: bool = False,
    extra: str = "",
    raw_title: bool = False,
    date: str | None = None,
) -> str:
    """One RSS item; `raw_title` puts the title into the XML as given (already escaped)."""
    body = "".join(f"<p>{escape(p)}</p>" for p in PARAGRAPHS)
    content = (
        f"<description>{escape(PARAGRAPHS[0][:80])} [&#8230;]</description>"
        if excerpt
        else f"<content:encoded><![CDATA[{body}]]></content:encoded>"
    )
    when = date or format_datetime(NOW - timedelta(hours=hours_ago, minutes=1))
    shown = title if raw_title else escape(title)
    return (
        f"<item><title>{shown}</title><link>{escape(link)}</link>"
        f"<guid isPermaLink='false'>{escape(link)}#{hours_ago}</guid>"
        f"<pubDate>{when}</pubDate>{content}{extra}</item>"
    )


def rss(title: str, items: list[str]) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:wfw="http://wellformedweb.org/CommentAPI/"'
        ' xmlns:slash="http://purl.org/rss/1.0/modules/slash/">'
        f"<channel><title>{escape(title)}</title>{''.join(items)}</channel></rss>"
    )


def article(title: str) -> str:
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in PARAGRAPHS)
    return (
        f"<!doctype html><html><head><title>{escape(title)}</title></head><body>"
        f"<main><article><h1>{escape(title)}</h1>{paragraphs}</article></main></body></html>"
    )


def secret_page() -> str:
    return f"<!doctype html><html><body><article><p>{SECRET}</p>" + (
        "<p>" + " ".join(["Internal notes follow for staff only."] * 30) + "</p></article>"
        "</body></html>"
    )
