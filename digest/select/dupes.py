"""One story, however many feeds carry it.

The same article arrives through two feeds (a site's main feed and a
category feed, an RSS and a JSON Feed), through two redirectors, or rewritten
with a different link under the same headline. Entries with the same address
(scheme, "www." and trailing slash aside) or near-identical titles are one
story: the fullest entry is kept, and the others' keys go with it, so they
are remembered as sent together.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from urllib.parse import urlsplit

from digest.models import Entry, Story

SIMILAR_TITLES = 0.8
"""Titles sharing this share of their words (Jaccard) are the same story."""
_MIN_WORDS = 3  # shorter titles ("Photo", "Update", "Links") say nothing about the story


def address(url: str) -> str:
    """The URL as readers would say it: no scheme, no "www.", no trailing slash or fragment."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    path = parts.path.rstrip("/") or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{host}{path}{query}"


def title_words(title: str) -> tuple[str, ...]:
    """Casefolded words of a title, punctuation and accents aside."""
    text = unicodedata.normalize("NFKD", title.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return tuple(re.findall(r"\w+", text))


def _richness(entry: Entry) -> tuple[bool, bool, int]:
    return (not entry.is_excerpt, entry.image is not None, len(entry.content_html))


def fold_duplicates(entries: Sequence[Entry]) -> tuple[list[Entry], dict[str, tuple[str, ...]]]:
    """Entries with duplicates folded into one, in first-seen order; and kept key → twins' keys."""
    parent = list(range(len(entries)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    first: dict[str, int] = {}
    for i, entry in enumerate(entries):
        for mark in {entry.key, address(entry.url) if entry.url else entry.key}:
            if mark in first:
                join(first[mark], i)
            else:
                first[mark] = i
    for i, j in _similar_pairs([title_words(e.title) for e in entries]):
        join(i, j)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(entries)):
        groups[root(i)].append(i)
    kept: list[Entry] = []
    twins: dict[str, tuple[str, ...]] = {}
    for members in sorted(groups.values()):
        best = max(members, key=lambda i: (_richness(entries[i]), -i))
        others = tuple(dict.fromkeys(entries[i].key for i in members if i != best))
        others = tuple(k for k in others if k != entries[best].key)
        kept.append(entries[best])
        if others:
            twins[entries[best].key] = others
    order = {id(e): min(groups[root(i)]) for i, e in enumerate(entries)}
    kept.sort(key=lambda e: order[id(e)])
    return kept, twins


def _numbers(words: set[str]) -> set[str]:
    return {w for w in words if any(c.isdigit() for c in w)}


def _similar_pairs(titles: Sequence[tuple[str, ...]]) -> list[tuple[int, int]]:
    """Index pairs of near-identical titles, by a prefix-filtered similarity join.

    Two word sets with Jaccard ≥ t share a word among the rarest
    |A| - ceil(t·|A|) + 1 words of each, so only those are indexed.
    """
    sets = [set(t) for t in titles]
    numbers = [_numbers(s) for s in sets]
    frequency = Counter(w for s in sets for w in s)
    index: dict[str, list[int]] = defaultdict(list)
    pairs: list[tuple[int, int]] = []
    for i, words in enumerate(sets):
        if not words:
            continue
        if len(words) < _MIN_WORDS:
            continue
        ranked = sorted(words, key=lambda w: (frequency[w], w))
        prefix = ranked[: len(words) - math.ceil(SIMILAR_TITLES * len(words)) + 1]
        seen: set[int] = set()
        for word in prefix:
            for j in index[word]:
                if j in seen:
                    continue
                seen.add(j)
                if numbers[i] != numbers[j]:
                    continue  # "Tails 3.3 is out" and "Tails 3.4 is out" are two stories
                other = sets[j]
                if len(words & other) / len(words | other) >= SIMILAR_TITLES:
                    pairs.append((j, i))
            index[word].append(i)
    return pairs


def fold_stories(stories: Sequence[Story]) -> tuple[list[Story], dict[str, tuple[str, ...]]]:
    """Stories whose pages turned out to be one (two redirector links to one article) kept
    once, in order; and kept key → the keys of the ones folded into it."""
    kept: dict[str, Story] = {}
    twins: dict[str, list[str]] = defaultdict(list)
    for story in stories:
        mark = address(story.url) if story.url else story.key
        if mark in kept:
            twins[kept[mark].key].append(story.key)
        else:
            kept[mark] = story
    return list(kept.values()), {k: tuple(v) for k, v in twins.items()}
