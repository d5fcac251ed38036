"""What a feed says in most of its items is not news: its boilerplate, learnt per feed.

A series note ("This article is part of our Code Health series"), a
podcast's sponsor read, a "Follow us on…" line: each is a sentence that
recurs, word for word (numbers aside), across one feed's items. `repeated`
learns them from the feed's entries as a build reads them, with no state
between runs; `without` takes them out of an article before it is
summarised. Sentences are cut with a plain punctuation rule here: the keys
only need to be the same wherever the same words appear, and the rule is
fast enough for a feed of hundreds of items.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace

from digest.models import Article, Entry
from digest.text.blocks import html_to_blocks, prose

MIN_ITEMS = 3
"""A feed with fewer items teaches nothing about its boilerplate."""
SHARE = 0.5
"""A sentence in more than this share of a feed's items is its boilerplate."""
MAX_ITEMS = 100
MIN_KEY_WORDS = 3
_CUT = re.compile(r"(?<=[.!?。！？…])\s+|(?<=[。！？])")
_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"\d+")


def key(sentence: str) -> str:
    """The sentence's words, case and numbers aside ("Part 3 of 5" = "part 0 of 0")."""
    words = _WORD.findall(_DIGITS.sub("0", sentence.casefold()))
    return " ".join(words) if len(words) >= MIN_KEY_WORDS or _is_cjk(sentence) else ""


def repeated(entries: Sequence[Entry]) -> frozenset[str]:
    """Keys of the sentences found in most of these entries (one feed's)."""
    sample = entries[:MAX_ITEMS]
    if len(sample) < MIN_ITEMS:
        return frozenset()
    counts: Counter[str] = Counter()
    for entry in sample:
        counts.update({k for k in _keys(entry) if k})
    need = max(MIN_ITEMS, math.floor(SHARE * len(sample)) + 1)
    return frozenset(k for k, n in counts.items() if n >= need)


def without(article: Article, boilerplate: frozenset[str]) -> Article:
    """The article with the feed's boilerplate sentences taken out of its prose and standfirst."""
    if not boilerplate:
        return article
    paragraphs = tuple(p for p in (_strip(p, boilerplate) for p in article.paragraphs) if p)
    standfirst = _strip(article.standfirst, boilerplate)
    if paragraphs == article.paragraphs and standfirst == article.standfirst:
        return article
    if not paragraphs and not standfirst:
        return article  # all of it repeats (a feed sending one text for every item): keep it
    return replace(article, paragraphs=paragraphs, standfirst=standfirst)


def _keys(entry: Entry) -> Iterator[str]:
    for paragraph in prose(html_to_blocks(entry.content_html)):
        yield key(paragraph)
        for sentence in _CUT.split(paragraph):
            yield key(sentence)


def _strip(paragraph: str, boilerplate: frozenset[str]) -> str:
    if not paragraph or key(paragraph) in boilerplate:
        return ""
    pieces = _CUT.split(paragraph)
    kept = [s for s in pieces if not s or key(s) not in boilerplate]
    if len(kept) == len(pieces):
        return paragraph
    return " ".join(s for s in kept if s).strip()


def _is_cjk(text: str) -> bool:
    return any("\u3040" <= c <= "\u9fff" for c in text)
