"""Parse fetched feed bytes with feedparser and normalise the entries.

Normalising means: plain-text titles and names, canonical http(s) URLs with
tracking parameters removed, timezone-aware dates, one image, the richest
content HTML, and where the entry's comments live.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser
from feedparser.exceptions import ThingsNobodyCaresAboutButMe

from digest.collect import images, links
from digest.collect.jsonfeed import looks_like_json_feed, parse_json_feed
from digest.errors import FeedError
from digest.models import Entry, Fetched
from digest.text.sanitise import html_to_paragraphs, inline_text, safe_url

_TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga|_gl|igshid|yclid|"
    r"ocid|cmpid|ncid|sr_share|spm|__twitter_impression|ref_src|ref_url)$",
    re.I,
)
_EXCERPT_ENDINGS = re.compile(
    r"(\[\s*(…|\.\.\.|&hellip;)\s*\]|…|\.\.\.|continue reading.*|read more.*|"
    r"the post .{1,200} appeared first on .{1,200})\s*$",
    re.I,
)
EXCERPT_WORDS = 120
"""A feed entry with less text than this and no full content counts as an excerpt."""
# An internal DTD subset this large only serves entity-expansion attacks.
_MAX_DTD_BYTES = 2048
_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*\[(.*?)\]\s*>", re.S | re.I)
_EXTERNAL_ENTITY = re.compile(rb"<!ENTITY\s+(%\s+)?[\w.:-]+\s+(SYSTEM|PUBLIC)\b", re.I)
_GENERIC_TITLES = {
    "photo", "video", "audio", "quote", "link", "chat", "image", "untitled", "no title",
    "foto", "bild", "sans titre", "sin título", "ohne titel",
}  # fmt: skip
_COMMENT_FEED_TYPES = {"application/atom+xml", "application/rss+xml", "application/xml", "text/xml"}


def parse_feed(fetched: Fetched) -> tuple[str | None, list[Entry]]:
    """The feed's title and normalised entries; FeedError when it is no usable feed."""
    parsed = parse_document(fetched)
    feed_title = inline_text(parsed.feed.get("title", "")) or None
    source = feed_title or (urlsplit(fetched.final_url).hostname or fetched.url)
    language = _language(parsed.feed.get("language"))
    # A local file has no address: relative links resolve against the feed's own <link>.
    home = safe_url(parsed.feed.get("link")) if not _is_http(fetched.final_url) else None
    srcsets = images.srcsets_in(fetched.content)
    origlinks = links.origlinks_in(fetched.content)
    entries = [
        _entry(raw, fetched, source, language, home, srcsets, origlinks) for raw in parsed.entries
    ]
    return feed_title, [e for e in entries if e is not None]


def parse_document(fetched: Fetched) -> Any:
    """feedparser's result for the bytes, refusing what is not a feed at all."""
    body = fetched.content
    _refuse_entity_bombs(body)
    headers = {"content-location": fetched.final_url} if _is_http(fetched.final_url) else {}
    if fetched.content_type:
        headers["content-type"] = fetched.content_type
    if looks_like_json_feed(body):
        parsed = parse_json_feed(body)
    else:
        parsed = feedparser.parse(body, response_headers=headers)
    if not parsed.entries and not parsed.feed.get("title"):
        raise FeedError(_not_a_feed_reason(body, parsed))
    return parsed


def _refuse_entity_bombs(body: bytes) -> None:
    """Refuse DTDs that only attacks use: huge entity tables, entities from outside."""
    match = _DOCTYPE.search(body[:200_000])
    if not match or b"<!ENTITY" not in match.group(1):
        return
    if len(match.group(1)) > _MAX_DTD_BYTES:
        raise FeedError("refused: the document declares oversized XML entities")
    if _EXTERNAL_ENTITY.search(match.group(1)):
        raise FeedError("refused: the document declares external XML entities")


def _not_a_feed_reason(body: bytes, parsed: Any) -> str:
    head = body[:2048].lstrip().lower()
    if head.startswith(b"<!doctype html") or b"<html" in head:
        return "not a feed: the server sent an HTML page"
    if not body.strip():
        return "not a feed: empty document"
    exc = parsed.get("bozo_exception")
    if exc is not None and not isinstance(exc, ThingsNobodyCaresAboutButMe):
        return f"not a feed: {_one_line(str(exc))}"
    return "not a feed: no entries and no title"


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _entry(
    raw: Any,
    fetched: Fetched,
    source: str,
    language: str | None,
    home: str | None = None,
    srcsets: dict[str, str] | None = None,
    origlinks: dict[str, str] | None = None,
) -> Entry | None:
    base = fetched.final_url if _is_http(fetched.final_url) else home
    link = links.unwrap(safe_url(raw.get("link"), base), raw, base, origlinks)
    url = canonical_url(link) if link else None
    content_html = _content(raw)
    title = inline_text(raw.get("title", ""))
    if not title or title.casefold().strip("()[] ") in _GENERIC_TITLES:
        # Tumblr and others title untitled posts "Photo", "Video"…: the text says more.
        words = " ".join(html_to_paragraphs(content_html)).split()
        title = " ".join(words[:12]) + ("…" if len(words) > 12 else "") or title
    if not title and not url:
        return None
    guid = str(raw.get("id") or "")
    key = url or guid or _hash(fetched.url, title, content_html)
    comment_count, comments_feed = _comments(raw, base)
    pictures = images.from_entry(raw, base, srcsets)
    picture = images.best(pictures)
    return Entry(
        key=key,
        title=title or "(untitled)",
        url=url or safe_url(guid) or "",
        source=source,
        feed_url=fetched.url,
        author=_author(raw),
        published=entry_time(raw),
        image=picture.url if picture else None,
        pictures=tuple(pictures),
        categories=_categories(raw),
        content_html=content_html,
        language=language,
        comments_feed=comments_feed,
        comment_count=comment_count,
        comments_page=safe_url(raw.get("comments"), base),
        is_excerpt=is_excerpt(content_html),
    )


def canonical_url(url: str) -> str:
    """The URL without tracking parameters, fragment, default port or host case."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port not in {None, 80, 443} else None
    netloc = f"{host}:{port}" if port else host
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(k, v) for k, v in query if not _TRACKING_PARAMS.match(k)]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))


def is_excerpt(content_html: str) -> bool:
    """True when the text looks cut short: few words, or an ellipsis / "Read more" end."""
    paragraphs = html_to_paragraphs(content_html)
    text = " ".join(paragraphs)
    return len(text.split()) < EXCERPT_WORDS or bool(_EXCERPT_ENDINGS.search(text))


def _content(raw: Any) -> str:
    """The richest HTML body: content:encoded / Atom content, else the summary."""
    contents: Sequence[Any] = raw.get("content") or []
    summary: str = raw.get("summary", "") or ""
    best: str = max((c.get("value", "") or "" for c in contents), key=len, default="")
    return best if len(best) >= len(summary) else summary


def _author(raw: Any) -> str | None:
    # RSS <author> is "email (Name)" by the spec; keep the name.
    match = re.fullmatch(r"\s*\S+@\S+\s*\((.+)\)\s*", raw.get("author") or "")
    detail = raw.get("author_detail") or {}
    name = match.group(1) if match else detail.get("name") or raw.get("author") or ""
    name = inline_text(name)
    return name or None


def entry_time(raw: Any) -> datetime | None:
    """When the item was published (else updated), timezone-aware."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get: feedparser's own get() maps missing date keys onto others, with a warning.
        value: time.struct_time | None = dict.get(raw, key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _categories(raw: Any) -> tuple[str, ...]:
    terms = (inline_text(str(t.get("term") or t.get("label") or "")) for t in raw.get("tags") or [])
    return tuple(dict.fromkeys(t for t in terms if t))


def _comments(raw: Any, base: str | None) -> tuple[int | None, str | None]:
    """(announced comment count, comment feed URL) from wfw/slash or RFC 4685 links."""
    count = _int(raw.get("slash_comments")) if raw.get("slash_comments") is not None else None
    feed = safe_url(raw.get("wfw_commentrss"), base)
    for link in raw.get("links") or []:
        if link.get("rel") != "replies":
            continue
        if count is None:
            count = _int(link.get("thr:count") or link.get("count"))
        if feed is None and link.get("type", "application/atom+xml") in _COMMENT_FEED_TYPES:
            feed = safe_url(link.get("href"), base)
    if count is None and raw.get("thr_total") is not None:
        count = _int(raw.get("thr_total"))
    return count, feed


def _int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _language(value: Any) -> str | None:
    if not value or not isinstance(value, str):
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


def _hash(*parts: str) -> str:
    return "sha1:" + hashlib.sha1("\x00".join(parts).encode()).hexdigest()
