"""Mastodon (and compatible fediverse servers): the status context API.

`/api/v1/statuses/<id>/context` returns `descendants`, the replies to the
post; favourites are the votes, and each status carries `replies_count`.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from digest.comments.sources import (
    JSON_ACCEPT,
    Source,
    body_of,
    count,
    finish,
    guarded,
    iso_time,
    load_json,
)
from digest.errors import FeedError
from digest.models import Comment, CommentThread, Fetched

_STATUS = re.compile(r"^/(?:@[\w.\-]+(?:@[\w.\-]+)?|users/[\w.\-]+/statuses)/(\d+)/?$")


def api_url(page: str) -> str | None:
    """`https://server/@user/<id>` → the status's context API; None for other links."""
    parts = urlsplit(page)
    match = _STATUS.match(parts.path)
    if parts.scheme not in ("http", "https") or not match:
        return None
    return f"{parts.scheme}://{parts.netloc}/api/v1/statuses/{match.group(1)}/context"


def parse(fetched: Fetched) -> CommentThread:
    """Every reply below the post, in the server's order."""
    data = load_json(fetched)
    if not isinstance(data, dict) or not isinstance(data.get("descendants"), list):
        raise FeedError("not a Mastodon status context: no 'descendants'")
    statuses = [s for s in data["descendants"] if isinstance(s, dict)]
    ids = {str(s.get("id")) for s in statuses}
    warnings: list[str] = []
    comments = []
    for status in statuses:
        where = status.get("url") if isinstance(status.get("url"), str) else fetched.url
        comment = guarded(partial(_comment, status, ids), where, warnings)
        if comment is not None:
            comments.append(comment)
    return finish(comments, len(comments), warnings=warnings)


def _comment(status: dict[str, Any], ids: set[str]) -> Comment:
    account = status.get("account")
    if not isinstance(account, dict):
        account = {}
    parent = str(status.get("in_reply_to_id"))
    favourites = status.get("favourites_count")
    replies = status.get("replies_count")
    deleted = status.get("visibility") not in (None, "public", "unlisted")
    text, quote = body_of(str(status.get("content") or ""))
    return Comment(
        author=str(account.get("display_name") or account.get("acct") or "Anonymous"),
        text="[removed]" if deleted or status.get("sensitive") else text,
        url=status.get("url") if isinstance(status.get("url"), str) else None,
        published=iso_time(status.get("created_at")),
        score=float(favourites) if isinstance(favourites, int) and favourites >= 0 else None,
        replies=count(replies),
        id=str(status.get("id")),
        parent=parent if parent in ids else None,
        source="mastodon",
        quote=quote,
    )


SOURCE = Source("mastodon", JSON_ACCEPT, api_url, parse)
