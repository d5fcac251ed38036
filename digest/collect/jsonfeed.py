"""JSON Feed (jsonfeed.org, versions 1 and 1.1), read into feedparser's shape.

feedparser reads only XML; mapping JSON Feed onto the same keys lets the rest
of the pipeline treat every feed alike.
"""

from __future__ import annotations

import html
import json
from typing import Any

from feedparser import FeedParserDict
from feedparser.datetimes import _parse_date

from digest.errors import FeedError
from digest.isolate import valid_json


def looks_like_json_feed(body: bytes) -> bool:
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and b"jsonfeed.org" in body[:4096]


def parse_json_feed(body: bytes) -> Any:
    """A FeedParserDict with `.feed` and `.entries`, like `feedparser.parse`."""
    try:
        # JSON escapes can spell lone surrogates, which no output can encode.
        data = valid_json(json.loads(body.decode("utf-8-sig"), parse_constant=_no_constant))
    except (UnicodeDecodeError, ValueError) as e:
        raise FeedError(f"not a feed: invalid JSON Feed ({e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise FeedError("not a feed: JSON Feed without an items list")
    feed = FeedParserDict(title=_str(data.get("title")), language=_str(data.get("language")))
    entries = [_entry(item) for item in data["items"] if isinstance(item, dict)]
    return FeedParserDict(feed=feed, entries=entries, bozo=False)


def _entry(item: dict[str, Any]) -> FeedParserDict:
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    if not isinstance(authors, list):  # a stranger's JSON: anything may stand here
        authors = []
    name = next((_str(a.get("name")) for a in authors if isinstance(a, dict)), "")
    # content_text is plain text: escaped once here, so it is unescaped exactly once later.
    text = html.escape(_str(item.get("content_text"))).replace("\n", "<br>")
    markup = _str(item.get("content_html")) or text
    entry = FeedParserDict(
        id=_str(item.get("id")),
        title=_str(item.get("title")),
        link=_str(item.get("url")) or _str(item.get("external_url")),
        summary=_str(item.get("summary")),
        content=[FeedParserDict(value=markup)] if markup else [],
        author=name,
        author_detail=FeedParserDict(name=name) if name else {},
    )
    for source, target in (
        ("date_published", "published_parsed"),
        ("date_modified", "updated_parsed"),
    ):
        parsed = _parse_date(_str(item.get(source))) if item.get(source) else None
        if parsed:
            entry[target] = parsed
    image = _str(item.get("image")) or _str(item.get("banner_image"))
    if image:
        entry["media_content"] = [FeedParserDict(url=image, medium="image")]
    return entry


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON: read them as absent."""
    return None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
