"""The newsletter's own words and dates in `[newsletter] language` (en, fr, de, es).

Dates come from Babel (CLDR), so any language Babel knows gets its dates right;
the theme's fixed words are translated here for the four languages above and
fall back to English for the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_timedelta

# Plain "en" reads dates the British way ("Thursday, 26 November 2026"): day before month
# is understood everywhere, and "en-US" still gets "November 26".
_DEFAULT_REGION = {"en": "en_GB"}

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "issue": "Issue {number}",
        "read_more": "Read more →",
        "read_comment": "Read comment",
        "join": "Join the conversation",
        "by_author": "author",
        "comments_one": "1 comment",
        "comments_many": "{count} comments",
        "comments_some": "{shown} of {total} comments",
        "by": "by {author}",
        "more_stories_one": "and 1 more story",
        "more_stories_many": "and {count} more stories",
        "and_more": "and {count} more",
        "why": "You are receiving {title} because you subscribed.",
        "unsubscribe": "Unsubscribe",
        "view_in_browser": "View in browser",
        "archive": "Archive",
        "stories_one": "1 story",
        "stories_many": "{count} stories",
        "just_now": "just now",
        "no_issues": "No issues yet.",
        "email_width": "Email width",
        "desktop": "Desktop",
        "phone": "Phone",
        "text_part": "Text part",
        "links": "Links",
    },
    "fr": {
        "issue": "Numéro {number}",
        "read_more": "Lire la suite →",
        "read_comment": "Lire le commentaire",
        "join": "Rejoignez la discussion",
        "by_author": "auteur",
        "comments_one": "1 commentaire",
        "comments_many": "{count} commentaires",
        "comments_some": "{shown} commentaires sur {total}",
        "by": "par {author}",
        "more_stories_one": "et 1 autre article",
        "more_stories_many": "et {count} autres articles",
        "and_more": "et {count} autres",
        "why": "Vous recevez {title} parce que vous vous y êtes abonné.",
        "unsubscribe": "Se désabonner",
        "view_in_browser": "Voir dans le navigateur",
        "archive": "Archives",
        "stories_one": "1 article",
        "stories_many": "{count} articles",
        "just_now": "à l’instant",
        "no_issues": "Aucun numéro pour l’instant.",
        "links": "Liens",
    },
    "de": {
        "issue": "Ausgabe {number}",
        "read_more": "Weiterlesen →",
        "read_comment": "Kommentar lesen",
        "join": "Diskutieren Sie mit",
        "by_author": "Autor",
        "comments_one": "1 Kommentar",
        "comments_many": "{count} Kommentare",
        "comments_some": "{shown} von {total} Kommentaren",
        "by": "von {author}",
        "more_stories_one": "und 1 weiterer Artikel",
        "more_stories_many": "und {count} weitere Artikel",
        "and_more": "und {count} weitere",
        "why": "Sie erhalten {title}, weil Sie den Newsletter abonniert haben.",
        "unsubscribe": "Abbestellen",
        "view_in_browser": "Im Browser ansehen",
        "archive": "Archiv",
        "stories_one": "1 Artikel",
        "stories_many": "{count} Artikel",
        "just_now": "gerade eben",
        "no_issues": "Noch keine Ausgaben.",
        "links": "Links",
    },
    "es": {
        "issue": "Número {number}",
        "read_more": "Seguir leyendo →",
        "read_comment": "Leer comentario",
        "join": "Únete a la conversación",
        "by_author": "autor",
        "comments_one": "1 comentario",
        "comments_many": "{count} comentarios",
        "comments_some": "{shown} de {total} comentarios",
        "by": "por {author}",
        "more_stories_one": "y 1 artículo más",
        "more_stories_many": "y {count} artículos más",
        "and_more": "y {count} más",
        "why": "Recibes {title} porque te suscribiste.",
        "unsubscribe": "Darse de baja",
        "view_in_browser": "Ver en el navegador",
        "archive": "Archivo",
        "stories_one": "1 artículo",
        "stories_many": "{count} artículos",
        "just_now": "ahora mismo",
        "no_issues": "Todavía no hay números.",
        "links": "Enlaces",
    },
}


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
        self.table = STRINGS["en"] | STRINGS.get(self.locale.language, {})

    def __call__(self, key: str, **values: object) -> str:
        return self.table[key].format(**values)

    def plural(self, key: str, count: int) -> str:
        """Return `<key>_one` for 1, else `<key>_many` with the count filled in."""
        return self(f"{key}_one" if count == 1 else f"{key}_many", count=count)

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
