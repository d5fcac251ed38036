"""Parse fetched feed bytes with feedparser and normalise the entries.

Normalising means: plain-text titles and names, canonical http(s) URLs with
tracking parameters removed, timezone-aware dates, one image, the richest
content HTML, and where the entry's comments live.

Text is unescaped exactly once. The XML parser decodes the document's own
escaping; what it yields is the text for RSS titles and names (the RSS
Advisory Board: titles hold no HTML and are shown literally), JSON Feed
titles and Atom `type="text"`, and HTML only where the format says so (Atom
`type="html"`/`"xhtml"`, RSS descriptions, content). So `&amp;lt;b&amp;gt;` in
an RSS title is the text `&lt;b&gt;`, never a tag. feedparser's own sanitiser
is off: it would drop what looks like markup from plain text, and every piece
of HTML goes through nh3 here anyway.
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
from xml.sax import SAXParseException

import feedparser
from feedparser.exceptions import ThingsNobodyCaresAboutButMe

from digest import isolate
from digest.collect import images, links
from digest.collect.dates import is_cjk_date, parse_date
from digest.collect.jsonfeed import looks_like_json_feed, parse_json_feed
from digest.errors import FeedError
from digest.models import Entry, Fetched
from digest.text.sanitise import clean_text, html_to_paragraphs, inline_text, safe_url

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
_CHAR_REF = re.compile(rb"&#([xX][0-9a-fA-F]{1,12}|[0-9]{1,12});")
_GENERIC_TITLES = {
    "photo", "video", "audio", "quote", "link", "chat", "image", "untitled", "no title",
    "foto", "bild", "sans titre", "sin título", "ohne titel",
}  # fmt: skip
_COMMENT_FEED_TYPES = {"application/atom+xml", "application/rss+xml", "application/xml", "text/xml"}


def parse_feed(fetched: Fetched) -> tuple[str | None, list[Entry]]:
    """The feed's title and normalised entries; FeedError when it is no usable feed."""
    title, entries, _ = read_feed(fetched)
    return title, entries


def read_feed(fetched: Fetched) -> tuple[str | None, list[Entry], list[str]]:
    """`parse_feed` plus one warning per entry left out because it could not be read."""
    parsed = parse_document(fetched)
    feed_title = text_field(parsed, parsed.feed, "title") or None
    source = feed_title or (_host(fetched.final_url) or isolate.label(fetched.url))
    language = _language(parsed.feed.get("language"))
    # A local file has no address: relative links resolve against the feed's own <link>.
    home = safe_url(parsed.feed.get("link")) if not _is_http(fetched.final_url) else None
    srcsets = images.srcsets_in(fetched.content)
    origlinks = links.origlinks_in(fetched.content)
    entries, warnings = isolate.each(
        parsed.entries,
        lambda raw: _entry(raw, fetched, source, language, parsed, home, srcsets, origlinks),
        lambda raw: str(raw.get("link") or raw.get("id") or f"{fetched.url} (an entry)"),
        "entry",
    )
    return feed_title, entries, warnings


def text_field(parsed: Any, raw: Any, key: str) -> str:
    """A title or name as one line of plain text, unescaped exactly once (module docstring)."""
    value = raw.get(key) or ""
    if not isinstance(value, str):
        return ""
    kind = (raw.get(f"{key}_detail") or {}).get("type", "text/plain")
    markup = str(parsed.get("version", "")).startswith("atom") and kind != "text/plain"
    return inline_text(value) if markup else clean_text(isolate.valid_text(value))


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


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
        body = _CHAR_REF.sub(_valid_char_ref, body)
        try:
            # Our own sanitiser (nh3) reads every piece of markup, and only text and
            # http(s) URLs resolved by `safe_url` leave this stage: feedparser's own
            # sanitising and URI rewriting (a second HTML parse of each entry) are skipped.
            parsed = feedparser.parse(
                body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
            )
        except Exception as e:  # feedparser's loose parser has crashed on junk before
            raise FeedError(f"not a feed: the parser gave up ({isolate.reason(e)})") from e
        _refuse_unexpanded_entities(body, parsed)
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


def _valid_char_ref(match: re.Match[bytes]) -> bytes:
    """`&#…;` unchanged when it names a character, else U+FFFD (surrogates, 0, past U+10FFFF)."""
    digits = match.group(1)
    try:
        code = int(digits[1:], 16) if digits[:1] in (b"x", b"X") else int(digits)
    except ValueError:
        return b"&#xFFFD;"
    if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return b"&#xFFFD;"
    return match.group(0)


def _refuse_unexpanded_entities(body: bytes, parsed: Any) -> None:
    """Refuse a document whose declared entities the XML parser would not expand.

    When expat stops (an expansion limit, a malformed DTD), feedparser falls back
    to a loose parser that leaves entity references as they are: the "feed" it
    returns is the skeleton of an attack, not news.
    """
    failure = parsed.get("bozo_exception")
    if not isinstance(failure, SAXParseException):
        return
    match = _DOCTYPE.search(body[:200_000])
    if match and b"<!ENTITY" in match.group(1):
        raise FeedError(f"refused: the document's XML entities cannot be expanded ({failure})")


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
    parsed: Any,
    home: str | None = None,
    srcsets: dict[str, str] | None = None,
    origlinks: dict[str, str] | None = None,
) -> Entry | None:
    base = fetched.final_url if _is_http(fetched.final_url) else home
    given = raw.get("link")
    link = links.unwrap(safe_url(given, base), raw, base, origlinks)
    # feedparser empties a link it cannot resolve against the feed's URL.
    dropped = any(not lk.get("href") for lk in raw.get("links") or () if isinstance(lk, dict))
    if (given and not link and _claims_http(given)) or (not given and dropped):
        raise FeedError("its link is no valid http(s) URL")
    url = canonical_url(link) if link else None
    content_html = _content(raw)
    summary_html = raw.get("summary", "") or ""
    title = text_field(parsed, raw, "title")
    if not title or title.casefold().strip("()[] ") in _GENERIC_TITLES:
        # Tumblr and others title untitled posts "Photo", "Video"…: the text says more.
        words = " ".join(html_to_paragraphs(content_html)).split()
        title = " ".join(words[:12]) + ("…" if len(words) > 12 else "") or title
    if not title and not url:
        return None
    guid = isolate.valid_text(str(raw.get("id") or ""))
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
        author=_author(raw, parsed),
        published=entry_time(raw, language),
        image=picture.url if picture else None,
        pictures=tuple(pictures),
        categories=_categories(raw),
        content_html=content_html,
        language=language,
        comments_feed=comments_feed,
        comment_count=comment_count,
        comments_page=safe_url(raw.get("comments"), base),
        is_excerpt=is_excerpt(content_html),
        excerpt_html=summary_html if summary_html.strip() != content_html.strip() else "",
    )


def _claims_http(link: object) -> bool:
    return isinstance(link, str) and link.strip().lower().startswith(("http:", "https:"))


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


def _author(raw: Any, parsed: Any) -> str | None:
    # RSS <author> is "email (Name)" by the spec; keep the name. Names are plain text.
    author = raw.get("author") if isinstance(raw.get("author"), str) else ""
    match = re.fullmatch(r"\s*\S+@\S+\s*\((.+)\)\s*", author)
    detail = raw.get("author_detail") or {}
    name = match.group(1) if match else detail.get("name") or author or ""
    name = clean_text(isolate.valid_text(str(name)))
    return name or None


def entry_time(raw: Any, language: str | None = None) -> datetime | None:
    """When the item was published (else updated), timezone-aware.

    A date feedparser could not read (month names in another language) is read
    with the names of the feed's `language`, else of the languages digest knows.
    """
    for key in ("published", "updated", "created"):
        # dict.get: feedparser's own get() maps missing date keys onto others, with a warning.
        value: time.struct_time | None = dict.get(raw, f"{key}_parsed")
        text = dict.get(raw, key)
        if isinstance(text, str) and is_cjk_date(text):
            # feedparser takes "2026年11月25日" for a Korean format and misreads it.
            return parse_date(text)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    for key in ("published", "updated", "created"):
        text = dict.get(raw, key)
        if isinstance(text, str) and text.strip():
            when = parse_date(text, (language,))
            if when is not None:
                return when
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
