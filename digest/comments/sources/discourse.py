"""Discourse topics: `/t/<id>.json` (or `/t/<id>/posts.json`), likes as votes.

The first post is the topic itself, not a comment. Quote boxes (`aside.quote`)
repeat someone else's words, so they are removed before the text is read.
"""

from __future__ import annotations

import re
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
    iso_time,
    load_json,
    number,
)
from digest.errors import FeedError
from digest.models import Comment, CommentThread, Fetched

_TOPIC = re.compile(r"^/t/(?:[^/]+/)?(\d+)(?:/\d+)?/?$")


def api_url(page: str) -> str | None:
    """`https://forum/t/<slug>/<id>` → `https://forum/t/<id>.json`; None for other links."""
    parts = urlsplit(page)
    match = _TOPIC.match(parts.path)
    if parts.scheme not in ("http", "https") or not match:
        return None
    return urlunsplit((parts.scheme, parts.netloc, f"/t/{match.group(1)}.json", "", ""))


def parse(fetched: Fetched) -> CommentThread:
    """The topic's replies in post order; `posts_count` (less the opening post) as total."""
    data = load_json(fetched)
    stream = data.get("post_stream") if isinstance(data, dict) else None
    posts = stream.get("posts") if isinstance(stream, dict) else None
    if not isinstance(posts, list):
        raise FeedError("not a Discourse topic: no 'post_stream.posts'")
    base = _origin(fetched.final_url)
    # A post number that is no number still names its post (as its place in the stream).
    by_number = {
        _number(p.get("post_number"), place): p
        for place, p in enumerate(posts)
        if isinstance(p, dict)
    }
    opener = _opener(data, by_number)
    warnings: list[str] = []
    kept = []
    for post in by_number.values():
        path = post.get("post_url")
        where = base + path if isinstance(path, str) and path.startswith("/") else fetched.url
        comment = guarded(partial(_comment, post, base, by_number, opener), where, warnings)
        if comment is not None and comment is not _SKIP:
            kept.append(comment)
    total = count(data.get("posts_count"))
    return finish(kept, total - 1 if total else None, warnings=warnings)


def _number(value: Any, place: int) -> object:
    return value if value is None or isinstance(value, int | str) else f"#{place}"


def _opener(data: dict[str, Any], by_number: dict[Any, Any]) -> str | None:
    """The username of whoever opened the topic (from post 1, else the topic details)."""
    first = by_number.get(1)
    details = data.get("details")
    creator = details.get("created_by") if isinstance(details, dict) else None
    for who in (first, creator):
        if isinstance(who, dict) and isinstance(who.get("username"), str):
            return str(who["username"])
    return None


_SKIP = Comment(author="", text="")  # not a comment: the opening post, a moderator action


def _comment(
    post: dict[str, Any], base: str, by_number: dict[Any, Any], opener: str | None
) -> Comment:
    if post.get("post_number") == 1 or post.get("post_type", 1) != 1:
        return _SKIP  # the opening post, or a moderator action / whisper
    deleted = post.get("deleted_at") or post.get("user_deleted") or post.get("hidden")
    parent_number = post.get("reply_to_post_number")
    parent = by_number.get(parent_number) if parent_number not in (None, 1) else None
    path = post.get("post_url")
    text, quote = body_of(str(post.get("cooked") or ""))
    return Comment(
        author=str(post.get("name") or post.get("username") or "Anonymous"),
        text="[deleted]" if deleted else text,
        url=base + path if isinstance(path, str) and path.startswith("/") and base else None,
        published=iso_time(post.get("created_at")),
        score=number(_likes(post)),
        replies=count(post.get("reply_count")),
        id=str(post.get("id")),
        parent=str(parent.get("id")) if isinstance(parent, dict) else None,
        source="discourse",
        by_author=opener is not None and post.get("username") == opener,
        quote=None if deleted else quote,
    )


def _likes(post: dict[str, Any]) -> int:
    if isinstance(post.get("like_count"), int):
        return int(post["like_count"])
    for action in post.get("actions_summary") or []:
        if isinstance(action, dict) and action.get("id") == 2:
            return int(action.get("count") or 0)
    return 0


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else ""


SOURCE = Source("discourse", JSON_ACCEPT, api_url, parse)
