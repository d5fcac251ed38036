"""Feed dates feedparser cannot read: month and day names in the feed's language.

feedparser reads RFC 822 and ISO 8601 dates with English names. Feeds in other
languages often write their own ("Seg, 24 Set 2018 19:22:00 -0300",
"Di, 3 Mär 2020 10:00:00 +0100"). Such a date is translated token by token
with the month and day names CLDR gives Babel for the feed's language (or,
when the feed declares none, for each language digest summarises, in turn),
then read as RFC 822 or ISO 8601. One table per language is built once, so a
date costs a dictionary look-up per word: no guessing over every locale.
"""

from __future__ import annotations

import email.utils
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache

from babel import Locale, UnknownLocaleError

KNOWN = (
    "en", "fr", "de", "es", "pt", "it", "nl", "sv", "da", "nb", "fi", "ru", "cs", "sk",
    "el", "uk", "pl", "hu", "ro", "tr", "ca", "id",
)  # fmt: skip
"""Languages tried, in this order, for a feed that declares none."""

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WORD = re.compile(r"[^\W\d_]+\.?", re.UNICODE)
_CJK = re.compile(
    r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*(?:(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)
_DROP = "__drop__"


def parse_date(value: str, languages: Iterable[str | None] = ()) -> datetime | None:
    """The timezone-aware time a localised feed date stands for, or None."""
    text = " ".join(value.split())
    if not text or len(text) > 80:
        return None
    cjk = _CJK.search(text)
    if cjk:
        year, month, day, hour, minute, second = (int(g) if g else 0 for g in cjk.groups())
        return _make(year, month, day, hour, minute, second)
    tried: list[str] = []
    for language in [*languages, *KNOWN]:
        code = (language or "").replace("_", "-").split("-")[0].lower()
        if not code or code in tried:
            continue
        tried.append(code)
        translated = _translate(text, _names(code))
        if translated is not None:
            when = _read(translated)
            if when is not None:
                return when
    return None


def is_cjk_date(value: str) -> bool:
    """True for a "2026年11月25日"-style date (Chinese, Japanese)."""
    return _CJK.search(value) is not None


def _translate(text: str, names: dict[str, str]) -> str | None:
    """The date with its month in English and its weekday dropped; None when a word is unknown."""
    if not names:
        return None
    unknown = False
    month = False

    def swap(match: re.Match[str]) -> str:
        nonlocal unknown, month
        word = match.group(0)
        key = _fold(word)
        if key in names:
            english = names[key]
            month = month or english != _DROP
            return "" if english == _DROP else english
        if word.upper() in _ZONES or word.upper() == "T" or word.upper() == "Z":
            return word
        unknown = True
        return word

    translated = _WORD.sub(swap, text)
    if unknown or not month:
        return None
    return " ".join(translated.replace(" ,", ",").split()).lstrip(", ")


_ZONES = {"UT", "UTC", "GMT", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT"}


def _read(text: str) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _make(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime | None:
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


@lru_cache(maxsize=64)
def _names(code: str) -> dict[str, str]:
    """Folded month and weekday names of a language → English month abbreviation or _DROP."""
    try:
        locale = Locale.parse(code)
    except (ValueError, UnknownLocaleError):
        return {}
    names: dict[str, str] = {}
    for context in ("format", "stand-alone"):
        for width in ("wide", "abbreviated"):
            for number, name in locale.months[context][width].items():
                _add(names, name, _MONTHS[number - 1])
            for name in locale.days[context][width].values():
                _add(names, name, _DROP)
    # Many feeds cut the wide names to three letters ("Set", "Seg", "Mär"), which CLDR may not list.
    for number, name in locale.months["format"]["wide"].items():
        _add(names, _fold(name)[:3], _MONTHS[number - 1], weak=True)
    for name in locale.days["format"]["wide"].values():
        _add(names, _fold(name)[:3], _DROP, weak=True)
    return names


def _add(names: dict[str, str], name: str, meaning: str, *, weak: bool = False) -> None:
    key = _fold(name)
    if not key:
        return
    if key in names and names[key] != meaning:
        if weak:
            return
        names[key] = meaning if meaning != _DROP else names[key]  # a month wins a clash
        return
    names[key] = meaning


def _fold(word: str) -> str:
    """Lower case, no accents, no trailing dot: "Mär." → "mar", "Sáb" → "sab"."""
    stripped = unicodedata.normalize("NFKD", word.strip().rstrip(".").casefold())
    return "".join(c for c in stripped if not unicodedata.combining(c))
