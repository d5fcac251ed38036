"""Select: which new entries make this issue, in what order, the way an editor would.

From every feed's entries, in order: drop what was already sent and what is
older than the look-back window; leave out sponsored, job and deal posts
(unless the feed opts in) and what a feed's include/exclude filters refuse;
fold duplicates (the same article through two feeds or two redirectors, or
the same headline) into one story; keep any one source to at most 40 % of the
issue when three or more sources have news; order newest first, by section
when feeds have sections. What is held back is not marked as sent: it waits
for the next issue.

Pure: takes the feeds, the keys already sent and the settings; imports no
store, fetcher or renderer.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from digest.config import Config, FeedSettings
from digest.models import Entry, Feed
from digest.select.dupes import fold_duplicates, fold_stories
from digest.select.rules import Filter, commercial

__all__ = ["Selection", "balance", "by_section", "choose", "fold_stories"]

logger = logging.getLogger(__name__)

BALANCE_FROM = 3
"""No source fills more than `[newsletter] max_source_share` of an issue when at least
this many sources have new stories."""


@dataclass(frozen=True)
class Selection:
    """The entries of the issue, and what was left out and why (for the report)."""

    entries: tuple[Entry, ...]
    twins: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Key of a chosen entry → keys of its duplicates, remembered as sent with it."""
    left_out: Mapping[str, str] = field(default_factory=dict)
    """Title → reason, for entries that no issue will carry (filters, sponsored)."""
    held_back: int = 0
    """New entries that wait for a later issue (the cap or the source balance)."""


def choose(
    feeds: Sequence[Feed],
    sent: Collection[str],
    config: Config,
    now: datetime,
) -> Selection:
    """The issue's entries from `feeds`, given the keys of entries `sent` before."""
    settings = {f.url: f for f in config.feeds}
    left_out: dict[str, str] = {}
    candidates: list[Entry] = []
    for feed in feeds:
        feed_settings = settings.get(feed.url, FeedSettings(url=feed.url))
        rules = Filter.of(feed_settings.include, feed_settings.exclude)
        for entry in feed.entries:
            reason = None if feed_settings.sponsored else commercial(entry)
            reason = reason or rules.refuses(entry)
            if reason:
                left_out[entry.title] = reason
                continue
            if feed_settings.section and not entry.section:
                entry = replace(entry, section=feed_settings.section)
            candidates.append(entry)
    stories, twins = fold_duplicates(candidates)
    sent = set(sent)
    fresh = [
        e
        for e in stories
        if not ({e.key, *twins.get(e.key, ())} & sent) and is_recent(e, config, now)
    ]
    fresh.sort(key=lambda e: newest_first(e, now))
    newsletter = config.newsletter
    chosen = balance(fresh, newsletter.max_stories, newsletter.max_source_share)
    for title, reason in left_out.items():
        logger.info("left out %r: %s", title, reason)
    ordered = by_section(chosen, [f.section for f in config.feeds])
    return Selection(
        entries=tuple(ordered),
        twins={e.key: twins[e.key] for e in ordered if e.key in twins},
        left_out=left_out,
        held_back=len(fresh) - len(ordered),
    )


def is_recent(entry: Entry, config: Config, now: datetime) -> bool:
    """Published within the look-back window (or undated)."""
    days = config.newsletter.lookback_days
    if not days or entry.published is None:
        return True
    try:
        return entry.published >= now - timedelta(days=days)
    except OverflowError:  # a window reaching past year 1 holds everything
        return True


def newest_first(entry: Entry, now: datetime) -> tuple[bool, float]:
    """Sort key: newest first."""
    # Undated entries go last: a feed that never dates its items should not
    # crowd out the ones that do.
    return (entry.published is None, -(entry.published or now).timestamp())


def balance(entries: Sequence[Entry], limit: int, share: float = 0.4) -> list[Entry]:
    """At most `limit` entries in their order, no source over `share` of them when
    BALANCE_FROM or more sources have entries: the issue shrinks rather than tilts."""
    sources = Counter(e.source for e in entries)
    size = min(limit, len(entries))
    if len(sources) < BALANCE_FROM or share >= 1:
        return list(entries[:size])
    while size > 0:
        cap = max(1, int(share * size + 1e-9))
        fair = cap / size <= share or cap == 1  # under 3 stories, one per source is fairest
        if fair and sum(min(cap, n) for n in sources.values()) >= size:
            break
        size -= 1
    taken: Counter[str] = Counter()
    chosen: list[Entry] = []
    cap = max(1, int(share * size + 1e-9))
    for entry in entries:
        if len(chosen) == size:
            break
        if taken[entry.source] < cap:
            taken[entry.source] += 1
            chosen.append(entry)
    return chosen


def by_section(entries: Sequence[Entry], sections: Sequence[str]) -> list[Entry]:
    """Entries grouped under their sections in the order feeds name them; the unsectioned first."""
    order = {name: i for i, name in enumerate(dict.fromkeys(["", *sections]))}
    return sorted(entries, key=lambda e: order.get(e.section, len(order)))
