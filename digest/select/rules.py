"""What an editor leaves out: paid posts, job ads, affiliate deals, and what the feed's filters say.

Publishers mark paid and commercial posts in their titles and categories
("[Sponsor]", "Sponsored:", "Featured Advertiser", "X is hiring", "Deal
Alert", "Huge Fall Sale: 20 % off …"); those are kept only for feeds that opt
in with `sponsored = true`. A story about a company's sale or a merger deal
is news: a deal word alone is not enough, it takes a price cut or a shopping
event beside it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from digest.models import Entry
from digest.text.sanitise import html_to_paragraphs

# Words that mark a post as paid for or as an advertisement, whatever else it says.
_PAID = re.compile(
    r"^\s*[\[(]\s*(sponsor(ed)?|ad|advert(isement)?|anzeige|promoted|partner|paid|werbung|"
    r"publicidade|publicité|patrocinado)\s*[\])]|"
    r"^\s*(sponsored|sponsor|advertisement|advertorial|promoted|paid post|partner content|"
    r"anzeige|werbung)\s*[:|–—-]|"
    r"\b(sponsored (post|content|by)|featured advertiser|advertorial|paid (post|content)|"
    r"brought to you by|presented by our sponsor|in partnership with)\b",
    re.I,
)
_HIRING = re.compile(
    r"\b(is|are|we'?re|now|currently) hiring\b|\bjob (opening|posting|offer)s?\b|"
    r"^\s*(hiring|job|jobs|careers?)\s*:|\bjoin our team\b",
    re.I,
)
# A commercial offer: a price cut, or a shopping event named together with deal words.
_PRICE_CUT = re.compile(
    r"\b\d{1,3}\s?%\s?(off|de desconto|rabatt|de réduction)\b|[$€£]\s?\d[\d,.]*\s?off\b|"
    r"\bsave (over |up to )?([$€£]\s?\d|\d{1,3}\s?%)|\b(up to|over) \d{1,3}\s?% (off|discount)|"
    r"\b(coupon|promo) codes?\b|\bdeal alert\b",
    re.I,
)
_DEAL_WORDS = re.compile(r"\b(deals?|sales?|discounts?|bargains?|offers?|savings?)\b", re.I)
_SHOPPING_EVENT = re.compile(
    r"\b(black friday|cyber monday|prime day|boxing day|singles'? day|amazon sale|"
    r"(huge|big|flash|annual|fall|autumn|summer|spring|winter|holiday|clearance) sale)\b",
    re.I,
)
# Only categories that say "paid" or "job ad": "Deals", "Partners" or "Jobs" also file
# news about mergers, partnerships and careers.
_COMMERCIAL_CATEGORY = re.compile(
    r"^(sponsor(ed|s)?|sponsored (post|content|links?)|advertis(ing|ement|er)s?|advertorial|"
    r"partner content|paid (post|content)|promoted( content)?|affiliate( links?)?|"
    r"job (ads?|listings?|postings?|offers?)|stellenangebote?|anzeigen?|werbung)$",
    re.I,
)


def commercial(entry: Entry) -> str | None:
    """Why the entry is a paid, job or affiliate-deal post; None for editorial content."""
    title = entry.title
    if _PAID.search(title):
        return "sponsored"
    if _HIRING.search(title):
        return "job post"
    for category in entry.categories:
        if _COMMERCIAL_CATEGORY.match(category.strip()):
            return f"category {category!r}"
    if _PRICE_CUT.search(title) and (_DEAL_WORDS.search(title) or _SHOPPING_EVENT.search(title)):
        return "affiliate deal"
    if _SHOPPING_EVENT.search(title) and _DEAL_WORDS.search(title):
        return "affiliate deal"
    return None


@dataclass(frozen=True)
class Filter:
    """`include` / `exclude` of one feed, compiled: words match whole words, /x/ is a regex."""

    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def of(cls, include: Sequence[str], exclude: Sequence[str]) -> Filter:
        return cls(tuple(map(compile_pattern, include)), tuple(map(compile_pattern, exclude)))

    def refuses(self, entry: Entry) -> str | None:
        """Why the feed's filters leave `entry` out, or None when they let it in."""
        if not self.include and not self.exclude:
            return None
        text = searchable(entry)
        for pattern in self.exclude:
            if pattern.search(text):
                return f"exclude {pattern.pattern!r}"
        if self.include and not any(p.search(text) for p in self.include):
            return "matches no include"
        return None


def compile_pattern(value: str) -> re.Pattern[str]:
    """A /regular expression/ as written, or a word or phrase matched as whole words."""
    if len(value) > 2 and value.startswith("/") and value.endswith("/"):
        return re.compile(value[1:-1], re.I)
    words = r"\s+".join(re.escape(w) for w in value.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.I)


def searchable(entry: Entry) -> str:
    """What filters look at: the title, the categories and the item's text."""
    return "\n".join(
        (entry.title, " | ".join(entry.categories), *html_to_paragraphs(entry.content_html))
    )
