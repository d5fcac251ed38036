"""Reddit threads: the thread's `.json` listing, comments nested through `replies`.

`kind: "more"` stubs (comments not loaded) are skipped; `[deleted]` and
`[removed]` comments are kept here with their text so the replies under them
still count, and the filters drop them later.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from digest.comments.sources import (
    JSON_ACCEPT,
    Source,
    body_of,
    count,
    finish,
    guarded,
    host_of,
    load_json,
    number,
)
from digest.errors import FeedError
from digest.models import Comment, CommentThread, Fetched

_SITE = "https://www.reddit.com"


def api_url(page: str) -> str | None:
    """`…/comments/<id>/<slug>/` → its `.json` listing; None for other links."""
    host = host_of(page)
    if not (host == "reddit.com" or host.endswith(".reddit.com") or host == "redd.it"):
        return None
    parts = urlsplit(page)
    path = parts.path.rstrip("/")
    if host == "redd.it":
        return f"{_SITE}/comments/{path.strip('/')}.json?raw_json=1" if path else None
    if "/comments/" not in path:
        return None
    if not path.endswith(".json"):
        path += ".json"
    return urlunsplit(("https", "www.reddit.com", path, "raw_json=1", ""))


def parse(fetched: Fetched) -> CommentThread:
    """Every loaded comment of a `[submission, comments]` listing pair, in served order."""
    data = load_json(fetched)
    if not (isinstance(data, list) and len(data) == 2):
        raise FeedError("not a Reddit thread: expected [submission, comments] listings")
    total: int | None
    try:
        total = count(data[0]["data"]["children"][0]["data"]["num_comments"])
    except (KeyError, IndexError, TypeError, ValueError):
        total = None
    comments: list[Comment] = []
    warnings: list[str] = []
    _walk(_children(data[1]), None, 0, comments, (fetched.final_url, warnings))
    return finish(comments, total, _submitter(data[0]), warnings)


def _submitter(listing: Any) -> str | None:
    """Who posted the thread (None when unknown or deleted)."""
    children = _children(listing)
    post = children[0].get("data") if children and isinstance(children[0], dict) else None
    author = post.get("author") if isinstance(post, dict) else None
    return author if isinstance(author, str) and author not in ("[deleted]", "") else None


def _children(listing: Any) -> list[Any]:
    if not isinstance(listing, dict):
        return []
    children = (listing.get("data") or {}).get("children")
    return children if isinstance(children, list) else []


def _walk(
    children: list[Any],
    parent: str | None,
    depth: int,
    out: list[Comment],
    report: tuple[str, list[str]],
) -> None:
    thread, warnings = report
    for rank, child in enumerate(children):
        if not isinstance(child, dict) or child.get("kind") != "t1":
            continue  # "more" stubs stand for comments not loaded
        data: dict[str, Any] = child["data"] if isinstance(child.get("data"), dict) else {}
        where = f"{_SITE}{data['permalink']}" if isinstance(data.get("permalink"), str) else thread
        comment = guarded(partial(_comment, data, parent, depth, rank), where, warnings)
        if comment is None:
            continue  # its replies go with it: they answer what is not shown
        out.append(comment)
        _walk(_children(data.get("replies")), comment.id, depth + 1, out, report)


def _comment(data: dict[str, Any], parent: str | None, depth: int, rank: int) -> Comment:
    name = str(data.get("name") or f"t1_{data.get('id', '')}")
    body_html = data.get("body_html")
    if isinstance(body_html, str) and body_html:
        # Without raw_json=1 Reddit escapes the HTML once more (it then starts "&lt;div").
        escaped = body_html.lstrip().startswith("&lt;")
        text, quote = body_of(html.unescape(body_html) if escaped else body_html)
    else:
        text, quote = body_of(_markdown_paragraphs(str(data.get("body") or "")))
    created = number(data.get("created_utc"))
    permalink = data.get("permalink")
    return Comment(
        author=str(data.get("author") or "[deleted]"),
        text=text,
        url=f"{_SITE}{permalink}" if isinstance(permalink, str) else None,
        published=datetime.fromtimestamp(created, UTC) if created is not None else None,
        score=number(data.get("score")),
        replies=_reply_count(_children(data.get("replies"))),
        id=name,
        parent=parent,
        depth=depth,
        source="reddit",
        quote=quote,
        rank=rank,
    )


def _markdown_paragraphs(body: str) -> str:
    """Markdown source as escaped HTML paragraphs (blank lines end them, "> " stays visible)."""
    return "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n") if p.strip())


def _reply_count(children: list[Any]) -> int:
    """Direct replies, counting those a "more" stub stands for."""
    count = 0
    for child in children:
        if not isinstance(child, dict):
            continue
        if child.get("kind") == "t1":
            count += 1
        elif child.get("kind") == "more":
            count += len((child.get("data") or {}).get("children") or [])
    return count


SOURCE = Source("reddit", JSON_ACCEPT, api_url, parse)
