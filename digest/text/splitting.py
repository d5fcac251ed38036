"""One paragraph → its sentences, with the splitter `bench/sentences.py` found best per language.

The base splitters are rule-based and ship on PyPI with their rules (no
downloads): sentencex for most languages, pysbd (the pragmatic-segmenter
rules) for Arabic script where sentencex has few rules, and
digest's own cutter at 。！？ for Chinese and Japanese. Around the base
splitter, a protective step keeps together what no splitter here gets right:

- before: periods that never end a sentence are masked: titles and
  abbreviations of the language ("Dr.", "z. B.", "p. ej."), an abbreviation
  before a number ("Vol. 3", "S. 225"), a period before a lower-case word,
  an ordinal before a noun in languages that write "des 20. Jahrhunderts",
  a wire-service dateline ("(EFE).- O índice");
- after: a name with an exclamation mark ("the try! Swift app",
  "Yahoo! Japan") is joined back to the sentence it belongs to, and an
  all-capital acronym that ends a sentence ("USA. Ha pagato") is split.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import sentencex

from digest.text import cjk
from digest.text.languages import primary, stop_words
from digest.text.sanitise import clean_text

logger = logging.getLogger(__name__)

_MASK = "\ue000"
_BREAK = "\ue001"
MAX_RULE_CHARS = 1500
"""Longer paragraphs go to sentencex whatever the language: pysbd's time grows faster
than the text (about 0.2 s for a 3,300-character paragraph, sentencex 1 ms)."""

# Chosen by `python -m bench.sentences` (see README, "Summaries"): sentencex with the
# guards below is as accurate as pysbd on the written cases in every language and
# hundreds of times faster on long paragraphs; pysbd only where sentencex has no rules
# worth the name (Arabic script: 20 % against 80 % on the golden rules).
PYSBD = frozenset({"ar", "fa", "ur"})
OWN_CJK = frozenset({"zh", "ja"})

# Abbreviations whose period is never a sentence end (what follows is usually capitalised).
_ABBREVIATIONS = {
    "en": "Mr Mrs Ms Dr Prof Sen Rep Gov Gen Lt Col Capt Sgt Rev Hon St Mt Ft No Nos Jan Feb Aug "
    "Sept Oct Nov Dec Ph.D Vol vs approx Jr Sr",
    "fr": "M MM Mme Mmes Mlle Dr Pr St Ste Me p ex cf av apr J.-C",
    "de": "z B d h u a Dr Prof Hr Fr Nr Str vgl evtl ggf bzw ca Mio Mrd St med Z T kath usw s o",
    "es": "Sr Sres Sra Srta Dr Dra D Dña Ud Uds p m a ej EE UU pág núm Av Avda",
    "it": "sig sigg sig.ra dott dr prof ing avv on mld mln Sig Dott Prof Ing Avv On",
    "pt": "Sr Srs Sra Srª Dr Dra Prof Profª p ex V Exa p.p Av",
    "nl": "dhr mevr mw dr prof bijv o a d w z m b t nr Dhr Mevr Mw Dr Prof",
}
_BEFORE_NUMBER = re.compile(
    r"\b(?<!\.)(vol|no|nos|nr|núm|num|n|nº|p|pp|s|art|fig|abb|ch|sec|bd|hft|tab|kap)\.(?=\s*\d)",
    re.I,
)
# "iOS", "iPhone", "eBay" start sentences: only an all-lower-case word means one goes on.
_LOWER_NEXT = re.compile(r"(?<=\w)\.(?=[\s\u00a0]+[a-zà-ÿ]+(?![A-ZÀ-Ý\d]))")
# Languages writing ordinals as a number and a period ("am 3. März", "26. januára").
_ORDINAL_LANGUAGES = frozenset(
    {"de", "da", "no", "nb", "nn", "fi", "cs", "sk", "pl", "hu", "hr", "sl", "sr", "bs", "et",
     "lv", "lt", "is", "tr", "fo"}
)  # fmt: skip
_ORDINAL = re.compile(r"(?<![\d.,])(\d{1,3})\.(?=[\s\u00a0]+([^\W\d_][\w-]*))")
_DATELINE = re.compile(r"^([^.!?]{0,80}\([A-Z][\w/ ]{1,20}\))\.(?=\s*[-–—])")
_ACRONYM_END = re.compile(r"\b(?![IVXLCDM]+\.)([A-Z]{2,6})\.\s+(?=[A-ZÀ-Ý][a-zà-ÿ])")
_BANG_NAME = re.compile(r"(?:^|\s)(\w[\w'’-]*)!$")


def split_sentences(text: str, language: str = "en") -> tuple[str, ...]:
    """Sentences of one paragraph, split without any download."""
    code = primary(language) or "en"
    if code in OWN_CJK or (cjk.has_cjk(text) and not _latin_heavy(text)):
        return tuple(s for s in (clean_text(p) for p in cjk.split(text)) if s)
    base = _base(code, len(text))
    # pysbd's English list is complete; its other lists miss titles such as "Dhr.".
    masked = _mask(text, code, known=base is _pysbd and code == "en")
    parts = _join_names(base(masked, code), code)
    sentences = []
    for part in parts:
        for piece in _ACRONYM_END.sub(rf"\1.{_BREAK}", part).split(_BREAK):
            sentence = clean_text(piece.replace(_MASK, "."))
            if sentence:
                sentences.append(sentence)
    return tuple(sentences)


def _latin_heavy(text: str) -> bool:
    """Mostly Latin letters (an English article quoting a Chinese name)."""
    han = len(cjk.SCRIPT.findall(text))
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    return latin > 3 * han


def _base(language: str, length: int) -> Callable[[str, str], list[str]]:
    if language in PYSBD and length <= MAX_RULE_CHARS:
        return _pysbd
    return _sentencex


def _sentencex(text: str, language: str) -> list[str]:
    try:
        return list(sentencex.segment(language, text))
    except Exception:  # an unknown language code must never fail a build
        _warn_unknown(language)
        return list(sentencex.segment("en", text))


def _pysbd(text: str, language: str) -> list[str]:
    try:
        return [str(s) for s in _segmenter(language).segment(text)]
    except Exception as e:  # a rule crash on odd text costs only the better split
        logger.info("pysbd could not split a paragraph (%s); using sentencex", e)
        return _sentencex(text, language)


@lru_cache(maxsize=16)
def _segmenter(language: str) -> Any:
    import pysbd

    return pysbd.Segmenter(language=language, clean=False)


def _mask(text: str, language: str, *, known: bool) -> str:
    """`known`: the base splitter knows the language's abbreviations (pysbd), leave them."""
    pattern = None if known else _abbreviation_pattern(language)
    if pattern is not None:
        # Twice, so chained abbreviations ("z. B.", "d. h.") are both masked.
        for _ in range(2):
            text = pattern.sub(lambda m: m.group(1) + _MASK, text)
    text = _BEFORE_NUMBER.sub(lambda m: m.group(1) + _MASK, text)
    text = _DATELINE.sub(lambda m: m.group(1) + _MASK, text)
    if language in _ORDINAL_LANGUAGES:
        stop = stop_words(language)
        text = _ORDINAL.sub(lambda m: m.group(1) + _ordinal_end(m.group(2), stop), text)
    return _LOWER_NEXT.sub(_MASK, text)


def _ordinal_end(following: str, stop: frozenset[str]) -> str:
    """ "20. Jahrhunderts", "3. bis": an ordinal; "20. Das ist…": a number ending a sentence."""
    if following[:1].isupper() and following.casefold() in stop:
        return "." + _BREAK
    return _MASK


def _join_names(parts: list[str], language: str) -> list[str]:
    """Join what was cut inside a sentence: "…the try!" + "Swift app…", "Pitfall!" + ", …",
    "the news..." + "is Valve…" (no sentence starts with a comma or a lower-case word)."""
    stop = stop_words(language)
    out: list[str] = []
    for part in parts:
        before, after = (out[-1].rstrip(), part.lstrip()) if out else ("", "")
        if out and (_inside_name(before, after, stop) or _goes_on(before, after)):
            glue = "" if after[:1] in ",;:)-" else " "
            out[-1] = before + glue + after
        else:
            out.append(part)
    return out


def _goes_on(before: str, after: str) -> bool:
    if after[:1] in ",;:)-–":
        return True
    first = after.split(maxsplit=1)[0] if after.split() else ""
    return before.endswith(("!", "?", "…", "...")) and first.isalpha() and first.islower()


def _inside_name(before: str, after: str, stop: frozenset[str]) -> bool:
    match = _BANG_NAME.search(before)
    first = after.split(maxsplit=1)[0] if after.split() else ""
    if not match or not first[:1].isupper() or first.casefold().strip(".,:;") in stop:
        return False
    word = match.group(1)
    preceding = before[: match.start(1)].split()
    if not preceding:
        return True  # "Yahoo! Japan said…": a one-word sentence before a name
    return word[:1].islower() and preceding[-1].casefold() in stop  # "the try! Swift"


@lru_cache(maxsize=32)
def _abbreviation_pattern(language: str) -> re.Pattern[str] | None:
    names = _ABBREVIATIONS.get(language, "").split()
    if not names:
        return None
    alternatives = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
    return re.compile(rf"\b(?<!\.)({alternatives})\.(?=[\s\u00a0,])")


@lru_cache(maxsize=32)
def _warn_unknown(language: str) -> None:
    logger.warning("no sentence rules for language %r; using the generic splitter", language)
