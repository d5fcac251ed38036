"""A summary never worse than the article's own opening.

When the body gives the summariser no sentence that stands alone (a short
post, a list of show notes, a page of quotes), the story still gets the
words its publisher put first: the standfirst (the feed's own summary),
else the first clean sentences of the prose, else of the quotes, list items
and headings, in that order. Code, captions, tables, embeds, link lines and notices
are never used, and every sentence still passes the hygiene rules but the
length one. A sentence longer than the word budget is cut at a word with
"…".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from digest.models import Article, BlockKind
from digest.text.sentences import fingerprint, is_clean, split_sentences, words

MIN_WORDS = 3
_LAST_RESORT = (BlockKind.QUOTE, BlockKind.LIST_ITEM, BlockKind.HEADING)


def or_opening(
    summary: Sequence[str], article: Article, language: str, count: int, max_words: int
) -> tuple[str, ...]:
    """`summary` when it has a sentence; else the article's clean opening (maybe empty)."""
    if summary or count <= 0:
        return tuple(summary)
    return opening(article, language, count, max_words)


def opening(article: Article, language: str, count: int, max_words: int) -> tuple[str, ...]:
    """Up to `count` clean sentences from the start of the article, within `max_words`."""
    chosen: list[str] = []
    seen: set[str] = set()
    used = 0
    for sentence in _candidates(article, language):
        mark = fingerprint(sentence)
        if mark in seen:
            continue
        n = len(words(sentence))
        if max_words and n > max_words - used:
            if chosen:
                break
            sentence = _cut(sentence, max_words)
            n = max_words
        seen.add(mark)
        chosen.append(sentence)
        used += n
        if len(chosen) >= count or (max_words and used >= max_words):
            break
    return tuple(chosen)


def _candidates(article: Article, language: str) -> Iterator[str]:
    texts = [article.standfirst, *article.paragraphs]
    for kind in _LAST_RESORT:
        texts += [b.text for b in article.blocks if b.kind is kind]
    for text in texts:
        for sentence in split_sentences(text, language) if text else ():
            if len(words(sentence)) >= MIN_WORDS and is_clean(sentence):
                yield sentence


def _cut(sentence: str, max_words: int) -> str:
    """The sentence cut after `max_words` words (kept whole when it cannot be cut by words)."""
    tokens = sentence.split()
    if len(tokens) <= max_words:
        return sentence
    return " ".join(tokens[:max_words]).rstrip(",;:—–-") + "…"
