"""Sentences a summary may use: hygiene, word counts and near-duplicates.

Splitting lives in `digest.text.splitting` (re-exported here). Hygiene drops
what cannot stand alone in an email: captions and credits, bylines, "Read
more", notices about the post itself, lead-ins ending in a colon, subscribe
blurbs, code, fragments and overlong sentences; `is_dangling` marks
questions and bare quotes, which are used only when nothing better is left.
Words are counted with a segmenter for Chinese and Japanese (`digest.text.cjk`).
"""

from __future__ import annotations

import logging
import re

from digest.text import cjk
from digest.text.blocks import is_notice
from digest.text.splitting import split_sentences as split_sentences

logger = logging.getLogger(__name__)

MIN_WORDS = 6
MAX_WORDS = 60
WORD = re.compile(r"\w+(?:[-'’.,]\w+)*", re.UNICODE)
"""A word: letters or digits, keeping "€46.39", "U.S" and "l'homme" whole."""

_QUOTES = "\"'“”„‘’«»‹›"
_JUNK = [
    re.compile(p, re.I)
    for p in (
        r"^\[?\s*(image|photo|picture|graphic|video|credit|illustration|foto|bild|imagen)s?\b"
        r".{0,80}[:/]",
        r"^\[.*\]$",
        r"^\(.*\)$",
        r"^(photo|image|foto|bild)s?\s+(by|courtesy|credit|von|de|di)\b",
        r"\b(getty images|ap photo|afp photo|reuters/|shutterstock|dpa/|epa/)",
        r"^(by|von|par|por|di|door)\s+[\w.'’ -]{2,60}$",
        r"\b(read more|continue reading|click here|sign up|subscrib(e|ing)|newsletter)\b",
        r"\b(lesen sie (auch|mehr)|mehr zum thema|abonnier|lire aussi|abonnez|leer más|"
        r"suscr[ií]b|leggi anche|iscriviti|leia (mais|também)|assine|lees ook|abonneer)",
        r"\bappeared first on\b",
        r"^scroll down for (video|more)\b",
        r"^(share|tweet|email|print)( this)?( (story|article))?\W*$",
        r"^(from|via|according to|per)\b[^.!?]{0,60}:\s*$",
        r":\s*$",
        r"^(advertisement|sponsored|related|see also|anzeige|publicité|publicidad)\b",
        r"(https?://|www\.)\S+",
        r"\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|org|net|io|co|ly|me)/\S+",  # pic.twitter.com/x
        r"(^|\s)#\w+\W*$|@\w+.*@\w+",  # a post's closing hashtag; handles talking to handles
        r"(©|\ball rights reserved\b|\bcopyright\b)",
    )
]


def words(sentence: str) -> list[str]:
    """The words of a sentence (numbers included); Chinese and Japanese segmented."""
    found = WORD.findall(sentence)
    if not cjk.has_cjk(sentence):
        return found
    return [w for run in found for w in (cjk.words(run) if cjk.has_cjk(run) else (run,))]


def is_standalone(sentence: str) -> bool:
    """Whether a sentence can appear in a summary without its article around it."""
    if not MIN_WORDS <= len(words(sentence)) <= MAX_WORDS:
        return False
    return is_clean(sentence)


def is_clean(sentence: str) -> bool:
    """No code, URL, credit, notice or call to action in it (whatever its length)."""
    if _CODE.search(sentence) or is_notice(sentence):
        return False
    return not any(pattern.search(sentence) for pattern in _JUNK)


_CODE = re.compile(
    r"\w+\(\)|\w::\w|[{};]\s*$|^\s*[{}]|\s(=>|->|==|!=|&&|\|\|)\s|</?[a-z]+>|"
    r"\b\w+\.\w+\([^)]*\)|\$ [a-z]"
)
"""Source code in running text: calls, scopes, operators, tags, shell prompts."""


def is_dangling(sentence: str) -> bool:
    """A question, or a bare quote with no one saying it: weak without its context."""
    s = sentence.strip()
    if s.endswith("?") or s.endswith(("?”", '?"', "?’", "?»")):
        return True
    if s[:1] in _QUOTES and s[1:2].isspace():
        return True  # a stray closing quote: the sentence starts mid-quotation
    opens_quoted = s[:1] in _QUOTES
    closes_quoted = s.rstrip(".!…")[-1:] in _QUOTES or s[-1:] in _QUOTES
    return opens_quoted and closes_quoted and _count_quotes(s) <= 2


def near_duplicate(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two sentences' word sets overlap so much that one repeats the other."""
    return len(a & b) >= 0.8 * min(len(a), len(b))


def fingerprint(sentence: str) -> str:
    """What two duplicates share: their words, case and punctuation aside."""
    return " ".join(w.casefold() for w in words(sentence))


def _count_quotes(s: str) -> int:
    return sum(s.count(q) for q in '"“”„«»')
