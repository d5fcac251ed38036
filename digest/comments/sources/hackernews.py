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
    guarded,
    host_of,
    iso_time,
    load_json,
    number,
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
    warnings: list[str] = []
    _walk(data["children"], None, 0, comments, warnings)
    submitter = data.get("author")
    return finish(
        comments,
        len(comments),
        submitter if isinstance(submitter, str) and submitter else None,
        warnings,
    )


def _walk(
    children: list[Any], parent: str | None, depth: int, out: list[Comment], warnings: list[str]
) -> None:
    for rank, item in enumerate(children):
        if not isinstance(item, dict) or item.get("type", "comment") != "comment":
            continue
        ident = str(item.get("id", ""))
        kids = item.get("children")
        kids = kids if isinstance(kids, list) else []
        where = _ITEM + ident if ident.isdigit() else API

        def make(
            item: dict[str, Any] = item,
            ident: str = ident,
            rank: int = rank,
            kids: list[Any] = kids,
        ) -> Comment:
            text, quote = body_of(str(item.get("text") or ""))
            return Comment(
                author=str(item.get("author") or "[deleted]"),
                text=text,
                quote=quote,
                url=_ITEM + ident if ident.isdigit() else None,
                published=iso_time(item.get("created_at")),
                score=number(item.get("points")),
                replies=len(kids),
                id=ident,
                parent=parent,
                depth=depth,
                source="hackernews",
                rank=rank,
            )

        comment = guarded(make, where, warnings)
        if comment is not None:
            out.append(comment)
            _walk(kids, ident, depth + 1, out, warnings)


SOURCE = Source("hackernews", JSON_ACCEPT, api_url, parse)
