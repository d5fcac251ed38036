"""Comment feeds: WordPress `wfw:commentRss` RSS, per-post `/feed/`, RFC 4685 Atom.

feedparser reads the comments but not the threading reliably: it files
RFC 4685 elements under whatever prefix the feed used and keeps only one
`in-reply-to` per entry. So the threading (`thr:in-reply-to ref`, `thr:total`)
is read from the XML here and matched to feedparser's entries by id.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

from lxml import etree

from digest.collect.feeds import entry_time, parse_document
from digest.comments.sources import Source, finish, text_of
from digest.models import Comment, CommentThread, Fetched
from digest.text.sanitise import inline_text, safe_url

logger = logging.getLogger(__name__)

ACCEPT = "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.8"
THR = "{http://purl.org/syndication/thread/1.0}"
ATOM = "{http://www.w3.org/2005/Atom}"
_BY_PREFIX = re.compile(r"^(comment on .{1,200}? )?(by|von|par|por|door|di)\s*:?\s*", re.I)
_REPLY_PREFIX = re.compile(r"^in reply to [^.]{1,80}\.\s*", re.I)


def api_url(page: str) -> str | None:
    """Comment feeds are found in the story's feed (wfw:commentRss), never guessed."""
    return None


def parse(fetched: Fetched) -> CommentThread:
    """Every comment in the feed, in feed order, with reply structure where the feed has it."""
    parsed = parse_document(fetched)
    threading = _threading(fetched.content)
    by_id = dict(threading)
    # feedparser may resolve ids against the feed's URL: fall back to document order.
    aligned = len(threading) == len(parsed.entries)
    base = fetched.final_url if "://" in fetched.final_url else None
    comments = []
    for position, raw in enumerate(parsed.entries):
        ident = str(raw.get("id") or raw.get("link") or "")
        if ident not in by_id and aligned:
            ident = threading[position][0]
        parent, replies = by_id.get(ident, (None, None))
        comment = _comment(raw, base, ident, parent, replies)
        if comment is not None:
            comments.append(comment)
    ids = {c.id for c in comments}
    # A reply to the article itself (its ref is the post) is a top-level comment.
    comments = [c if c.parent in ids else _top(c) for c in comments]
    return finish(comments, len(comments))


def _top(comment: Comment) -> Comment:
    return replace(comment, parent=None)


def _comment(
    raw: Any, base: str | None, ident: str, parent: str | None, replies: int | None
) -> Comment | None:
    get = raw.get
    contents = get("content") or []
    body = max((c.get("value", "") for c in contents), key=len, default="") or get("summary", "")
    text = text_of(body)
    if text:
        first, _, rest = text.partition("\n\n")
        text = "\n\n".join(p for p in (_REPLY_PREFIX.sub("", first), rest) if p)
    author = inline_text((get("author_detail") or {}).get("name") or get("author") or "")
    if not author:
        author = _BY_PREFIX.sub("", inline_text(get("title", "")))
    if not text:
        return None
    return Comment(
        author=author or "Anonymous",
        text=text,
        url=safe_url(get("link"), base),
        published=entry_time(raw),
        replies=replies,
        id=ident or None,
        parent=parent,
        source="wordpress",
    )


def _threading(body: bytes) -> list[tuple[str, tuple[str | None, int | None]]]:
    """(entry id, (first in-reply-to ref, thr:total)) in document order, read from the XML."""
    if THR[1:-1].encode() not in body:
        return []  # no RFC 4685 threading (most RSS comment feeds): no second parse
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, recover=True, huge_tree=False, load_dtd=False
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    found: list[tuple[str, tuple[str | None, int | None]]] = []
    for item in root.iter(f"{ATOM}entry", "item"):
        ident = item.findtext(f"{ATOM}id") or item.findtext("guid") or item.findtext("link")
        if not ident:
            continue
        reply = item.find(f"{THR}in-reply-to")
        parent = reply.get("ref") if reply is not None else None
        total_text = item.findtext(f"{THR}total")
        total = int(total_text) if total_text and total_text.strip().isdigit() else None
        found.append((ident.strip(), (parent.strip() if parent else None, total)))
    return found


SOURCE = Source("wordpress", ACCEPT, api_url, parse)
