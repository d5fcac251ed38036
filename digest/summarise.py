"""Article → summary sentences, extracted with sumy, in article order.

sumy's own tokenizer needs NLTK's `punkt_tab` data, which no package
installs; sentences here come from `sentencex` (rule-based, shipped on PyPI,
many languages) and words from a Unicode regex, wired into sumy's document
model directly. Sentences that cannot stand alone in an email (image credits,
bylines, "Read more", lead-ins ending in a colon, fragments) are dropped
before ranking.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from functools import lru_cache

import sentencex
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.nlp.stemmers import Stemmer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.utils import get_stop_words

from digest.sanitise import clean_text

logger = logging.getLogger(__name__)

ALGORITHM = "lexrank-v1"
"""Part of the cache key: change it when the selection changes."""
MIN_WORDS = 6
MAX_WORDS = 60

_LANGUAGES = {
    "en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian",
    "pt": "portuguese", "nl": "dutch", "sv": "swedish", "da": "danish", "no": "norwegian",
    "nb": "norwegian", "fi": "finnish", "ru": "russian", "cs": "czech", "sk": "slovak",
    "el": "greek", "uk": "ukrainian", "pl": "polish", "hu": "hungarian", "ro": "romanian",
}  # fmt: skip
_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)
_JUNK = [
    re.compile(p, re.I)
    for p in (
        r"^\[?\s*(image|photo|picture|graphic|video|credit|illustration)s?\b.{0,80}[:/]",
        r"^\[.*\]$",
        r"^\(.*\)$",
        r"^(photo|image)s?\s+(by|courtesy|credit)\b",
        r"^by\s+[\w.'’ -]{2,60}$",
        r"\b(read more|continue reading|click here|sign up|subscrib(e|ing)|newsletter)\b",
        r"\bappeared first on\b",
        r"^(share|tweet|email|print)( this)?( (story|article))?\W*$",
        r"^(from|via|according to|per)\b[^.!?]{0,60}:\s*$",
        r":\s*$",
        r"^(advertisement|sponsored|related|see also)\b",
        r"(https?://|www\.)\S+",
    )
]


class Tokenizer:
    """The tokenizer interface sumy expects, without NLTK data."""

    def __init__(self, language: str) -> None:
        self.language = language

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return split_sentences(paragraph, self.language)

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(_WORD.findall(sentence))


def split_sentences(text: str, language: str = "en") -> tuple[str, ...]:
    """Sentences of one paragraph; sentencex falls back to a generic splitter."""
    try:
        parts = sentencex.segment(language, text)
    except Exception:  # an unknown language code must never fail a build
        logger.warning("no sentence splitter for language %r; using the generic one", language)
        parts = sentencex.segment("en", text)
    return tuple(s for s in (clean_text(p) for p in parts) if s)


def content_hash(paragraphs: Sequence[str], language: str, count: int) -> str:
    digest = hashlib.sha256(f"{ALGORITHM}\x00{language}\x00{count}".encode())
    for paragraph in paragraphs:
        digest.update(b"\x00" + paragraph.encode())
    return digest.hexdigest()


def is_standalone(sentence: str) -> bool:
    """Whether a sentence can appear in a summary without its article around it."""
    words = _WORD.findall(sentence)
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return False
    return not any(pattern.search(sentence) for pattern in _JUNK)


def summarise(paragraphs: Sequence[str], language: str | None, count: int) -> tuple[str, ...]:
    """Up to `count` sentences chosen by LexRank among the standalone ones, in order."""
    language = (language or "en").lower()
    tokenizer = Tokenizer(language)
    sentences: list[str] = []
    seen: set[str] = set()
    for paragraph in paragraphs:
        for sentence in tokenizer.to_sentences(paragraph):
            key = sentence.casefold()
            if key not in seen and is_standalone(sentence):
                seen.add(key)
                sentences.append(sentence)
    if len(sentences) <= count:
        return tuple(sentences)
    document = ObjectDocumentModel([Paragraph([Sentence(s, tokenizer) for s in sentences])])
    summarizer = _summarizer(_LANGUAGES.get(language, "english"))
    chosen = {str(s) for s in summarizer(document, count)}
    return tuple(s for s in sentences if s in chosen)


@lru_cache(maxsize=16)
def _summarizer(language: str) -> LexRankSummarizer:
    try:
        summarizer = LexRankSummarizer(Stemmer(language))
    except LookupError:
        summarizer = LexRankSummarizer()
    try:
        summarizer.stop_words = get_stop_words(language)
    except LookupError:
        summarizer.stop_words = frozenset()
    return summarizer
