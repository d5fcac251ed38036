"""The conversation around each story: find it, read it, pick what an editor would.

`locate` says where an entry's comments are (comment feed, Reddit, Hacker
News, Discourse, Mastodon; see `sources`), each source's `parse` reads them
into `Comment`s, and `pick_comments` applies the rule:

1. `filters`: drop what no editor would show and strip signatures and
   quotes of the article;
2. `ranking`: score every comment with the signals its source has, then
   take the best with one per author, at most two replies to one parent and
   no near-duplicates;
3. show the top `per_story` oldest first, each cut at a sentence boundary
   under `max_words` with "…" (the comment's link leads to the rest).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from digest.comments import filters, ranking
from digest.comments.filters import DEFAULT_ABUSE, AbuseFilter, is_worth_showing
from digest.comments.locate import SOURCES, locate
from digest.comments.sources import ThreadRequest
from digest.comments.sources.wordpress import parse as parse_comments
from digest.config import CommentSettings
from digest.models import Comment, CommentThread
from digest.text.sentences import split_sentences

__all__ = [
    "SOURCES",
    "AbuseFilter",
    "ThreadRequest",
    "announced_total",
    "is_worth_showing",
    "locate",
    "parse_comments",
    "pick_comments",
    "pick_for_story",
    "ranked",
    "showable",
]


def ranked(
    comments: Sequence[Comment],
    *,
    article: str = "",
    abuse: AbuseFilter = DEFAULT_ABUSE,
    weights: ranking.CommentWeights = ranking.WEIGHTS,
    limit: int | None = None,
    now: datetime | None = None,
) -> list[tuple[int, Comment]]:
    """(position in the thread, cleaned comment) of the comments worth showing, best first.

    At most `limit`, after the diversity rules.
    """
    kept = showable(comments, article, abuse)
    terms = ranking.key_terms(article) if article else frozenset()
    candidates = [c for _, c in kept]
    order = ranking.rank(candidates, terms, weights, thread=comments, now=now, limit=limit)
    return [kept[k] for k in order]


def pick_comments(
    comments: Iterable[Comment],
    per_story: int,
    max_words: int,
    *,
    article: str = "",
    abuse: AbuseFilter = DEFAULT_ABUSE,
    now: datetime | None = None,
) -> list[Comment]:
    """The rule of this package's docstring, applied to one thread."""
    best = ranked(list(comments), article=article, abuse=abuse, limit=per_story, now=now)
    # Comments read as a conversation: oldest first (thread order where undated).
    best.sort(key=lambda p: (p[1].published is None, _sort_time(p[1]), p[0]))
    return [_shorten(c, max_words) for _, c in best]


def pick_for_story(
    thread: CommentThread, settings: CommentSettings, *, article: str, now: datetime
) -> list[Comment]:
    """`pick_comments` with the newsletter's `[comments]` settings, on a bounded share of
    the thread: the first `MAX_COMMENTS` comments, each cut at `MAX_COMMENT_CHARS`, against
    the article's first `MAX_ARTICLE_CHARS` (so a giant thread or article costs no more)."""
    abuse = AbuseFilter.from_settings(
        settings.abuse_filter, settings.abuse_allow, settings.abuse_words, settings.abuse_threshold
    )
    return pick_comments(
        [_bounded(c) for c in thread.comments[:MAX_COMMENTS]],
        settings.per_story,
        settings.max_words,
        article=article[:MAX_ARTICLE_CHARS],
        abuse=abuse,
        now=now,
    )


def showable(
    comments: Sequence[Comment], article: str = "", abuse: AbuseFilter = DEFAULT_ABUSE
) -> list[tuple[int, Comment]]:
    """(position in the thread, cleaned comment) for each comment the filters keep."""
    grams = filters.grams(article) if article else frozenset()
    kept = [
        (i, cleaned)
        for i, c in enumerate(comments)
        if is_worth_showing(cleaned := filters.clean(c, grams), filters.NO_ABUSE_CHECK)
    ]
    flagged = abuse.abusive([c.text for _, c in kept])
    return [pair for pair, bad in zip(kept, flagged, strict=True) if not bad]


MAX_COMMENTS = 3000
"""Comments of one thread considered for the email (the largest real threads have ~1,200)."""
MAX_COMMENT_CHARS = 20_000
MAX_ARTICLE_CHARS = 60_000


def _bounded(comment: Comment) -> Comment:
    if len(comment.text) <= MAX_COMMENT_CHARS:
        return comment
    return replace(comment, text=comment.text[:MAX_COMMENT_CHARS])


def _sort_time(comment: Comment) -> float:
    return comment.published.timestamp() if comment.published else 0.0


def _shorten(comment: Comment, max_words: int) -> Comment:
    words = comment.text.split()
    if len(words) <= max_words:
        return comment
    kept: list[str] = []
    count = 0
    for paragraph in comment.text.split("\n\n"):
        sentences: list[str] = []
        for sentence in split_sentences(paragraph):
            count += len(sentence.split())
            if count > max_words:
                break
            sentences.append(sentence)
        if sentences:
            kept.append(" ".join(sentences))
        if count > max_words:
            break
    # When even the first sentence is too long, cut at a word.
    text = "\n\n".join(kept) or " ".join(words[:max_words])
    return replace(comment, text=text.rstrip(" .,;:") + " …")


def announced_total(entry_count: int | None, thread: CommentThread) -> int | None:
    """The comment count to show: the largest of the feed's, the source's and what was read."""
    counts = [n for n in (entry_count, thread.total) if n is not None]
    if not counts:
        return len(thread.comments) or None
    return max(*counts, len(thread.comments))
