"""Which language an article is in, and the stemmer and stop words for it.

A feed's declared language wins; without one, a small offline identifier
(py3langid, a model shipped inside the package) guesses from the text. Any
language sumy has no resources for still summarises: with no stemming and no
stop words, after a warning, never a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from sumy.nlp.stemmers import Stemmer
from sumy.utils import get_stop_words

logger = logging.getLogger(__name__)

NAMES = {
    "en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian",
    "pt": "portuguese", "nl": "dutch", "sv": "swedish", "da": "danish", "no": "norwegian",
    "nb": "norwegian", "fi": "finnish", "ru": "russian", "cs": "czech", "sk": "slovak",
    "el": "greek", "uk": "ukrainian", "pl": "polish", "hu": "hungarian", "ro": "romanian",
}  # fmt: skip
"""Primary language subtag → the name sumy and NLTK's Snowball stemmers use."""

# sumy ships no Dutch stop words; these are the common function words.
_DUTCH = """aan al alles als altijd andere ben bij daar dan dat de der deze die dit doch doen door
    dus een eens en er ge geen geweest haar had heb hebben heeft hem het hier hij hoe hun iemand
    iets ik in is ja je kan kon kunnen maar me meer men met mij mijn moet na naar niet niets nog
    nu of om omdat onder ons ook op over reeds te tegen toch toen tot u uit uw van veel voor want
    waren was wat werd wezen wie wil worden wordt zal ze zelf zich zij zijn zo zonder zou"""
_DUTCH_STOP_WORDS = frozenset(_DUTCH.split())
UNINFLECTED = frozenset({"zh", "ja", "ko", "th", "vi"})
"""Languages summarised without a stemmer by design."""
MIN_DETECT_CONFIDENCE = 0.6
"""Below this probability the detector abstains and the newsletter's language is used."""


def primary(tag: str | None) -> str:
    """The primary subtag of a language tag, lower-cased: "pt-BR" → "pt"."""
    return (tag or "").strip().replace("_", "-").split("-")[0].lower()


def choose(declared: str | None, text: str, default: str = "en") -> str:
    """The feed's language when it declares one; else a confident guess; else `default`."""
    if primary(declared):
        return primary(declared)
    return detect(text) or primary(default) or "en"


def detect(text: str) -> str | None:
    """A supported language code for `text`, or None when the identifier is unsure."""
    sample = text[:3000]
    if len(sample.split()) < 5:
        return None
    language, probability = _identifier().classify(sample)
    return str(language) if probability >= MIN_DETECT_CONFIDENCE else None


@lru_cache(maxsize=1)
def _identifier() -> Any:
    # Loaded on first use (about a second): builds whose feeds declare a language never pay.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(sorted(set(NAMES) & set(identifier.nb_classes)))
    return identifier


@lru_cache(maxsize=64)
def stemmer(language: str) -> Callable[[str], str]:
    """sumy's stemmer for `language`, or lower-casing when there is none."""
    if primary(language) in UNINFLECTED:
        return str.lower  # words are segmented, not stemmed: nothing to warn about
    name = NAMES.get(primary(language))
    if name is None:
        logger.warning("no stemmer or stop words for language %r: summarising without", language)
        return str.lower
    try:
        stem: Callable[[str], str] = Stemmer(name)
    except LookupError:
        return str.lower
    return stem


@lru_cache(maxsize=64)
def stop_words(language: str) -> frozenset[str]:
    """sumy's stop words for `language` (empty when it has none)."""
    code = primary(language)
    if code == "nl":
        return _DUTCH_STOP_WORDS
    name = NAMES.get(code)
    if name is None:
        return frozenset()
    try:
        return frozenset(get_stop_words(name))
    except LookupError:
        return frozenset()
