"""One scoring rule for every source, using whatever signals the source has.

Each signal is scaled to 0‥1 within the thread, so threads of any size compare,
and a signal the source lacks weighs nothing:

- votes (Reddit, Discourse, Mastodon): log(1 + score) / log(1 + the thread's
  best). A comment younger than a day has its score scaled up by
  sqrt(24 h / its age): a two-hour-old comment has not had the readers a
  two-day-old one had, and after a day the count has mostly settled. A
  negative score costs `NEGATIVE`.
- people: how many other people the comment drew into the conversation
  (distinct authors in the replies under it), log-scaled.
- replies: direct replies received, log-scaled.
- top-level: 1 for a comment on the story, 1 / (1 + depth) for a reply (a
  reply deep in a sub-thread is read by few).
- author: 1 for a reply from the story's author or the discussion's
  submitter (an AMA's answers, the writer joining in).
- early: 1 - log(1 + place in time) / log(1 + thread size). The first
  comments were read by most readers; the log keeps the first few apart and
  the long tail together.
- substance: length in a sweet spot (25–150 words), not just links or emoji.
- stands alone: content words enough to be read without the comment it
  answers (twelve or more), halved for an opening that only acknowledges
  ("Ahh. Ok.", "Thanks!", "Exactly"): such replies lose to substantive posts.
- reads like a reply (a flat thread only, where nothing says who answers
  whom): opening by addressing someone ("You…", "That…", "Yes", "@name")
  costs `flat_reply`. Replies are read by fewer people than comments on the
  story, and here the opening is the only sign of one.
- relevance: share of the article's key terms the comment uses.
- source rank: the source's own order among siblings (Reddit's "best";
  Hacker News shows no points, so there its order stands in for votes).

The weights were chosen on the tuning threads of `python -m bench.comments
--tune`. Then, best first, with diversity: one comment per author, at most two
replies to the same parent, no near-duplicates.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.comments.filters import TOKEN
from digest.models import Comment

SWEET_SPOT = (25, 150)
NEGATIVE = 0.5
MAX_PER_PARENT = 2
NEAR_DUPLICATE = 0.7
"""Jaccard similarity of word sets at which two comments count as the same."""
SETTLED_HOURS = 24.0
"""Exposure after which a comment's vote count is taken as it stands."""
MAX_DEPTH = 64
"""Reply chains are followed this far up (guards against cycles in bad data)."""


@dataclass(frozen=True)
class CommentWeights:
    """How much each signal counts (`python -m bench.comments --tune` searches them)."""

    votes: float = 8.0
    people: float = 2.0
    replies: float = 0.5
    top_level: float = 0.0  # tried: on the tuning threads, depth adds nothing to the others
    author: float = 0.5
    early: float = 2.0
    substance: float = 1.5
    standalone: float = 1.0
    flat_reply: float = 0.5  # chosen on the tuning threads' flat case (0.3‥1 tried)
    relevance: float = 0.3
    source_rank: float = 1.0


WEIGHTS = CommentWeights()

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
    counts = Counter(w for w in TOKEN.findall(article.casefold()) if w not in _STOP and len(w) > 2)
    return frozenset(w for w, _ in counts.most_common(limit))


def substance(comment: Comment) -> float:
    """0‥1: how much there is to read, best inside the sweet spot."""
    words = len(TOKEN.findall(comment.text))
    low, high = SWEET_SPOT
    if words < low:
        return words / low * 0.9
    if words <= high:
        return 0.9 + 0.1 * words / high  # a slight preference for the fuller one
    return max(0.2, 1.0 - (words - high) / 400)


_ACKNOWLEDGE = re.compile(
    r"^\W*(?:a+h+|o+h+|ok(?:ay)?|k|thanks?|thank you|thx|ty|yes|yeah|yep|yup|no|nope|nah|this"
    r"|exactly|agreed|same|lol|lmao|ha(?:ha)+|true|right|indeed|wow|sure|fair(?: enough)?"
    r"|good point|great point|well said|me too|\+1|i see|got it|hmm+|ikr|wtf|omg|damn|nice"
    r"|merci|danke|gracias|obrigad[oa]|grazie|bedankt|спасибо)\b",
    re.I,
)
_ADDRESSING = re.compile(
    r"^\W*(?:you|your|you're|youre|that|this|it|yes|yeah|yep|no|nope|i agree|agreed|exactly"
    r"|lol|haha|well|but|so|and|same|what|why|how|ok|okay|thanks|thank you|true|nah|wow|right"
    r"|he|she|they|@\w+)\b",
    re.I,
)
STANDALONE_WORDS = 12
"""Content words (not stop words) a comment needs to be read on its own."""


def stands_alone(comment: Comment) -> float:
    """0‥1: how well the comment reads without the one it answers."""
    if not _ACKNOWLEDGE.match(comment.text):
        return 1.0
    words = TOKEN.findall(comment.text.casefold())
    content = sum(1 for w in words if w not in _STOP and len(w) > 2)
    return 0.5 * min(1.0, content / STANDALONE_WORDS)


def people_drawn_in(thread: Sequence[Comment]) -> dict[str, int]:
    """For each comment id: distinct other authors in the replies under it."""
    parent_of = {c.id: c.parent for c in thread if c.id}
    people: dict[str, set[str]] = {}
    for c in thread:
        author = c.author.casefold()
        above, steps = c.parent, 0
        while above and steps < MAX_DEPTH:
            people.setdefault(above, set()).add(author)
            above, steps = parent_of.get(above), steps + 1
    authors = {c.id: c.author.casefold() for c in thread if c.id}
    return {i: len(who - {authors.get(i)}) for i, who in people.items()}


def scores(
    comments: Sequence[Comment],
    terms: frozenset[str] = frozenset(),
    weights: CommentWeights = WEIGHTS,
    *,
    thread: Sequence[Comment] | None = None,
    now: datetime | None = None,
) -> list[float]:
    """The rule's score for each comment, in the given order.

    `thread` is the whole conversation the comments come from (filtered-out
    comments still tell who replied to whom); `now` is when the votes were
    read (the newest comment's time when not given).
    """
    if not comments:
        return []
    drawn = people_drawn_in(thread if thread is not None else comments)
    votes = _vote_values(comments, now)
    best_votes = max((v for v in votes if v is not None), default=0.0)
    most_people = max((drawn.get(c.id or "", 0) for c in comments), default=0)
    most_replies = max((c.replies or 0 for c in comments), default=0)
    order = _time_order(comments)
    size = math.log1p(len(comments))
    flat = not any(c.parent for c in (thread if thread is not None else comments))
    out = []
    for position, c in enumerate(comments):
        value = 0.0
        vote = votes[position]
        if vote is not None and best_votes > 0:
            value += weights.votes * math.log1p(max(vote, 0.0)) / math.log1p(best_votes)
        if c.score is not None and c.score < 0:
            value -= NEGATIVE
        if most_people:
            value += weights.people * math.log1p(drawn.get(c.id or "", 0)) / math.log1p(most_people)
        if most_replies:
            value += weights.replies * math.log1p(c.replies or 0) / math.log1p(most_replies)
        value += weights.top_level / (1 + c.depth)
        if c.by_author:
            value += weights.author
        value += weights.early * (1 - math.log1p(order[position]) / size)
        value += weights.substance * substance(c)
        value += weights.standalone * stands_alone(c)
        if flat and _ADDRESSING.match(c.text):
            value -= weights.flat_reply
        if terms:
            used = len(terms & set(TOKEN.findall(c.text.casefold())))
            value += weights.relevance * min(1.0, used / 5)
        if c.rank is not None:
            value += weights.source_rank / (1 + c.rank)
        out.append(value)
    return out


def rank(
    comments: Sequence[Comment],
    terms: frozenset[str] = frozenset(),
    weights: CommentWeights = WEIGHTS,
    *,
    thread: Sequence[Comment] | None = None,
    now: datetime | None = None,
    limit: int | None = None,
) -> list[int]:
    """Indices of the comments best first, after the diversity rules; at most `limit`."""
    values = scores(comments, terms, weights, thread=thread, now=now)
    scored = sorted(enumerate(values), key=lambda p: (-p[1], p[0]))
    chosen: list[int] = []
    authors: set[str] = set()
    per_parent: Counter[str] = Counter()
    word_sets: list[set[str]] = []
    for position, _ in scored:
        c = comments[position]
        author = c.author.casefold()
        words = set(TOKEN.findall(c.text.casefold()))
        if author in authors:
            continue
        if c.parent and per_parent[c.parent] >= MAX_PER_PARENT:
            continue
        if any(_jaccard(words, other) >= NEAR_DUPLICATE for other in word_sets):
            continue
        chosen.append(position)
        authors.add(author)
        word_sets.append(words)
        if c.parent:
            per_parent[c.parent] += 1
        if limit is not None and len(chosen) >= limit:
            break
    return chosen


def _vote_values(comments: Sequence[Comment], now: datetime | None) -> list[float | None]:
    """Each comment's votes, scaled up for the exposure it has not had yet."""
    stamps = [_stamp(c) for c in comments]
    known = [s for s in stamps if s is not None]
    if now is not None:
        present = now.timestamp()
    elif known:
        present = max(known)
    else:
        return [c.score for c in comments]
    out: list[float | None] = []
    for c, stamp in zip(comments, stamps, strict=True):
        if c.score is None or stamp is None:
            out.append(c.score)
            continue
        hours = min(max((present - stamp) / 3600, 0.0) + 1.0, SETTLED_HOURS)
        out.append(c.score * math.sqrt(SETTLED_HOURS / hours))
    return out


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
