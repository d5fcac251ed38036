"""One scoring rule for every source, using whatever signals the source has.

Each signal is scaled to 0‥1 within the thread, so threads of any size compare:

- votes: log(1 + score) / log(1 + the thread's best score); a negative score
  costs `NEGATIVE`. Only where the source has votes (Reddit, Discourse,
  Mastodon); absent signals weigh nothing.
- replies: log(1 + direct replies) / log(1 + the thread's most replied).
- top-level: 1 for a comment on the story, less the deeper the reply.
- early: 1 for the first comment, 0 for the last (earlier comments were read
  by more people; this is what "most replies" misses).
- substance: length in a sweet spot (25–150 words), not just links or emoji.
- relevance: share of the article's key terms the comment uses.
- source rank: Hacker News orders comments but shows no points; its order
  among siblings stands in for votes.

Then, best first, with diversity: one comment per author, at most two replies
to the same parent, no near-duplicates.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from digest.comments.filters import WORD
from digest.models import Comment

SWEET_SPOT = (25, 150)
NEGATIVE = 0.5
MAX_PER_PARENT = 2
NEAR_DUPLICATE = 0.7
"""Jaccard similarity of word sets at which two comments count as the same."""


@dataclass(frozen=True)
class Weights:
    """How much each signal counts (hand-set; `python -m bench.comments --tune` searches them)."""

    votes: float = 4.0
    replies: float = 1.0
    top_level: float = 0.5
    early: float = 1.0
    substance: float = 0.6
    relevance: float = 0.3
    source_rank: float = 1.0


WEIGHTS = Weights()

_STOP = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers him his how i if in into is it its
    just like me more most my no nor not now of off on once only or other our out over own
    same she should so some such than that the their them then there these they this those
    through to too under until up very was we were what when where which while who whom why
    will with would you your yours said says one new get got make made much many""".split()  # noqa: SIM905
)


def key_terms(article: str, limit: int = 25) -> frozenset[str]:
    """The article's most frequent content words."""
    counts = Counter(w for w in WORD.findall(article.casefold()) if w not in _STOP and len(w) > 2)
    return frozenset(w for w, _ in counts.most_common(limit))


def substance(comment: Comment) -> float:
    """0‥1: how much there is to read, best inside the sweet spot."""
    words = len(WORD.findall(comment.text))
    low, high = SWEET_SPOT
    if words < low:
        return words / low * 0.9
    if words <= high:
        return 0.9 + 0.1 * words / high  # a slight preference for the fuller one
    return max(0.2, 1.0 - (words - high) / 400)


def scores(
    comments: Sequence[Comment],
    terms: frozenset[str] = frozenset(),
    weights: Weights = WEIGHTS,
) -> list[float]:
    """The rule's score for each comment, in the given order."""
    if not comments:
        return []
    best_votes = max((c.score or 0.0 for c in comments), default=0.0)
    most_replies = max((c.replies or 0 for c in comments), default=0)
    order = _time_order(comments)
    last = max(len(comments) - 1, 1)
    out = []
    for position, c in enumerate(comments):
        value = 0.0
        if c.score is not None and best_votes > 0:
            value += weights.votes * math.log1p(max(c.score, 0.0)) / math.log1p(best_votes)
        if c.score is not None and c.score < 0:
            value -= NEGATIVE
        if most_replies:
            value += weights.replies * math.log1p(c.replies or 0) / math.log1p(most_replies)
        value += weights.top_level / (1 + c.depth)
        value += weights.early * (1 - order[position] / last)
        value += weights.substance * substance(c)
        if terms:
            used = len(terms & set(WORD.findall(c.text.casefold())))
            value += weights.relevance * min(1.0, used / 5)
        if c.rank is not None:
            value += weights.source_rank / (1 + c.rank)
        out.append(value)
    return out


def rank(
    comments: Sequence[Comment],
    terms: frozenset[str] = frozenset(),
    weights: Weights = WEIGHTS,
    *,
    accept: Callable[[Comment], bool] = lambda c: True,
    limit: int | None = None,
) -> list[int]:
    """Indices of the comments best first, after the diversity rules and `accept`.

    `accept` (the slow abuse check) runs only on comments about to be chosen,
    and the walk stops at `limit`: long threads are not checked word by word.
    """
    scored = sorted(enumerate(scores(comments, terms, weights)), key=lambda p: (-p[1], p[0]))
    chosen: list[int] = []
    authors: set[str] = set()
    per_parent: Counter[str] = Counter()
    word_sets: list[set[str]] = []
    for position, _ in scored:
        c = comments[position]
        author = c.author.casefold()
        words = set(WORD.findall(c.text.casefold()))
        if author in authors:
            continue
        if c.parent and per_parent[c.parent] >= MAX_PER_PARENT:
            continue
        if any(_jaccard(words, other) >= NEAR_DUPLICATE for other in word_sets):
            continue
        if not accept(c):
            continue
        chosen.append(position)
        authors.add(author)
        word_sets.append(words)
        if c.parent:
            per_parent[c.parent] += 1
        if limit is not None and len(chosen) >= limit:
            break
    return chosen


def _time_order(comments: Sequence[Comment]) -> list[int]:
    """Each comment's place in time (0 = first); given order where times are missing."""
    keyed = sorted(
        range(len(comments)),
        key=lambda i: (_stamp(comments[i]) is None, _stamp(comments[i]) or 0.0, i),
    )
    order = [0] * len(comments)
    for place, index in enumerate(keyed):
        order[index] = place
    return order


def _stamp(comment: Comment) -> float | None:
    return comment.published.timestamp() if comment.published else None


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
