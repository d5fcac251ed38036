"""What no editor would show, and the parts of a comment that are not the comment.

`is_worth_showing` drops removed or deleted comments, too-short ones,
link-only text, "first!", shouting, repeated characters and abusive language
(better-profanity's maintained word list, with an allow-list for mild words).
`clean` strips signatures and paragraphs that only quote the article.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from digest.models import Comment

logger = logging.getLogger(__name__)

MIN_WORDS = 4
WORD = re.compile(r"\w+", re.UNICODE)
_URL = re.compile(r"(https?://|www\.)\S+", re.I)
_FIRST = re.compile(
    r"^\W*(first|1st|frist|second|me first|this|\+1|same|lol|this\.?)\W*(post|comment)?\W*$", re.I
)
_REPEATED = re.compile(r"(\S)\1{5,}")
_DELETED = {"[deleted]", "[removed]", "deleted", "removed", "[deleted by user]"}
_SIGNATURE = re.compile(
    r"^(--\s*$|sent from my \w+|get outlook for \w+|regards,?$|cheers,?$|thanks,?$)", re.I
)
QUOTE_SHARE = 0.8
"""A paragraph with this share of its word 5-grams in the article is a quote of it."""


@dataclass(frozen=True)
class AbuseFilter:
    """Abusive-language check: a maintained word list, minus allowed words, plus extra ones."""

    enabled: bool = True
    allow: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, enabled: bool, allow: str, extra: str) -> AbuseFilter:
        def split(words: str) -> tuple[str, ...]:
            return tuple(sorted(w.strip().lower() for w in words.split(",") if w.strip()))

        return cls(enabled, split(allow), split(extra))

    def is_abusive(self, text: str) -> bool:
        if not self.enabled:
            return False
        checker = _checker(self.allow, self.extra)
        return checker is not None and bool(checker.contains_profanity(text))


@lru_cache(maxsize=8)
def _checker(allow: tuple[str, ...], extra: tuple[str, ...]) -> Any:
    try:
        from better_profanity import Profanity
    except ImportError:  # pragma: no cover - a declared dependency
        logger.warning("better-profanity is not installed: the abuse filter is off")
        return None
    checker = Profanity()
    checker.load_censor_words(whitelist_words=list(allow))
    if extra:
        checker.add_censor_words(list(extra))
    return checker


DEFAULT_ABUSE = AbuseFilter.from_settings(
    True, "hell, damn, damned, crap, crappy, sucks, suck, bloody, screw, screwed", ""
)


NO_ABUSE_CHECK = AbuseFilter(enabled=False)


def is_worth_showing(comment: Comment, abuse: AbuseFilter = DEFAULT_ABUSE) -> bool:
    """False for junk no editor would show."""
    text = comment.text.strip()
    if text.lower() in _DELETED or comment.author.lower() in _DELETED:
        return False
    without_links = _URL.sub(" ", text)
    words = WORD.findall(without_links)
    if len(words) < MIN_WORDS or _FIRST.match(text) or _REPEATED.search(text):
        return False
    letters = [c for c in without_links if c.isalpha()]
    if len(letters) > 12 and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        return False  # shouting
    return not abuse.is_abusive(text)


def clean(comment: Comment, article_grams: frozenset[tuple[str, ...]] = frozenset()) -> Comment:
    """The comment without its signature and without paragraphs quoting the article."""
    paragraphs = comment.text.split("\n\n")
    while len(paragraphs) > 1 and _SIGNATURE.match(paragraphs[-1].strip()):
        paragraphs.pop()
    lines = paragraphs[-1].splitlines() if paragraphs else []
    if len(lines) > 1 and _SIGNATURE.match(lines[-1].strip()):
        paragraphs[-1] = "\n".join(lines[:-1])
    if article_grams:
        paragraphs = [p for p in paragraphs if not _quotes(p, article_grams)]
    text = "\n\n".join(p for p in paragraphs if p.strip())
    return comment if text == comment.text else replace(comment, text=text)


def grams(text: str, n: int = 5) -> frozenset[tuple[str, ...]]:
    """Word n-grams of a text, for spotting quotes of it."""
    words = WORD.findall(text.casefold())
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def _quotes(paragraph: str, article_grams: frozenset[tuple[str, ...]]) -> bool:
    own = grams(paragraph)
    return bool(own) and len(own & article_grams) / len(own) >= QUOTE_SHARE
