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

import nh3

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
        markup,
        tags=_BLOCK_TAGS,
        attributes={},
        clean_content_tags=_DROP_WITH_CONTENT,
        strip_comments=True,
        link_rel=None,
    )
    marked = _BLOCK_BOUNDARY.sub(_BREAK, kept)
    text = html.unescape(nh3.clean(marked, tags=set(), attributes={}, link_rel=None))
    # nh3 escapes what it keeps, so a second unescape only matters for feeds
    # that double-encode; handle it once, never in a loop.
    if "&lt;" in text or "&amp;" in text:
        text = html.unescape(text)
    paragraphs = (clean_text(part) for part in text.split(_BREAK))
    return [p for p in paragraphs if p]


def clean_text(text: str) -> str:
    """Collapse whitespace and drop control characters; for titles, names, sentences."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    return _WHITESPACE.sub(" ", text).strip()


def inline_text(markup: str) -> str:
    """A single line of plain text from a fragment that may hold tags or entities."""
    return clean_text(" ".join(html_to_paragraphs(markup)))


def safe_url(url: str | None, base: str | None = None) -> str | None:
    """The URL made absolute when it is http(s) with a host, else None."""
    if not url:
        return None
    url = _CONTROL.sub("", url).strip()
    if base:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    if any(c.isspace() for c in url):
        url = url.replace(" ", "%20")
        if any(c.isspace() for c in url):
            return None
    return url
