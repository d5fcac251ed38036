"""Feed and page HTML → typed blocks, so that summaries are taken from prose only.

A sentence splitter sees a run of text; it cannot know that a line was code,
a photo credit, a quoted tweet or a heading. Reading the HTML's structure
first does: each block has a kind, and only `PARAGRAPH` blocks (prose a
writer wrote as running text) give summary sentences. Block ends are
sentence ends, and so are `<br><br>` and a single `<br>` that ends a line
(a line break inside a sentence, with lower-case text after it, is a space).

Paragraphs that are prose in form but not news are re-typed too: bylines,
update and editor's notes, "originally appeared" and series notices, calls
to action (`NOTICE`), lines made of links (`LINKS`), and the signature line
of an embedded post (`EMBED`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

import lxml.etree
import lxml.html

from digest.models import Block
from digest.models import BlockKind as Kind
from digest.text.sanitise import clean_text, html_to_paragraphs

logger = logging.getLogger(__name__)


# Removed with everything inside them.
_DROP = {
    "script", "style", "template", "noscript", "svg", "math", "object", "video", "audio",
    "button", "form", "input", "select", "textarea", "canvas", "map", "head", "title", "meta",
    "link",
}  # fmt: skip
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_CONTAINERS = {
    "div", "section", "article", "main", "body", "html", "center", "span", "font", "details",
    "summary", "hgroup", "address",
}  # fmt: skip
_BLOCK_TAGS = {
    "p", "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre", "figure", "figcaption",
    "table", "iframe", "hr", "aside", "nav", "header", "footer", "embed", *_HEADINGS,
    *_CONTAINERS - {"span", "font"},
}  # fmt: skip
_EMBED_CLASS = re.compile(
    r"twitter-(tweet|video)|instagram-media|tiktok-embed|fb-(post|video)|reddit-card|"
    r"bluesky-embed|mastodon-embed|imgur-embed|embed-(twitter|instagram|youtube|social)|"
    r"wp-block-embed|social-embed",
    re.I,
)
_CAPTION_CLASS = re.compile(r"caption|credit", re.I)
_ASIDE_CLASS = re.compile(
    r"(^|[\s_-])(share|sharing|social|related|newsletter|subscribe|signup|promo|"
    r"byline|author-bio|advert|ad-container|sponsor|footnotes?|jp-relatedposts|sharedaddy)"
    r"($|[\s_-])",
    re.I,
)
_CODE_CLASS = re.compile(
    r"(^|\s)(highlight|codehilite|code-?block|sourceCode|syntaxhighlighter|gist)(\s|$)", re.I
)
_QUOTE_CLASS = re.compile(r"(^|\s)(quote|pullquote|bbcode-quote)(\s|$)", re.I)
_SOCIAL_LINK = re.compile(
    r"^https?://([\w-]+\.)?(twitter\.com|x\.com|t\.co|instagram\.com|facebook\.com|"
    r"tiktok\.com|threads\.net|bsky\.app)/",
    re.I,
)
_BREAK = "\ue002"  # a <br> inside inline text, resolved once the line is known
_END_PUNCTUATION = ".!?…。！？:;\"'”’»)"

# A tweet's signature line: "— Name (@handle) November 8, 2017".
_EMBED_SIGNATURE = re.compile(r"^[—–-]\s*.{1,80}\(@\w{1,30}\)\s+\w+\.?\s+\d{1,2},?\s+\d{4}$")
_NOTICES = re.compile(
    r"^\W*(("
    # bylines and datelines
    r"(posted|written|reported|words|text|story|photos?|interview) by\b|by [\w.'’ -]{2,60}$|"
    r"(?-i:[Bb]y [A-Z][\w.'’-]+( [A-Z][\w.'’-]+){1,3}\s*(,|\(|and\b|&|on behalf\b))|"
    r"von [\w.'’ -]{2,60}$|par [\w.'’ -]{2,60}$|por [\w.'’ -]{2,60}$|"
    # what a forum or aggregator adds to every post ("submitted by alice to news")
    r"submitted by /?(u/)?[\w-]{2,40} to /?(r/)?\w+|"
    # update and editor's notes, corrections
    r"(\[|\()?(update[sd]?|editor'?s?’?s? note|note from the editor|correction|clarification|"
    r"disclosure|disclaimer|aktualisierung|nachtrag|korrektur|mise à jour|actualización|"
    r"atualização|nota del editor|nota da redação)\b.{0,40}?[:—–)\]]|"
    r"(this|the) (post|article|story|piece|essay) (was|is|has been) (originally|first|also) "
    r"(published|posted|appeared)|"
    # calls to action
    r"(subscribe|sign up|follow (us|me)|click here|tap here|download (the|our)|register now|"
    r"support (us|this)|become a (patron|member|subscriber)|don'?t forget to|"
    r"check out (our|my)|like us on|share this|listen (now|on|to the)|watch (now|the video)|"
    r"(pre-?)?order (it |yours |one )?(now|today|right now|here)|buy (it |yours |one )?(now|here)|"
    r"shop (now|the sale)|get yours|use (the |our )?(code|coupon)|"
    r"abonnieren sie|folgen sie|melden sie sich|abonnez-vous|suivez-nous|inscrivez-vous|"
    r"suscríbete|síguenos|assine|siga-nos|inscreva-se)\b"
    r"))",
    re.I,
)
_NOTICE_ANYWHERE = re.compile(
    r"\b(originally (appeared|published|posted) (on|in|at)|appeared first on|"
    r"(this|the) (post|article|story) is (part|the \w+ (part|installment|instalment)) of|"
    r"part (\d+|one|two|three|four|five) of (a|an|our|the|this|my) |"
    r"(article|post|part|instal?lment|episode) (in|of) (our|a|this|the) ([\w-]+ ){0,3}series|"
    r"(feed|blog|site) (has|have) moved|update your (feed|rss|bookmarks?)|"
    r"(erschien|erschienen) zuerst|publié initialement|publicado originalmente|"
    r"continue reading|read (the )?(rest|more|full (story|article|post))|"
    r"weiterlesen|lire la suite|leer más|leia mais)\b",
    re.I,
)


def html_to_blocks(markup: str) -> tuple[Block, ...]:
    """The typed blocks of an HTML fragment, in document order; never raises."""
    if not markup or not markup.strip():
        return ()
    return _parse(markup)


@lru_cache(maxsize=512)
def _parse(markup: str) -> tuple[Block, ...]:
    # Cached: a feed's entries are read once for its boilerplate, once for the story.
    try:
        root = lxml.html.fragment_fromstring(_CONTROL.sub("", markup), create_parent="div")
    except (lxml.etree.LxmlError, ValueError) as e:
        logger.info("unreadable HTML (%s): reading it as plain paragraphs", e)
        return tuple(Block(Kind.PARAGRAPH, p) for p in html_to_paragraphs(markup))
    reader = _Reader()
    try:
        reader.walk(root, None)
    except RecursionError:  # nesting deeper than any article: read it flat
        logger.info("HTML nested too deep: reading it as plain paragraphs")
        return tuple(Block(Kind.PARAGRAPH, p) for p in html_to_paragraphs(markup))
    reader.flush()
    if reader.deepest >= _DEEPEST:
        # libxml2 drops what is nested deeper than this, silently: lose nothing.
        flat = html_to_paragraphs(markup)
        if sum(map(len, flat)) > 1.1 * sum(len(b.text) for b in reader.blocks):
            logger.info("HTML nested too deep: reading it as plain paragraphs")
            return tuple(Block(Kind.PARAGRAPH, p) for p in flat)
    return tuple(_retype(b) for b in reader.blocks)


_DEEPEST = 250  # libxml2's HTML parser keeps 255 levels


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def is_notice(sentence: str) -> bool:
    """A sentence that talks about the post rather than the news: "originally appeared on"…"""
    return bool(_NOTICE_ANYWHERE.search(sentence))


def prose(blocks: Sequence[Block]) -> tuple[str, ...]:
    """The paragraphs summary sentences may come from."""
    return tuple(b.text for b in blocks if b.kind is Kind.PARAGRAPH)


class _Reader:
    """Walks the tree, gathering inline text into the block that holds it."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.parts: list[str] = []
        self.kind: Kind = Kind.PARAGRAPH
        self.link_chars = 0
        self.code_chars = 0
        self.social_links = 0
        self.size = 0  # characters in `parts`, kept as they come (no re-summing)
        self.depth = 0
        self.deepest = 0

    def walk(self, node: lxml.html.HtmlElement, inherited: Kind | None) -> None:
        self.depth += 1
        self.deepest = max(self.deepest, self.depth)
        try:
            self._walk(node, inherited)
        finally:
            self.depth -= 1

    def _walk(self, node: lxml.html.HtmlElement, inherited: Kind | None) -> None:
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if not tag:  # a comment or processing instruction: only its tail is text
            self.text(node.tail)
            return
        if tag in _DROP:
            self.text(node.tail)
            return
        if _is_note_mark(node, tag):
            self.text(node.tail)  # a footnote mark ("¹", "[2]") is no part of the sentence
            return
        kind = _kind_of(node, tag, inherited)
        if tag not in _BLOCK_TAGS and kind in {Kind.ASIDE, Kind.QUOTE}:
            kind = inherited  # a class on an inline element does not cut the sentence
        if tag == "br":
            self.parts.append(_BREAK)
            self.text(node.tail)
            return
        if tag in _BLOCK_TAGS or kind != inherited:
            self.flush()
            if tag in {"pre", "table"}:
                self.opaque(node, kind or Kind.PARAGRAPH)
            else:
                self.kind = kind or Kind.PARAGRAPH
                self.text(node.text)
                for child in node:
                    self.walk(child, kind)
                self.flush()
            self.kind = inherited or Kind.PARAGRAPH
            self.text(node.tail)
            return
        # Inline element: its text joins the current block.
        before = self.length()
        self.text(node.text)
        for child in node:
            self.walk(child, kind)
        inside = self.length() - before
        if tag == "a":
            self.link_chars += inside
            self.social_links += bool(_SOCIAL_LINK.search(node.get("href") or ""))
        elif tag in {"code", "kbd", "samp", "tt", "var"}:
            self.code_chars += inside
        self.text(node.tail)

    def opaque(self, node: lxml.html.HtmlElement, kind: Kind) -> None:
        """A block whose inside is not prose at any depth (code, a table)."""
        raw = "".join(node.itertext())
        if node.tag == "pre" and kind is Kind.CODE and _is_plain_prose(raw):
            self.blocks.extend(_mail_blocks(raw))  # a plain-text post or e-mail kept in <pre>
            return
        text = clean_text(" ".join(node.itertext()))
        if text:
            self.blocks.append(Block(Kind.CODE if node.tag == "pre" else kind, text))

    def text(self, value: str | None) -> None:
        if value:
            self.parts.append(value)
            self.size += len(value)

    def length(self) -> int:
        return self.size

    def flush(self) -> None:
        if not self.parts:
            return
        raw = "".join(self.parts)
        total = max(len(clean_text(raw.replace(_BREAK, " "))), 1)
        links, code = self.link_chars / total, self.code_chars / total
        social = self.social_links
        self.parts, self.link_chars, self.code_chars, self.social_links = [], 0, 0, 0
        self.size = 0
        for line in _lines(raw):
            kind = self.kind
            if kind is Kind.PARAGRAPH and code > 0.5:
                kind = Kind.CODE
            elif kind in {Kind.PARAGRAPH, Kind.LIST_ITEM} and links > 0.8:
                kind = Kind.LINKS
            elif kind is Kind.PARAGRAPH and social >= 2:
                kind = Kind.EMBED  # a post pasted without its embed markup: handles, t.co links
            self.blocks.append(Block(kind, line))


_CODE_LINE = re.compile(r"[{};]\s*$|^\s*[{}]|^\s{2,}\S|\s=\s|\w\(|^\s*(#|//|\$ |>>> |<\w)")


def _is_plain_prose(raw: str) -> bool:
    """Text in <pre> that is a letter, not a listing: few code-like lines, mostly letters."""
    lines = [
        line for line in raw.splitlines() if line.strip() and not line.lstrip().startswith(">")
    ]
    if not lines:
        return False
    code = sum(1 for line in lines if _CODE_LINE.search(line))
    letters = sum(c.isalpha() or c.isspace() for c in raw) / max(len(raw), 1)
    return code <= 0.15 * len(lines) and letters > 0.8


def _mail_blocks(raw: str) -> Iterator[Block]:
    """Paragraphs of plain text: blank lines end them; "> " lines are quotes."""
    for chunk in re.split(r"\n\s*\n", raw):
        lines = [line for line in chunk.splitlines() if line.strip()]
        quoted = [line for line in lines if line.lstrip().startswith(">")]
        own = [line for line in lines if not line.lstrip().startswith(">")]
        if quoted:
            yield Block(Kind.QUOTE, clean_text(" ".join(q.lstrip("> ") for q in quoted)))
        if own:
            text = clean_text(" ".join(own))
            yield _retype(Block(Kind.PARAGRAPH, text))


def _lines(raw: str) -> Iterator[str]:
    """The block's text cut at <br><br>, and at a <br> that ends a line."""
    pieces = [clean_text(p) for p in raw.split(_BREAK)]  # lxml unescaped it: once is all
    current = ""
    blank = False
    for piece in pieces:
        if not piece:
            blank = True
            continue
        if current and not blank and _continues(current, piece):
            current = f"{current} {piece}"
        else:
            if current:
                yield current
            current = piece
        blank = False
    if current:
        yield current


def _continues(line: str, following: str) -> bool:
    """A single <br> inside a sentence: the line has no end and the next one starts lower-case."""
    return line[-1] not in _END_PUNCTUATION and following[:1].islower()


_NOTE_MARK = re.compile(r"^\W{0,2}\d{1,3}\W{0,2}$")


def _is_note_mark(node: lxml.html.HtmlElement, tag: str) -> bool:
    if tag not in {"sup", "a"}:
        return False
    if tag == "a" and "footnote" not in (node.get("class") or "").lower():
        return False
    return bool(_NOTE_MARK.match(node.text_content().strip()))


def _kind_of(node: lxml.html.HtmlElement, tag: str, inherited: Kind | None) -> Kind | None:
    if inherited is not None and inherited is not Kind.PARAGRAPH:
        return inherited  # a caption inside a quote stays part of the quote
    names = f"{node.get('class') or ''} {node.get('id') or ''}"
    if tag == "pre" or _CODE_CLASS.search(names):
        return Kind.CODE
    if _EMBED_CLASS.search(names) or tag in {"iframe", "embed"}:
        return Kind.EMBED
    # A <figure> may hold a whole slide's text: only its caption and credits are not prose.
    if tag == "figcaption" or _CAPTION_CLASS.search(names):
        return Kind.FIGURE
    if tag == "table":
        return Kind.TABLE
    if tag in _HEADINGS:
        return Kind.HEADING
    if tag in {"li", "dt", "dd"}:
        return Kind.LIST_ITEM
    if tag == "blockquote" or _QUOTE_CLASS.search(names):
        return Kind.QUOTE
    if tag in {"aside", "nav", "header", "footer"} or _ASIDE_CLASS.search(names):
        return Kind.ASIDE
    return inherited


def _retype(block: Block) -> Block:
    """Prose-shaped blocks that are not news: notices, embed signatures, bold headings."""
    if block.kind is not Kind.PARAGRAPH:
        return block
    text = block.text
    if _EMBED_SIGNATURE.match(text):
        return Block(Kind.EMBED, text)
    if _NOTICES.match(text) or (len(text.split()) <= 40 and is_notice(text)):
        return Block(Kind.NOTICE, text)
    if _looks_like_code(text):
        return Block(Kind.CODE, text)
    return block


_CODE_SIGNS = re.compile(
    r"[{};]\s*$|^\s*[}{]|\w+\([^)]*\)\s*[{;]|\b(def|func|fn|var|let|const)\s+\w+\s*[=(:]|"
    r"^\s*(//|#!|\$ )"
)


def _looks_like_code(text: str) -> bool:
    """A line of source code pasted as a paragraph."""
    if _CODE_SIGNS.search(text):
        return True
    symbols = sum(text.count(c) for c in "{}[]();=<>_/\\|#$")
    return len(text) >= 20 and symbols / len(text) > 0.12
