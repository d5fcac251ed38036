"""Which language an article is in, and the stemmer and stop words for it.

A feed's declared language wins; without one, a small offline identifier
(py3langid, a model shipped inside the package) guesses from the text. Any
language sumy has no resources for still summarises: with no stemming and no
stop words, after a warning, never a crash.
"""

from __future__ import annotations

import logging
import pkgutil
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from digest import cache

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
    # Loaded on first use: builds whose feeds declare a language never pay. The shipped
    # model is xz-compressed (over a second to unpack); the unpacked arrays, cut down to
    # the languages summarised, are kept in the user's cache for the next builds.
    from importlib import metadata

    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    name = f"langid-{metadata.version('py3langid')}-{len(NAMES)}.npz"
    arrays = cache.load_arrays(name)
    if arrays is not None:
        try:
            return _from_arrays(LanguageIdentifier, arrays)
        except (KeyError, TypeError, ValueError):
            logger.debug("unusable cached language model, loading the packaged one")
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(sorted(set(NAMES) & set(identifier.nb_classes)))
    cache.save_arrays(
        name,
        {
            "ptc": identifier.nb_ptc,
            "pc": identifier.nb_pc,
            "classes": np.array(identifier.nb_classes),
            "nextmove": np.frombuffer(
                identifier.tk_nextmove, dtype=_unsigned(identifier.tk_nextmove)
            ),
            "row": np.frombuffer(identifier.tk_row, dtype=_unsigned(identifier.tk_row)),
            "output": np.array(identifier.tk_output, dtype=np.int32),
        },
    )
    return identifier


def _unsigned(values: Any) -> Any:
    return np.dtype(f"u{values.itemsize}")


def _from_arrays(identifier_class: Any, arrays: dict[str, Any]) -> Any:
    """The identifier from cached arrays (the layout py3langid's own loader builds)."""
    from array import array

    def stdlib(values: Any) -> array[int]:
        out = array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize])
        out.frombytes(np.ascontiguousarray(values).tobytes())
        return out

    return identifier_class(
        np.asarray(arrays["ptc"]),
        np.asarray(arrays["pc"]),
        arrays["classes"].tolist(),
        stdlib(arrays["nextmove"]),
        arrays["output"].tolist(),
        norm_probs=True,
        tk_row=stdlib(arrays["row"]),
    )


# Snowball has no Slovak; Czech is its closest relative.
_SNOWBALL = {"slovak": "czech"}


@lru_cache(maxsize=64)
def stemmer(language: str) -> Callable[[str], str]:
    """A Snowball stemmer for `language` (PyStemmer's C code when installed), or
    lower-casing when there is none.

    sumy's own `Stemmer` would import all of NLTK (and SciPy with it), about 1.5 s
    of start-up, for the same Snowball algorithms.
    """
    if primary(language) in UNINFLECTED:
        return str.lower  # words are segmented, not stemmed: nothing to warn about
    name = NAMES.get(primary(language))
    if name is None:
        logger.warning("no stemmer or stop words for language %r: summarising without", language)
        return str.lower
    import snowballstemmer

    algorithm = _SNOWBALL.get(name, name)
    if algorithm in snowballstemmer.algorithms():
        stem_word = snowballstemmer.stemmer(algorithm).stemWord

        @lru_cache(maxsize=65536)
        def stem(word: str) -> str:
            return str(stem_word(word.lower()))

        return stem
    # Only sumy has this one (Ukrainian): NLTK is imported for it alone.
    from sumy.nlp.stemmers import Stemmer

    try:
        sumy_stem: Callable[[str], str] = Stemmer(name)
        sumy_stem("word")  # sumy's Greek stemmer fails only when used (it needs another package)
    except (LookupError, ValueError):
        logger.warning("no stemmer for language %r: summarising without", language)
        return str.lower
    return sumy_stem


@lru_cache(maxsize=64)
def stop_words(language: str) -> frozenset[str]:
    """sumy's stop words for `language` (empty when it has none)."""
    code = primary(language)
    if code == "nl":
        return _DUTCH_STOP_WORDS
    name = NAMES.get(code)
    if name is None:
        return frozenset()
    try:  # read directly: sumy.utils imports requests and pycountry for nothing here
        data = pkgutil.get_data("sumy", f"data/stopwords/{name}.txt")
    except OSError:
        return frozenset()
    if data is None:
        return frozenset()
    return frozenset(w.rstrip() for w in data.decode("utf-8").splitlines() if w)
