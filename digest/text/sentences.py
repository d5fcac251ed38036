"""Sentences a summary may use: splitting without downloads, and hygiene.

Splitting is `sentencex` (rule-based, shipped on PyPI, many languages) with a
small protective step around it: periods that never end a sentence (titles
such as "Mr." or "M.", "z. B.", "p. ej.", a period followed by a lower-case
word) are masked before splitting and restored after, and an all-capital
acronym followed by a capitalised word ("USA. Ha pagato") is split. Hygiene
drops what cannot stand alone in an email: captions and credits, bylines,
"Read more", lead-ins ending in a colon, subscribe blurbs, fragments and
overlong sentences; `is_dangling` marks questions and bare quotes, which are
used only when nothing better is left.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import sentencex

from digest.text.languages import primary
from digest.text.sanitise import clean_text

logger = logging.getLogger(__name__)

MIN_WORDS = 6
MAX_WORDS = 60
WORD = re.compile(r"\w+(?:[-'’.,]\w+)*", re.UNICODE)
"""A word: letters or digits, keeping "€46.39", "U.S" and "l'homme" whole."""

_MASK = "\ue000"
# Abbreviations whose period is never a sentence end (what follows is usually capitalised).
_ABBREVIATIONS = {
    "en": "Mr Mrs Ms Dr Prof Sen Rep Gov Gen Lt Col Capt Sgt Rev Hon St Mt Ft No Nos Jan Feb Aug "
    "Sept Oct Nov Dec",
    "fr": "M MM Mme Mmes Mlle Dr Pr St Ste Me p ex cf",
    "de": "z B d h u a Dr Prof Hr Fr Nr Str vgl evtl ggf bzw ca Mio Mrd St",
    "es": "Sr Sres Sra Srta Dr Dra D Dña Ud Uds p ej EE UU pág núm",
    "it": "sig sigg sig.ra dott dr prof ing avv on mld mln Sig Dott Prof Ing Avv On",
    "pt": "Sr Srs Sra Srª Dr Dra Prof Profª p ex V Exa",
    "nl": "dhr mevr mw dr prof bijv o a d w z m b t nr Dhr Mevr Mw Dr Prof",
}
_LOWER_NEXT = re.compile(r"\.(?=[\s\u00a0]+[a-zà-ÿ])")
_ACRONYM_END = re.compile(r"\b([A-Z]{2,6})\.\s+(?=[A-ZÀ-Ý][a-zà-ÿ])")
_BREAK = "\ue001"
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
        r"(©|\ball rights reserved\b|\bcopyright\b)",
    )
]


def split_sentences(text: str, language: str = "en") -> tuple[str, ...]:
    """Sentences of one paragraph, split without any download."""
    code = primary(language) or "en"
    masked = _mask(text, code)
    try:
        parts = sentencex.segment(code, masked)
    except Exception:  # an unknown language code must never fail a build
        _warn_unknown(code)
        parts = sentencex.segment("en", masked)
    sentences = []
    for part in parts:
        for piece in _ACRONYM_END.sub(rf"\1.{_BREAK}", part).split(_BREAK):
            sentence = clean_text(piece.replace(_MASK, "."))
            if sentence:
                sentences.append(sentence)
    return tuple(sentences)


def words(sentence: str) -> list[str]:
    """The words of a sentence (numbers included)."""
    return WORD.findall(sentence)


def is_standalone(sentence: str) -> bool:
    """Whether a sentence can appear in a summary without its article around it."""
    if not MIN_WORDS <= len(words(sentence)) <= MAX_WORDS:
        return False
    return not any(pattern.search(sentence) for pattern in _JUNK)


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


@lru_cache(maxsize=32)
def _abbreviation_pattern(language: str) -> re.Pattern[str] | None:
    names = _ABBREVIATIONS.get(language, "").split()
    if not names:
        return None
    alternatives = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
    return re.compile(rf"(?<![\w.])({alternatives})\.(?=[\s\u00a0])")


def _mask(text: str, language: str) -> str:
    pattern = _abbreviation_pattern(language)
    if pattern is not None:
        # Twice, so chained abbreviations ("z. B.", "d. h.") are both masked.
        for _ in range(2):
            text = pattern.sub(lambda m: m.group(1) + _MASK, text)
    return _LOWER_NEXT.sub(_MASK, text)


@lru_cache(maxsize=32)
def _warn_unknown(language: str) -> None:
    logger.warning("no sentence rules for language %r; using the generic splitter", language)
