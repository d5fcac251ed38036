"""The newsletter's own words and dates in `[newsletter] language`.

Dates come from Babel (CLDR), so any language Babel knows gets its dates right.
The theme's fixed words come from gettext catalogs in `locale/<lang>/LC_MESSAGES/
digest.po` (one per language the summariser supports; `locale/digest.pot` is
the template to start a new one). A catalog is compiled with Babel's
`babel.messages` the first time it is used, in memory (no build step, nothing
written into the installed package), and its plural rules follow the
catalog's Plural-Forms header ("1 комментарий", "3 комментария", "5 комментариев").
Themes use `t("read_more")` or Jinja's i18n extension (`{{ _("Read more →") }}`).
A language without a catalog falls back to English.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

logger = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "digest"

# Plain "en" reads dates the British way ("Thursday, 26 November 2026"): day before month
# is understood everywhere, and "en-US" still gets "November 26".
_DEFAULT_REGION = {"en": "en_GB"}
# Tags whose catalog goes by another name.
_ALIASES = {"no": "nb", "nn": "nb"}

MESSAGES: dict[str, str] = {
    "issue": "Issue {number}",
    "read_more": "Read more →",
    "read_comment": "Read comment",
    "join": "Join the conversation",
    "by_author": "author",
    "by": "by {author}",
    "why": "You are receiving {title} because you subscribed.",
    "unsubscribe": "Unsubscribe",
    "view_in_browser": "View in browser",
    "archive": "Archive",
    "just_now": "just now",
    "no_issues": "No issues yet.",
    "email_width": "Email width",
    "desktop": "Desktop",
    "phone": "Phone",
    "text_part": "Text part",
    "links": "Links",
    "replying_to": "replying to {author}",
    "wrote": "{author} wrote:",
    "quoted": "Quoted:",
    "sent_by": "Sent by {name}",
    "atom_feed": "Atom feed",
}
"""Each key the templates pass to `t()` and its English text, the catalogs' msgid."""

PLURALS: dict[str, tuple[str, str]] = {
    "comments": ("{count} comment", "{count} comments"),
    "comments_some": ("{shown} of {total} comments", "{shown} of {total} comments"),
    "more_stories": ("and {count} more story", "and {count} more stories"),
    "and_more": ("and {count} more", "and {count} more"),
    "stories": ("{count} story", "{count} stories"),
}
"""Keys whose words depend on a number: (singular msgid, plural msgid)."""

# The number that chooses the plural form of each plural key.
_COUNTED_BY = {"comments_some": "shown"}


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog for `language` ("pt-BR" → pt), English when there is none."""
    for tag in _candidates(language):
        po = LOCALE_DIR / tag / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po.is_file():
            return _compile(po, tag)
    return NullTranslations()


def _candidates(language: str) -> list[str]:
    tag = (language or "en").replace("-", "_")
    primary = tag.split("_")[0].lower()
    return [tag, _ALIASES.get(primary, primary)]


def _compile(po: Path, tag: str) -> NullTranslations:
    """The .po compiled to .mo in memory (a shipped .mo beside it is used when newer)."""
    mo = po.with_suffix(".mo")
    if mo.is_file() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as f:
            return Translations(f, domain=DOMAIN)
    with po.open("rb") as f:
        catalog = read_po(f, locale=tag, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@cache
def locale_for(language: str) -> Locale:
    """Return the Babel locale for "en", "fr", "de-AT", "pt_BR"…; English when unknown."""
    tag = (language or "en").replace("-", "_")
    try:
        return Locale.parse(_DEFAULT_REGION.get(tag, tag))
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en_GB")


class Words:
    """The fixed words of one language: `words("read_more")`, `words.plural("comments", 3)`."""

    def __init__(self, language: str) -> None:
        self.language = language or "en"
        self.locale = locale_for(self.language)
        self.translations = translations(self.language)

    def __call__(self, key: str, **values: object) -> str:
        """The words for `key` with `values` filled in; plural keys take their number too."""
        if key in PLURALS:
            number = values.get(_COUNTED_BY.get(key, "count"), 0)
            return self._plural(key, number if isinstance(number, int) else 0, values)
        base, _, form = key.rpartition("_")
        if base in PLURALS and form in ("one", "many"):  # the keys of earlier themes
            count = values.get("count", 1 if form == "one" else 2)
            number = count if isinstance(count, int) else 2
            return self._plural(base, number, {"count": number, **values})
        return self.translations.gettext(MESSAGES[key]).format(**values)

    def plural(self, key: str, count: int) -> str:
        """The words for `count` things of `key`, in the language's plural form."""
        return self._plural(key, count, {"count": count})

    def gettext(self, message: str) -> str:
        """The translation of an English msgid (for Jinja's i18n extension)."""
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return self.translations.ngettext(singular, plural, count)

    def _plural(self, key: str, count: int, values: dict[str, object]) -> str:
        singular, plural = PLURALS[key]
        return self.translations.ngettext(singular, plural, count).format(**values)

    def longdate(self, value: datetime) -> str:
        """Return "Thursday, 26 November 2026", "jeudi 26 novembre 2026"…"""
        return str(format_date(value, "full", locale=self.locale))

    def shortdate(self, value: datetime | None) -> str:
        """Return "26 Nov 2026", "26 nov. 2026"…, or "" for no date."""
        return str(format_skeleton("yMMMd", value, locale=self.locale)) if value else ""

    def reldate(self, value: datetime | None, now: datetime) -> str:
        """Return "just now", "12 minutes ago", "il y a 2 heures"…, or a date after a month."""
        if value is None:
            return ""
        delta = aware(now) - aware(value)
        if delta.total_seconds() < 60:
            return self("just_now")
        if delta.days >= 31:
            return self.shortdate(value)
        return str(format_timedelta(-delta, add_direction=True, threshold=1.0, locale=self.locale))


def aware(value: datetime) -> datetime:
    """Return `value`, naive read as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
