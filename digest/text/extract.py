"""Entry → Article: the readable text of each story.

Feeds that carry the whole article give it in `content:encoded`; feeds that
carry only an excerpt send us to the article page, where trafilatura finds
the text among the navigation, sidebars and cookie banners.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from digest.config import FullText
from digest.models import Article, Entry, Fetched
from digest.text.sanitise import clean_text, html_to_paragraphs, safe_url

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
    paragraphs = html_to_paragraphs(entry.content_html)
    if paragraphs:
        last = _TRAILING_ELLIPSIS.sub("", paragraphs[-1]).strip()
        paragraphs = [*paragraphs[:-1], last] if last else paragraphs[:-1]
    return Article(entry=entry, paragraphs=tuple(paragraphs), image=entry.image)


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
            return fallback
        # Read before extracting: trafilatura prunes the tree it is given.
        image = entry.image or safe_url(page_image(tree), page.final_url)
        text = trafilatura.extract(
            tree,
            url=page.final_url,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            output_format="txt",
        )
    except Exception as e:  # trafilatura raises a zoo of lxml/parser errors on junk
        logger.warning("%s: could not extract the article text: %s", entry.url, e)
        return fallback
    paragraphs = [p for p in (clean_text(line) for line in (text or "").splitlines()) if p]
    # Extractors often keep the page's headline as the first line.
    if paragraphs and paragraphs[0].casefold() == entry.title.casefold():
        paragraphs = paragraphs[1:]
    if sum(len(p.split()) for p in paragraphs) < _MIN_EXTRACTED_WORDS:
        logger.info("%s: page held too little text, keeping the feed's", entry.url)
        return Article(entry=entry, paragraphs=fallback.paragraphs, image=image)
    return Article(entry=entry, paragraphs=tuple(paragraphs), image=image)
