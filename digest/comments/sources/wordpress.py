"""Comment feeds: WordPress `wfw:commentRss` RSS, per-post `/feed/`, RFC 4685 Atom.

feedparser reads the comments but not the threading reliably: it files
RFC 4685 elements under whatever prefix the feed used and keeps only one
`in-reply-to` per entry. So the threading (`thr:in-reply-to ref`, `thr:total`)
is read from the XML here and matched to feedparser's entries by id.
WordPress's RSS 2 comment feeds carry no RFC 4685 elements: a reply opens
with "In reply to <a href=…#comment-N>Name</a>." instead, which gives both
its parent (matched by link) and the name shown beside it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from digest.collect.feeds import entry_time, parse_document, text_field
from digest.comments.sources import Source, body_of, finish, guarded
from digest.models import Comment, CommentThread, Fetched
from digest.text.sanitise import inline_text, safe_url

logger = logging.getLogger(__name__)

ACCEPT = "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.8"
THR = "{http://purl.org/syndication/thread/1.0}"
ATOM = "{http://www.w3.org/2005/Atom}"
_BY_PREFIX = re.compile(r"^(comment on .{1,200}? )?(by|von|par|por|door|di)\s*:?\s*", re.I)
_REPLY_WORDS = (
    "in reply to|em resposta a|en réponse à|als antwort auf|en respuesta a|in risposta a"
    "|als antwoord op|в ответ на|w odpowiedzi do|som svar på|vastauksena"
)
# What WordPress's get_comment_text() writes first in a comment feed.
_REPLY_LINK = re.compile(
    rf"^\s*(?:<p>\s*)?(?:{_REPLY_WORDS})\s*<a\s[^>]*?href=[\"']([^\"']*)[\"'][^>]*>"
    r"(.{1,300}?)</a>\s*\.?\s*(?:</p>|<br\s*/?>)?",
    re.I | re.S,
)
_REPLY_TEXT = re.compile(rf"^(?:{_REPLY_WORDS})\s+([^.\n]{{1,80}})\.\s*", re.I)


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
    read: list[tuple[Comment, str | None]] = []
    warnings: list[str] = []
    for position, raw in enumerate(parsed.entries):
        ident = str(raw.get("id") or raw.get("link") or "")
        if ident not in by_id and aligned:
            ident = threading[position][0]
        parent, replies = by_id.get(ident, (None, None))
        make = partial(_comment, parsed, raw, base, ident, parent, replies)
        found = guarded(make, raw.get("link") or fetched.url, warnings)
        if found is not None:
            read.append(found)
    by_anchor = {_anchor(c.url): c.id for c, _ in read if c.url and _anchor(c.url)}
    comments = [
        replace(c, parent=by_anchor.get(_anchor(link))) if link and c.parent is None else c
        for c, link in read
    ]
    ids = {c.id for c in comments}
    # A reply to the article itself (its ref is the post) is a top-level comment.
    comments = [c if c.parent in ids else _top(c) for c in comments]
    return finish(comments, len(comments), warnings=warnings)


def _top(comment: Comment) -> Comment:
    return replace(comment, parent=None)


def _anchor(url: str | None) -> str:
    """The comment's anchor in a link ("comment-42"), else the link without scheme."""
    if not url:
        return ""
    parts = urlsplit(url)
    return parts.fragment or f"{parts.netloc}{parts.path}?{parts.query}"


def _comment(
    parsed: Any,
    raw: Any,
    base: str | None,
    ident: str,
    parent: str | None,
    replies: int | None,
) -> tuple[Comment, str | None] | None:
    """The comment and the link to its parent ("In reply to …"), or None when empty."""
    get = raw.get
    contents = get("content") or []
    body = max((c.get("value", "") for c in contents), key=len, default="") or get("summary", "")
    reply_to, parent_link = None, None
    match = _REPLY_LINK.match(body)
    if match:
        parent_link, reply_to = match.group(1), inline_text(match.group(2)) or None
        body = body[match.end() :]
    text, quote = body_of(body)
    named = _REPLY_TEXT.match(text)
    if named:  # the plain-text form of the same line (as in <description>)
        reply_to, text = reply_to or inline_text(named.group(1)), text[named.end() :].strip()
    detail = get("author_detail") or {}
    author = text_field(parsed, detail, "name") or text_field(parsed, raw, "author")
    if not author:
        author = _BY_PREFIX.sub("", text_field(parsed, raw, "title"))
    if not text:
        return None
    comment = Comment(
        author=author or "Anonymous",
        text=text,
        url=safe_url(get("link"), base),
        published=entry_time(raw),
        replies=replies,
        id=ident or None,
        parent=parent,
        source="wordpress",
        quote=quote,
        reply_to=reply_to,
    )
    return comment, safe_url(parent_link, base) if parent_link else None


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
