"""Hacker News threads through the Algolia items API (`/api/v1/items/<id>`).

HN shows no points for comments (`points` is null); its order of children is
its own ranking, so each comment keeps its place among siblings as `rank`
and its reply count, which stand in for votes.
"""

from __future__ import annotations

from typing import Any

from digest.comments.sources import (
    JSON_ACCEPT,
    Source,
    body_of,
    finish,
    host_of,
    iso_time,
    load_json,
)
from digest.errors import FeedError
from digest.models import Comment, CommentThread, Fetched

API = "https://hn.algolia.com/api/v1/items/"
_ITEM = "https://news.ycombinator.com/item?id="


def api_url(page: str) -> str | None:
    """`news.ycombinator.com/item?id=N` → the Algolia item; None for other links."""
    if host_of(page) != "news.ycombinator.com" or "id=" not in page:
        return None
    number = page.split("id=", 1)[1].split("&", 1)[0]
    return API + number if number.isdigit() else None


def parse(fetched: Fetched) -> CommentThread:
    """Every comment under the story item, depth first in HN's order."""
    data = load_json(fetched)
    if not isinstance(data, dict) or not isinstance(data.get("children"), list):
        raise FeedError("not a Hacker News item: no 'children'")
    comments: list[Comment] = []
    _walk(data["children"], None, 0, comments)
    submitter = data.get("author")
    return finish(
        comments, len(comments), submitter if isinstance(submitter, str) and submitter else None
    )


def _walk(children: list[Any], parent: str | None, depth: int, out: list[Comment]) -> None:
    for rank, item in enumerate(children):
        if not isinstance(item, dict) or item.get("type", "comment") != "comment":
            continue
        ident = str(item.get("id", ""))
        kids = item.get("children")
        if not isinstance(kids, list):
            kids = []
        points = item.get("points")
        text, quote = body_of(str(item.get("text") or ""))
        out.append(
            Comment(
                author=str(item.get("author") or "[deleted]"),
                text=text,
                url=_ITEM + ident if ident.isdigit() else None,
                published=iso_time(item.get("created_at")),
                score=float(points) if isinstance(points, int | float) else None,
                replies=len(kids),
                id=ident,
                parent=parent,
                depth=depth,
                source="hackernews",
                quote=quote,
                rank=rank,
            )
        )
        _walk(kids, ident, depth + 1, out)


SOURCE = Source("hackernews", JSON_ACCEPT, api_url, parse)
