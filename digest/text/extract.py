"""Entry → Article: the readable text of each story.

Feeds that carry the whole article give it in `content:encoded`; feeds that
carry only an excerpt send us to the article page, where trafilatura finds
the text among the navigation, sidebars and cookie banners.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import trafilatura

from digest.collect import images
from digest.config import FullText
from digest.models import Article, Entry, Fetched
from digest.text.sanitise import clean_text, html_to_paragraphs

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
    picture = images.best(entry.pictures)
    image = picture.url if picture else entry.image
    return Article(entry=entry, paragraphs=tuple(paragraphs), image=image, picture=picture)


def from_page(entry: Entry, page: Fetched) -> Article:
    """The article text extracted from its page; falls back to the feed's text."""
    fallback = from_feed(entry)
    try:
        text = trafilatura.extract(
            page.content,
            url=page.final_url,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            output_format="txt",
        )
        metadata = trafilatura.extract_metadata(page.content.decode("utf-8", "replace"))
    except Exception as e:  # trafilatura raises a zoo of lxml/parser errors on junk
        logger.warning("%s: could not extract the article text: %s", entry.url, e)
        return replace(fallback, page_url=page.final_url)
    paragraphs = [p for p in (clean_text(line) for line in (text or "").splitlines()) if p]
    # Extractors often keep the page's headline as the first line.
    if paragraphs and paragraphs[0].casefold() == entry.title.casefold():
        paragraphs = paragraphs[1:]
    page_html = page.content.decode("utf-8", "replace")
    candidates = [*entry.pictures, *images.from_page(page_html, page.final_url)]
    if not candidates:
        found = images.picture(getattr(metadata, "image", None), page.final_url)
        candidates = [found] if found else []
    picture = images.best(candidates)
    image = picture.url if picture else entry.image
    if sum(len(p.split()) for p in paragraphs) < _MIN_EXTRACTED_WORDS:
        logger.info("%s: page held too little text, keeping the feed's", entry.url)
        return Article(
            entry=entry,
            paragraphs=fallback.paragraphs,
            image=image,
            picture=picture,
            page_url=page.final_url,
        )
    return Article(
        entry=entry,
        paragraphs=tuple(paragraphs),
        image=image,
        extracted=True,
        picture=picture,
        page_url=page.final_url,
    )
