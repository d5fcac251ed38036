"""Where a story's conversation lives, and how each place's format becomes `Comment`s.

Every source is one module exposing a `Source`: a name, what to send as
Accept, how to turn a discussion link into its API URL, and a parser from
the fetched body to a `CommentThread`. `locate()` picks the source for an
entry: the configured one, else the entry's comment feed, else the first
source that recognises the entry's `comments` link.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from digest import isolate
from digest.comments.quotes import lift_echoes, read_body
from digest.errors import FeedError
from digest.models import Comment, CommentThread, Fetched, Quote
from digest.text.sanitise import clean_text, safe_url

T = TypeVar("T")

JSON_ACCEPT = "application/json"
_NOBODY = {"[deleted]", "[removed]", "Anonymous", ""}
_NUMBER = re.compile(r"(\d+)(?!.*\d)")


@dataclass(frozen=True)
class Source:
    """One kind of comment source behind the common interface."""

    name: str
    accept: str
    api_url: Callable[[str], str | None]  # discussion link → API URL, None when not ours
    parse: Callable[[Fetched], CommentThread]


@dataclass(frozen=True)
class ThreadRequest:
    """What to fetch for one story's comments, and how to read it."""

    url: str
    source: Source


def load_json(fetched: Fetched) -> Any:
    """The decoded JSON body; FeedError with a readable reason when it is not JSON."""
    body = fetched.content.lstrip()
    kind = (fetched.content_type or "").split(";")[0].strip().lower()
    if body[:1] == b"<" or kind in ("text/html", "application/xhtml+xml"):
        raise FeedError(f"expected JSON, the server sent {kind or 'markup'}")
    try:
        data = json.loads(body, parse_constant=lambda _: None)  # NaN, Infinity: absent
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise FeedError(f"not valid JSON: {isolate.reason(e)}") from None
    return isolate.valid_json(data)  # lone surrogates from JSON escapes become U+FFFD


def guarded(make: Callable[[], T], where: object, warnings: list[str]) -> T | None:
    """`make()`, or None and one warning naming the comment when reading it fails."""
    try:
        return make()
    except Exception as e:  # per-item isolation: one unreadable comment costs only itself
        warnings.append(f"{isolate.label(where)}: comment left out: {isolate.reason(e)}")
        return None


def count(value: Any) -> int | None:
    """A count from an API: a non-negative integer, else None (absent or nonsense)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if value >= 0 else None


def number(value: Any) -> float | None:
    """A score from an API: a finite number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def body_of(markup: str) -> tuple[str, Quote | None]:
    """(the commenter's own plain text, the first quote) of untrusted comment HTML."""
    return read_body(markup)


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def finish(
    comments: Iterable[Comment],
    total: int | None = None,
    submitter: str | None = None,
    warnings: Iterable[str] = (),
) -> CommentThread:
    """A thread with depth and direct-reply counts filled in where the source left them out.

    Comments by `submitter` (who posted the story or opened the discussion) are
    marked `by_author`; a reply names its parent's author (`reply_to`), and an
    opening that repeats an earlier reader's words becomes a quote of them.
    """
    items = list(comments)
    ids = {c.id for c in items if c.id}
    children: dict[str, int] = {}
    for c in items:
        if c.parent:
            children[c.parent] = children.get(c.parent, 0) + 1
    by_id = {c.id: c for c in items if c.id}
    done = []
    for c in items:
        depth = c.depth
        if depth == 0 and c.parent in ids:
            depth, seen, node = 0, set(), c
            while node.parent in by_id and node.parent not in seen:
                seen.add(node.parent)
                node = by_id[node.parent]
                depth += 1
        replies = count(c.replies)
        replies = replies if replies is not None else children.get(c.id or "", 0)
        by_author = c.by_author or (submitter is not None and c.author == submitter)
        parent = by_id.get(c.parent) if c.parent else None
        reply_to = c.reply_to or (parent.author if parent is not None else None)
        if reply_to in _NOBODY or reply_to == c.author:
            reply_to = None  # "replying to [deleted]" or to oneself says nothing
        done.append(
            replace(
                c,
                author=clean_text(c.author) or "Anonymous",
                text=isolate.valid_text(c.text),
                depth=depth,
                replies=replies,
                score=number(c.score),
                url=safe_url(c.url),
                by_author=by_author,
                reply_to=reply_to,
            )
        )
    done = lift_echoes(done)
    announced = count(total)
    return CommentThread(
        comments=tuple(done),
        total=announced if announced is not None else len(done),
        warnings=tuple(warnings),
    )


def thread_id(page: str) -> str:
    """The last number in a discussion link (HN, Discourse, Mastodon ids), else ""."""
    match = _NUMBER.search(urlsplit(page).path + "?" + urlsplit(page).query)
    return match.group(1) if match else ""


def iso_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp from a JSON API, timezone-aware; None when absent or malformed."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        parsed.astimezone(UTC)  # an absurd date near the ends of the calendar overflows here
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else None
