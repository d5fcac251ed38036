"""Which source holds a story's comments, and the URL to fetch them from."""

from __future__ import annotations

from urllib.parse import urlsplit

from digest.comments.sources import (
    Source,
    ThreadRequest,
    discourse,
    hackernews,
    mastodon,
    reddit,
    thread_id,
    wordpress,
)
from digest.models import Entry

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        wordpress.SOURCE,
        reddit.SOURCE,
        hackernews.SOURCE,
        discourse.SOURCE,
        mastodon.SOURCE,
    )
}
# Order of recognition for "auto": hosts that are unambiguous first.
_AUTO = ("reddit", "hackernews", "discourse", "mastodon")


def locate(entry: Entry, mode: str = "auto", pattern: str = "") -> ThreadRequest | None:
    """Where this entry's comments are, per the feed's `comments` mode; None when nowhere."""
    if mode == "none":
        return None
    page = entry.comments_page or ""
    if mode == "auto":
        if entry.comments_feed:
            return ThreadRequest(entry.comments_feed, SOURCES["wordpress"])
        for name in _AUTO:
            url = SOURCES[name].api_url(page) if page else None
            if url:
                return ThreadRequest(url, SOURCES[name])
        return None
    source = SOURCES[mode]
    if pattern:
        url = fill(pattern, entry)
    elif mode == "wordpress":
        url = entry.comments_feed or ""
    else:
        url = (source.api_url(page) if page else None) or ""
    return ThreadRequest(url, source) if _is_http(url) else None


def fill(pattern: str, entry: Entry) -> str:
    """`comments_url` with {page} (comments link), {url} (story) and {id} filled in."""
    page = entry.comments_page or ""
    values = {"page": page, "url": entry.url, "id": thread_id(page) if page else ""}
    if any("{" + k + "}" in pattern and not v for k, v in values.items()):
        return ""  # nothing to fill in: no thread for this entry
    out = pattern
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return out


def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
