"""Discussions with votes, end to end: a build whose stories' comments live on Reddit and HN.

One loopback server plays a news site (RSS feeds), a Reddit-style API and the
Hacker News Algolia API, with one discussion rate-limited, one slow, one
answering HTML and one on a server that is down. Also: the corpus's recorded
Reddit and Discourse payloads served over loopback and read by the real fetcher.
"""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from digest.cli import Exit, app
from digest.collect.fetcher import Fetcher
from digest.comments import pick_comments
from digest.comments.sources import discourse, reddit
from digest.config import FetchSettings
from testkit.safety import unsafe_parts

NOW = datetime.now(UTC).replace(microsecond=0)
PARAGRAPHS = (
    "The regulator opened an inquiry into brake assemblies fitted to three family models.",
    "Owners reported a soft pedal after long descents, and the maker says a seal is to blame.",
    "Dealers will inspect cars free of charge from next month while parts are shipped.",
    "Independent mechanics say the fix takes an hour and most owners need not worry.",
)
Route = Callable[[], tuple[int, str, bytes]]


def _reply(content_type: str, body: bytes) -> tuple[int, str, bytes]:
    return 200, content_type, body


def _ago(hours: float) -> int:
    return int((NOW - timedelta(hours=hours)).timestamp())


def _reddit_comment(
    name: str, author: str, body: str, score: int, hours: float, replies: list[Any] | None = None
) -> dict[str, Any]:
    return {
        "kind": "t1",
        "data": {
            "name": name,
            "author": author,
            "body": body,
            "body_html": "&lt;div class='md'&gt;&lt;p&gt;" + body + "&lt;/p&gt;&lt;/div&gt;",
            "score": score,
            "created_utc": _ago(hours),
            "permalink": f"/r/cars/comments/a1/brakes/{name}/",
            "replies": {"kind": "Listing", "data": {"children": replies or []}} if replies else "",
        },
    }


REDDIT_THREAD = [
    {
        "kind": "Listing",
        "data": {
            "children": [{"kind": "t3", "data": {"num_comments": 57, "author": "recallwatch"}}]
        },
    },
    {
        "kind": "Listing",
        "data": {
            "children": [
                _reddit_comment(
                    "t1_w",
                    "wrenchturner",
                    "I replaced that seal on my own car last spring. It is a cheap part, but the "
                    "labour is the real cost if the dealer refuses to cover it.",
                    120,
                    20,
                    [
                        _reddit_comment(
                            "t1_p",
                            "pistonhead",
                            "Same here, and the dealer covered it once I showed them the service "
                            "bulletin from the maker.",
                            35,
                            19,
                        ),
                        _reddit_comment(
                            "t1_x",
                            "brakenerd",
                            "Did they also bleed the lines? Mine still felt soft until they did.",
                            12,
                            18,
                        ),
                    ],
                ),
                _reddit_comment("t1_d", "[deleted]", "[deleted]", 50, 19),
                _reddit_comment("t1_l", "linkdropper", "https://example.com/cheap-seals", 40, 19),
                _reddit_comment(
                    "t1_s", "shouter", "THIS MAKER NEVER RECALLS ANYTHING UNTIL FORCED TO", 30, 18
                ),
                _reddit_comment(
                    "t1_h",
                    "evil",
                    "Nice &lt;img src=x onerror=alert(1)&gt; bulletin, worth a read before you "
                    "book the inspection.",
                    25,
                    17,
                ),
                _reddit_comment(
                    "t1_o",
                    "recallwatch",
                    "Posting this because the inspection letters only go out next month, so "
                    "owners who sold or moved may never hear about the seal at all.",
                    60,
                    19.5,
                ),
                _reddit_comment(
                    "t1_q",
                    "quietreader",
                    "Mine is a 2019 model and has had no trouble at all over forty thousand "
                    "miles of hills.",
                    3,
                    2,
                ),
            ]
        },
    },
]

HN_ITEM = {
    "id": 4101,
    "type": "story",
    "author": "sam",
    "children": [
        {
            "id": 4102,
            "type": "comment",
            "author": "pat",
            "created_at": (NOW - timedelta(hours=5)).isoformat().replace("+00:00", "Z"),
            "text": "<p>The seal supplier also makes parts for two other brands, so this may "
            "not stay with one maker for long.</p>",
            "children": [
                {
                    "id": 4104,
                    "type": "comment",
                    "author": "lee",
                    "created_at": (NOW - timedelta(hours=4)).isoformat().replace("+00:00", "Z"),
                    "text": "<p>Which supplier? The filing only names the assembly plant.</p>",
                    "children": [],
                }
            ],
        },
        {
            "id": 4103,
            "type": "comment",
            "author": "sam",
            "created_at": (NOW - timedelta(hours=3)).isoformat().replace("+00:00", "Z"),
            "text": "<p>An hour of labour per car across three models adds up to a very "
            "expensive month for the dealers.</p><script>alert(2)</script>",
            "children": [],
        },
    ],
}


def _rss(base: str, name: str, items: list[tuple[str, str, int]]) -> str:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    entries = "".join(
        f"<item><title>{title}</title><link>{base}/{name}/{slug}/</link>"
        f"<guid>{base}/{name}/{slug}/</guid><pubDate>{format_datetime(NOW)}</pubDate>"
        f"<description>{PARAGRAPHS[0]}</description>"
        f"<content:encoded><![CDATA[{body}]]></content:encoded>"
        f"<comments>{discussion}</comments><slash:comments>{count}</slash:comments></item>"
        for title, (slug, discussion, count) in zip(
            (f"{name.title()} story {i}" for i in range(len(items))), items, strict=True
        )
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:slash="http://purl.org/rss/1.0/modules/slash/">'
        f"<channel><title>{name}</title><link>{base}/</link>{entries}</channel></rss>"
    )


@pytest.fixture
def site() -> Iterator[tuple[str, dict[str, Route]]]:
    """A threaded loopback server (one route may sleep without holding up the others)."""
    routes: dict[str, Route] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            status, kind, body = route() if route else (404, "text/plain", b"not here")
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up waiting (the slow route)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", routes
    server.shutdown()
    server.server_close()


def _json(data: object) -> Route:
    return lambda: (200, "application/json", json.dumps(data).encode())


def _slow() -> tuple[int, str, bytes]:
    time.sleep(3)
    return 200, "application/json", b"[]"


def test_reddit_and_hn_discussions_in_a_build(
    site: tuple[str, dict[str, Route]], tmp_path: Path
) -> None:
    base, routes = site
    forum = [
        ("brakes", f"{base}/r/cars/comments/a1/brakes/", 57),
        ("recall", f"{base}/r/cars/comments/b2/recall/", 12),
        ("slowpoke", f"{base}/r/cars/comments/c3/slowpoke/", 8),
    ]
    hn = [
        ("supplier", "https://news.ycombinator.com/item?id=4101", 3),
        ("dealers", "https://news.ycombinator.com/item?id=4200", 9),
    ]
    routes["/forum/feed.xml"] = lambda: (
        200,
        "application/rss+xml",
        _rss(base, "forum", forum).encode(),
    )
    routes["/hn/feed.xml"] = lambda: (200, "application/rss+xml", _rss(base, "hn", hn).encode())
    board = [("forum", f"{base}/t/engines/77", 4)]
    routes["/board/feed.xml"] = lambda: (
        200,
        "application/rss+xml",
        _rss(base, "board", board).encode(),
    )
    routes["/r/cars/comments/a1/brakes/.json"] = _json(REDDIT_THREAD)
    routes["/r/cars/comments/b2/recall/.json"] = lambda: (429, "text/plain", b"slow down")
    routes["/r/cars/comments/c3/slowpoke/.json"] = _slow
    routes["/api/v1/items/4101"] = _json(HN_ITEM)
    routes["/api/v1/items/4200"] = lambda: (200, "text/html", b"<html><body>Oops</body></html>")
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    config = tmp_path / "config.toml"
    config.write_text(
        "\n".join(
            [
                "[newsletter]",
                'title = "Test Insider"',
                "lookback_days = 0",
                "max_source_share = 1",  # every story, the slow thread's too
                'unsubscribe = "mailto:leave@example.com"',
                "[[feeds]]",
                f'url = "{base}/forum/feed.xml"',
                'comments = "reddit"',
                'comments_url = "{page}.json"',
                "[[feeds]]",
                f'url = "{base}/hn/feed.xml"',
                'comments = "hackernews"',
                f'comments_url = "{base}/api/v1/items/{{id}}"',
                "[[feeds]]",
                f'url = "{base}/board/feed.xml"',
                'comments = "discourse"',
                f'comments_url = "http://127.0.0.1:{closed_port}/t/{{id}}.json"',  # down
                "[fetch]",
                "timeout = 1",
            ]
        ),
        encoding="utf-8",
    )
    output = tmp_path / "output"
    result = CliRunner().invoke(
        app, ["build", "--config", str(config), "--output", str(output)], terminal_width=250
    )
    assert result.exit_code == Exit.WRITTEN, result.output
    folder = next(p for p in output.iterdir() if p.is_dir() and not p.name.startswith("."))
    stories = {
        s["url"].rsplit("/", 2)[-2]: s
        for s in json.loads((folder / "issue.json").read_text())["stories"]
    }
    assert set(stories) == {"brakes", "recall", "slowpoke", "supplier", "dealers", "forum"}

    brakes = stories["brakes"]
    assert brakes["comment_count"] == 57
    authors = [c["author"] for c in brakes["comments"]]
    assert len(authors) == 3 and "wrenchturner" in authors
    assert not {"[deleted]", "linkdropper", "shouter"} & set(authors)
    for comment in brakes["comments"]:
        assert isinstance(comment["score"], int | float) and isinstance(comment["replies"], int)
        assert comment["url"].startswith("https://www.reddit.com/r/cars/comments/a1/brakes/")
        assert datetime.fromisoformat(comment["published"]) < NOW + timedelta(minutes=1)
    wrench = next(c for c in brakes["comments"] if c["author"] == "wrenchturner")
    assert wrench["score"] == 120 and wrench["replies"] == 2
    assert [c["author"] for c in brakes["comments"] if c["by_author"]] == ["recallwatch"]

    supplier = stories["supplier"]
    assert supplier["comments"][0]["author"] == "pat"
    assert {c["author"] for c in supplier["comments"]} >= {"pat", "sam"}
    assert all(c["score"] is None for c in supplier["comments"])
    assert [c["author"] for c in supplier["comments"] if c["by_author"]] == ["sam"]
    assert supplier["comments"][0]["replies"] == 1
    assert supplier["comments"][0]["url"] == "https://news.ycombinator.com/item?id=4102"

    # Each failing discussion costs only its story's comments, with the feed's count kept.
    for slug, count in (("recall", 12), ("slowpoke", 8), ("dealers", 9), ("forum", 4)):
        assert stories[slug]["comments"] == [] and stories[slug]["comment_count"] == count
        assert stories[slug]["summary"]
    report = " ".join(result.output.split())
    assert "HTTP 429" in report and "timed out" in report and "expected JSON" in report
    assert f"127.0.0.1:{closed_port}/t/77.json: comments (discourse):" in report

    html = (folder / "email.html").read_text()
    assert "3 of 57 comments" in html and "wrenchturner</strong> · 20 hours ago" in html
    assert "recallwatch</strong> · author · 20 hours ago" in html
    assert "recallwatch (author), 20 hours ago:" in (folder / "email.txt").read_text()
    assert unsafe_parts(html) == []
    assert "onerror" not in (folder / "issue.json").read_text()


@pytest.mark.parametrize(
    ("pattern", "source", "content_type"),
    [
        ("reddit-*.json", reddit, "application/json"),
        ("discourse-*_posts.json", discourse, "application/json"),
    ],
)
def test_recorded_payloads_over_loopback(
    corpus: Path,
    site: tuple[str, dict[str, Route]],
    pattern: str,
    source: Any,
    content_type: str,
) -> None:
    """The real recorded API bodies, fetched by the real fetcher, parse and yield picks."""
    import asyncio

    base, routes = site
    files = sorted((corpus / "comments").glob(pattern))
    assert files
    for path in files:
        routes[f"/{path.name}"] = functools.partial(_reply, content_type, path.read_bytes())

    async def fetch_all() -> list[Any]:
        async with Fetcher(FetchSettings(timeout=10, max_bytes=20_000_000)) as fetcher:
            return [await fetcher.fetch(f"{base}/{p.name}", allow_local=False) for p in files]

    for path, fetched in zip(files, asyncio.run(fetch_all()), strict=True):
        thread = source.parse(fetched)
        assert len(thread.comments) >= 15, path.name
        picks = pick_comments(thread.comments, 3, 80)
        assert len(picks) == 3, path.name
        assert len({c.author for c in picks}) == 3
        assert all(unsafe_parts(c.text) == [] for c in picks)
