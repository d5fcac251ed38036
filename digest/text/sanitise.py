"""Turn untrusted HTML from feeds, pages and comments into safe text and URLs.

Everything strangers wrote passes through nh3 (the Ammonia sanitiser) before
it reaches an issue: `issue.json` and the templates only ever see plain text
and http(s) URLs, and Jinja autoescaping does the rest.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import urljoin, urlsplit

import idna
import nh3

from digest.isolate import valid_text

# Block-level tags kept long enough to know where paragraphs end.
_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "blockquote", "pre", "section", "article",
    "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "table", "figure",
    "figcaption", "hr", "dd", "dt", "dl", "aside", "header", "footer",
}  # fmt: skip
# Removed with everything inside them, not just unwrapped.
_DROP_WITH_CONTENT = {"script", "style", "template", "noscript", "iframe", "object", "svg", "math"}
_BREAK = "\u2029"  # paragraph separator, unlikely in feed text
_BLOCK_BOUNDARY = re.compile(r"<\s*/?\s*(" + "|".join(sorted(_BLOCK_TAGS)) + r")\b[^>]*>", re.I)
_WHITESPACE = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def html_to_paragraphs(markup: str) -> list[str]:
    """Plain-text paragraphs of an HTML fragment; scripts, styles and tags removed."""
    if not markup:
        return []
    kept = nh3.clean(
        valid_text(markup),
        tags=_BLOCK_TAGS,
        attributes={},
        clean_content_tags=_DROP_WITH_CONTENT,
        strip_comments=True,
        link_rel=None,
    )
    marked = _BLOCK_BOUNDARY.sub(_BREAK, kept)
    # nh3 escapes the text it keeps: one unescape gives the text back. A second
    # would turn a feed's `&amp;lt;b&amp;gt;` (the text "&lt;b&gt;") into a tag.
    text = html.unescape(nh3.clean(marked, tags=set(), attributes={}, link_rel=None))
    paragraphs = (clean_text(part) for part in text.split(_BREAK))
    return [p for p in paragraphs if p]


def clean_text(text: str) -> str:
    """Collapse whitespace and drop control characters; for titles, names, sentences."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", valid_text(text)))
    return _WHITESPACE.sub(" ", text).strip()


def inline_text(markup: str) -> str:
    """A single line of plain text from a fragment that may hold tags or entities."""
    return clean_text(" ".join(html_to_paragraphs(markup)))


def safe_url(url: str | None, base: str | None = None) -> str | None:
    """The URL made absolute when it is http(s) with a host, else None."""
    if not url or not isinstance(url, str) or valid_text(url) != url:
        return None
    url = _CONTROL.sub("", url).strip()
    try:
        if base:
            url = urljoin(base, url)
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when out of range
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not _valid_host(parts.hostname):
        return None
    if any(c.isspace() for c in url):
        url = url.replace(" ", "%20")
        if any(c.isspace() for c in url):
            return None
    return url


def _valid_host(host: str | None) -> bool:
    """A host name a client can connect to: an IP literal, or a name IDNA can encode."""
    if not host:
        return False
    if host.isascii():
        labels = host.rstrip(".").split(".")
        return all(0 < len(label) <= 63 for label in labels) and len(host) <= 253
    try:
        idna.encode(host.lower())  # as httpx does
    except (idna.IDNAError, UnicodeError, ValueError):
        return False
    return True
