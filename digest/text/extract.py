"""Entry → Article: the readable text of each story.

Feeds that carry the whole article give it in `content:encoded`; feeds that
carry only an excerpt send us to the article page, where trafilatura finds
the text among the navigation, sidebars and cookie banners. Either way the
HTML becomes typed blocks (`digest.text.blocks`) and the article's
`paragraphs` are its prose blocks only; the feed's own summary, when it is
not the content itself, is kept as the standfirst.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

from digest.collect import images
from digest.config import FullText
from digest.models import Article, Block, BlockKind, Entry, Fetched
from digest.text.blocks import html_to_blocks, prose

logger = logging.getLogger(__name__)

_TRAILING_ELLIPSIS = re.compile(r"\s*(\[\s*(…|\.\.\.)\s*\]|\[&hellip;\])\s*$")
_MIN_EXTRACTED_WORDS = 40  # less than this from a page is a failed extraction


def needs_page(entry: Entry, mode: FullText) -> bool:
    """Whether to fetch the article page for this entry."""
    if mode == "never" or not entry.url:
        return False
    return mode == "always" or entry.is_excerpt


def from_feed(entry: Entry) -> Article:
    """The article as the feed carries it (full content, or the excerpt)."""
    blocks = _trimmed(html_to_blocks(entry.content_html))
    picture = images.best(entry.pictures)
    return Article(
        entry=entry,
        paragraphs=prose(blocks),
        image=picture.url if picture else entry.image,
        picture=picture,
        blocks=blocks,
        standfirst=standfirst(entry),
    )


def standfirst(entry: Entry) -> str:
    """The feed's summary as plain text when it is not the content itself; else ""."""
    blocks = _trimmed(html_to_blocks(entry.excerpt_html))
    usable = [b.text for b in blocks if b.kind in {BlockKind.PARAGRAPH, BlockKind.QUOTE}]
    return " ".join(usable[:2])


def _trimmed(blocks: tuple[Block, ...]) -> tuple[Block, ...]:
    """Without the "[…]" that ends a feed excerpt."""
    if not blocks:
        return blocks
    last = _TRAILING_ELLIPSIS.sub("", blocks[-1].text).strip()
    if last == blocks[-1].text:
        return blocks
    return (*blocks[:-1], Block(blocks[-1].kind, last)) if last else blocks[:-1]


_IMAGE_META = (
    "//meta[@property='og:image' or @name='og:image' or @property='og:image:url'"
    " or @property='og:image:secure_url']/@content",
    "//meta[@name='twitter:image' or @property='twitter:image'"
    " or @name='twitter:image:src']/@content",
    "//link[@rel='image_src']/@href",
)


def page_image(tree: Any) -> str | None:
    """The page's lead image as its <head> announces it (Open Graph, Twitter, image_src).

    Read with three XPath queries: trafilatura's `extract_metadata` would also look
    for dates through htmldate and dateparser, whose first use compiles patterns
    for some 200 locales (seconds) for a value we do not need.
    """
    for query in _IMAGE_META:
        for value in tree.xpath(query):
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def from_page(entry: Entry, page: Fetched) -> Article:
    """The article text extracted from its page; falls back to the feed's text."""
    # Imported here: builds whose feeds carry whole articles never pay for it (~0.2 s).
    import trafilatura

    fallback = from_feed(entry)
    try:
        tree = trafilatura.load_html(page.content)
        if tree is None:
            logger.info("%s: the page is not HTML, keeping the feed's text", entry.url)
            return replace(fallback, page_url=page.final_url)
        # Read before extracting: trafilatura prunes the tree it is given.
        page_html = page.content.decode("utf-8", "replace")
        candidates = [*entry.pictures, *images.from_page(page_html, page.final_url)]
        if not candidates:
            found = images.picture(page_image(tree), page.final_url)
            candidates = [found] if found else []
        picture = images.best(candidates)
        image = picture.url if picture else entry.image
        description = page_description(tree)
        markup = trafilatura.extract(
            tree,
            url=page.final_url,
            include_comments=False,
            include_tables=True,
            include_formatting=True,
            favor_precision=True,
            output_format="html",
        )
    except Exception as e:  # trafilatura raises a zoo of lxml/parser errors on junk
        logger.warning("%s: could not extract the article text: %s", entry.url, e)
        return replace(fallback, page_url=page.final_url)
    blocks = html_to_blocks(markup or "")
    # Extractors often keep the page's headline as the first block.
    if blocks and blocks[0].text.casefold() == entry.title.casefold():
        blocks = blocks[1:]
    lead = fallback.standfirst or clean_description(description)
    paragraphs = prose(blocks)
    if sum(len(p.split()) for p in paragraphs) < _MIN_EXTRACTED_WORDS:
        logger.info("%s: page held too little text, keeping the feed's", entry.url)
        return Article(
            entry=entry,
            paragraphs=fallback.paragraphs,
            image=image,
            blocks=fallback.blocks,
            standfirst=lead,
            picture=picture,
            page_url=page.final_url,
        )
    return Article(
        entry=entry,
        paragraphs=paragraphs,
        image=image,
        blocks=blocks,
        standfirst=lead,
        picture=picture,
        page_url=page.final_url,
    )


def page_description(tree: Any) -> str | None:
    """The page's own summary as its <head> announces it (Open Graph, then meta)."""
    for query in _DESCRIPTION_META:
        for value in tree.xpath(query):
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


_DESCRIPTION_META = (
    '//head/meta[@property="og:description"]/@content',
    '//head/meta[@name="description"]/@content',
    '//head/meta[@name="twitter:description"]/@content',
)


def clean_description(text: str | None) -> str:
    """A page's meta description as plain text, without a trailing "…" or "[…]"."""
    blocks = _trimmed(html_to_blocks(text or ""))
    return " ".join(b.text for b in blocks if b.kind is BlockKind.PARAGRAPH)
