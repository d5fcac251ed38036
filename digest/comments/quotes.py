"""Words a comment repeats from someone else, told apart from the commenter's own.

Readers quote in many ways: an HTML `<blockquote>` (WordPress, Reddit,
Disqus), Discourse's `<aside class="quote" data-username=…>`, an "X wrote:"
line before the quoted words, leading "> " lines (Markdown, Hacker News,
mail habits), or the parent's words pasted at the top of a reply with no mark
at all. `read_body` splits a comment's HTML into its own text and the first
quote (with its author when known); `lift_echoes` finds the unmarked openings
by comparing each comment with its parent and the comments before it.
Platform boilerplate ("Read full topic", removed-comment stubs, link cards)
never reaches the text. Only the first quote is kept, as context: later
quoted blocks of a point-by-point answer are dropped, never shown as the
commenter's words.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import lxml.etree
import lxml.html

from digest.models import Comment, Quote
from digest.text.sanitise import html_to_paragraphs

_WROTE_VERBS = (
    "wrote|writes|said|says|posted|a écrit|écrit|schrieb|schreibt|escribió|escribe|escreveu"
    "|escreve|ha scritto|scrive|schreef|schrijft|написал|написала|пишет|napisał|napisała"
    "|skrev|kirjoitti|napsal|napísal"
)
_WROTE = re.compile(
    rf"^(?:on .{{3,80}},\s*)?@?(?P<who>[^\s:>][^:\n]{{0,60}}?)\s+(?:{_WROTE_VERBS})\s*:\s*$",
    re.I,
)
_QUOTING = re.compile(
    r"^(?:quoting|quote from|quote|zitat von|zitat|citation de|cita de|citazione di"
    r"|citando|citaat van)\s*:?\s+@?(?P<who>[^:\n]{1,60}?)\s*:?\s*$",
    re.I,
)
_WROTE_INLINE = re.compile(
    rf"^@?(?P<who>[^\s:>][^:\n]{{0,60}}?)\s+(?:{_WROTE_VERBS})\s*:\s*"
    r"[\"“„«](?P<quote>[^\"”“«»]{8,}?)[\"”“»]\s*(?P<rest>.*)$",
    re.I | re.S,
)
_MARKED = re.compile(r"^\s*(?:>|&gt;)")
_QUOTE_MARK = re.compile(r"(?:^|(?<=\s))(?:>|&gt;)+\s?")
_IN_QUOTES = re.compile(r"^[\"“„«](?P<quote>[^\"”“«»]{8,})[\"”“»]$")
_BOILERPLATE = re.compile(
    r"^\W*(?:read full topic|continue (?:the )?discussion(?: (?:at|on) \S+)?|view full discussion"
    r"|\[?\s*(?:deleted|removed)(?: by (?:user|reddit|moderator|the author))?\s*\]?"
    r"|\[(?:flagged|dead|comment removed|removed by reddit)\]"
    r"|comment (?:deleted|removed)(?: by (?:user|moderator|the author))?"
    r"|this (?:comment|post|reply) (?:has been|was) (?:deleted|removed|hidden)(?: by .{1,40})?"
    r"|\(?post (?:deleted|withdrawn) by (?:the )?author.{0,90}\)?"
    r"|this post was flagged by the community and is temporarily hidden"
    r"|see more|show more|load more replies)\W*$",
    re.I,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_URL_ONLY = re.compile(r"^\s*(?:(?:https?://|www\.)\S+\s*)+$", re.I)
# Link cards and embeds: a preview of another page, nothing the commenter wrote.
_CARD_XPATH = (
    './/aside[contains(concat(" ", normalize-space(@class), " "), " onebox ")]'
    ' | .//*[contains(concat(" ", normalize-space(@class), " "), " lazyYT ")]'
    ' | .//*[contains(concat(" ", normalize-space(@class), " "), " onebox-body ")]'
    ' | .//*[contains(concat(" ", normalize-space(@class), " "), " video-placeholder-container ")]'
    ' | .//*[contains(concat(" ", normalize-space(@class), " "), " embedly-card ")]'
)
_QUOTE_XPATH = (
    './/aside[contains(concat(" ", normalize-space(@class), " "), " quote ")]'
    " | .//blockquote[not(ancestor::blockquote) and not(ancestor::aside)]"
)
ECHO_GRAM = 4
ECHO_SHARE = 0.6
"""A sentence with this share of its word 4-grams in an earlier comment repeats it."""
ECHO_MIN_WORDS = 4


def read_body(markup: str) -> tuple[str, Quote | None]:
    """(the commenter's own text, the first quote) of untrusted comment HTML."""
    quotes: list[Quote] = []
    markup = _CONTROL.sub("", markup)  # lxml refuses them (and they are nobody's words)
    if markup and ("quote" in markup or "onebox" in markup or "lazyYT" in markup):
        markup = _lift_html_quotes(markup, quotes)
    own, text_quote = split_text("\n\n".join(html_to_paragraphs(markup)))
    if text_quote is not None:
        quotes.append(text_quote)
    first = next((q for q in quotes if q.text), None)
    return own, first


def split_text(text: str) -> tuple[str, Quote | None]:
    """(own text, first quote) of plain text: "> " paragraphs and "X wrote:" lines out."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    own: list[str] = []
    quotes: list[Quote] = []
    who: str | None = None
    waiting = False  # after "X wrote:", the next paragraph is the quote
    for paragraph in paragraphs:
        short = len(paragraph) <= 160  # the patterns below only ever match short lines
        url_only = short and _URL_ONLY.match(paragraph) is not None
        if (short and _BOILERPLATE.match(paragraph)) or (url_only and len(paragraphs) > 1):
            continue
        header = _header(paragraph) if short else None
        if header:
            who, waiting = _name(header.group("who")), True
            continue
        colon = paragraph.find(":", 0, 120)
        inline = _WROTE_INLINE.match(paragraph) if colon > 0 else None
        if inline:
            quotes.append(Quote(inline.group("quote").strip(), _name(inline.group("who"))))
            if inline.group("rest").strip():
                own.append(inline.group("rest").strip())
            who, waiting = None, False
            continue
        marked = _MARKED.match(paragraph)
        in_quotes = _IN_QUOTES.match(paragraph) if waiting else None
        if marked or waiting:
            body = _QUOTE_MARK.sub(" ", paragraph) if marked else paragraph
            if in_quotes:
                body = in_quotes.group("quote")
            body = " ".join(body.split())
            if quotes and not waiting and own == [] and quotes[-1].author == who:
                # Consecutive "> " paragraphs are one quote.
                quotes[-1] = Quote(quotes[-1].text + "\n\n" + body, quotes[-1].author)
            elif body:
                quotes.append(Quote(body, who))
            who, waiting = (who if marked else None), False
            continue
        who, waiting = None, False
        own.append(paragraph)
    return "\n\n".join(own), quotes[0] if quotes else None


def _header(line: str) -> re.Match[str] | None:
    """The "X wrote:" / "Quoting X:" match of a line introducing a quote, or None."""
    if not line.rstrip().endswith(":"):
        return None
    return _WROTE.match(line) or _QUOTING.match(line)


def lift_echoes(comments: Sequence[Comment]) -> list[Comment]:
    """The comments with openings that repeat the parent's (or an earlier reader's) words moved
    into `quote`, credited to whoever wrote them first."""
    by_id = {c.id: c for c in comments if c.id}
    order = sorted(range(len(comments)), key=lambda i: (_stamp(comments[i]), i))
    owner: dict[tuple[str, ...], int] = {}  # word 4-gram → the first comment that wrote it
    out = list(comments)
    for i in order:
        c = comments[i]
        parent = by_id.get(c.parent) if c.parent else None
        if c.quote is None and c.text:
            lifted = _echo(c, parent, owner, comments)
            if lifted is not None:
                out[i] = lifted
        elif c.quote is not None and c.quote.author is None:
            # A quote block that names no one: whoever in the thread wrote those words.
            origin = _origin(_grams(_words(c.quote.text)), c, parent, owner, comments)
            if origin is not None:
                out[i] = replace(c, quote=Quote(c.quote.text, origin))
        for gram in _grams(_words(out[i].text)):
            owner.setdefault(gram, i)
    return out


def _echo(
    comment: Comment,
    parent: Comment | None,
    owner: dict[tuple[str, ...], int],
    comments: Sequence[Comment],
) -> Comment | None:
    """The comment with its repeated opening sentences as a quote, or None."""
    paragraphs = comment.text.split("\n\n")
    sentences = _sentences(paragraphs[0])
    parent_grams = frozenset(_grams(_words(parent.text))) if parent else frozenset()
    source: int | None = None
    taken = 0
    for sentence in sentences:
        grams = _grams(_words(sentence))
        if len(grams) < ECHO_MIN_WORDS - ECHO_GRAM + 1 or len(_words(sentence)) < ECHO_MIN_WORDS:
            break
        if parent is not None and _share(grams, parent_grams) >= ECHO_SHARE:
            origin: int | None = -1
        else:
            origin = _earlier(grams, comment, owner, comments)
        if origin is None or (source is not None and origin != source):
            break
        source = origin
        taken += 1
    if not taken or source is None:
        return None
    quoted = " ".join(sentences[:taken])
    rest = " ".join(sentences[taken:]).strip()
    own = "\n\n".join(p for p in [rest, *paragraphs[1:]] if p.strip())
    author = (parent.author if parent else None) if source == -1 else comments[source].author
    return replace(comment, text=own, quote=Quote(quoted, author))


def _earlier(
    grams: list[tuple[str, ...]],
    comment: Comment,
    owner: dict[tuple[str, ...], int],
    comments: Sequence[Comment],
) -> int | None:
    """The earlier comment (by another author) holding most of `grams`, or None."""
    hits = Counter(owner[g] for g in grams if g in owner)
    best = hits.most_common(1)
    if not best or best[0][1] / len(grams) < ECHO_SHARE:
        return None
    # Repeating oneself is not quoting another reader.
    return None if comments[best[0][0]].author == comment.author else best[0][0]


def _origin(
    grams: list[tuple[str, ...]],
    comment: Comment,
    parent: Comment | None,
    owner: dict[tuple[str, ...], int],
    comments: Sequence[Comment],
) -> str | None:
    """Who in the thread first wrote the quoted words: the parent first, else an earlier reader."""
    if not grams:
        return None
    if parent is not None and _share(grams, frozenset(_grams(_words(parent.text)))) >= ECHO_SHARE:
        return parent.author
    earlier = _earlier(grams, comment, owner, comments)
    return comments[earlier].author if earlier is not None else None


def _lift_html_quotes(markup: str, quotes: list[Quote]) -> str:
    """The markup without quote blocks and link cards; the quotes are appended to `quotes`."""
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return markup
    for card in root.xpath(_CARD_XPATH):
        if card.getparent() is not None:
            card.drop_tree()
    for block in root.xpath(_QUOTE_XPATH):
        if block.getparent() is None:
            continue
        who = _quote_author(block)
        if block.tag == "aside":
            for title in block.xpath('.//*[contains(concat(" ", @class, " "), " title ")]'):
                title.drop_tree()
        paragraphs = html_to_paragraphs(_markup(block))
        if paragraphs and who is None:
            header = _header(paragraphs[0])
            if header:
                who, paragraphs = _name(header.group("who")), paragraphs[1:]
        quotes.append(Quote("\n\n".join(paragraphs), who))
        block.drop_tree()
    return _markup(root)


def _quote_author(block: lxml.html.HtmlElement) -> str | None:
    """Who a quote block quotes: Discourse's data-username, else a preceding "X wrote:"."""
    username = block.get("data-username")
    if username:
        return _name(username)
    if block.tag == "aside":
        titles = block.xpath('.//*[contains(concat(" ", @class, " "), " title ")]')
        if titles:
            return _name(titles[0].text_content().strip().rstrip(":"))
    previous = block.getprevious()
    if previous is not None and previous.tag not in ("blockquote", "aside"):
        text = " ".join(previous.text_content().split())
        header = _header(text) if len(text) <= 160 else None
        if header:
            _drop_keeping_tail(previous)
            return _name(header.group("who"))
    return None


def _drop_keeping_tail(element: lxml.html.HtmlElement) -> None:
    element.drop_tree()  # lxml keeps the element's tail text in place


def _markup(element: lxml.html.HtmlElement) -> str:
    return str(lxml.html.tostring(element, encoding="unicode"))


def _name(who: str) -> str | None:
    name = " ".join(who.split()).strip("@ :")
    return name[:80] or None


_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _grams(words: list[str]) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + ECHO_GRAM]) for i in range(len(words) - ECHO_GRAM + 1)]


def _share(grams: list[tuple[str, ...]], source: frozenset[tuple[str, ...]]) -> float:
    return sum(g in source for g in grams) / len(grams) if grams else 0.0


def _sentences(paragraph: str) -> list[str]:
    # A plain split: the echo test needs whole pasted sentences, not fine boundaries.
    return [s for s in _SENTENCE_END.split(paragraph.strip()) if s]


def _stamp(comment: Comment) -> float:
    return comment.published.timestamp() if comment.published else 0.0
