"""Comment feeds → the few comments worth showing under a story.

Sources: WordPress `wfw:commentRss` feeds and RFC 4685 Atom `replies` feeds,
both plain feeds whose items are comments.

The rule, in order:

1. Drop what no editor would show: empty or deleted comments, fewer than
   four words, link-only text, "first!", shouting (mostly capitals),
   repeated characters, and exact duplicates.
2. Keep at most one comment per author (their most substantial one).
3. Rank by substance: word count, best between 25 and 150 words; longer
   comments lose a little for every word past 150. Ties go to the earlier one.
4. Show the top `per_story`, oldest first, each cut at a sentence boundary
   under `max_words` with "…".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from digest.feeds import entry_time, parse_document
from digest.models import Comment, CommentThread, Fetched
from digest.sanitise import html_to_paragraphs, inline_text, safe_url
from digest.summarise import split_sentences

MIN_WORDS = 4
SWEET_SPOT = (25, 150)

_WORD = re.compile(r"\w+", re.UNICODE)
_URL = re.compile(r"(https?://|www\.)\S+", re.I)
_FIRST = re.compile(r"^\W*(first|1st|frist|second|me first)\W*(post|comment)?\W*$", re.I)
_REPEATED = re.compile(r"(.)\1{5,}")
_BY_PREFIX = re.compile(r"^(by|von|par|por|door|di)\s*:\s*", re.I)
_REPLY_PREFIX = re.compile(r"^in reply to [^.]{1,80}\.\s*", re.I)
_DELETED = {"[deleted]", "[removed]", "deleted", "removed"}


def parse_comments(fetched: Fetched) -> CommentThread:
    """Every comment in a comment feed, in feed order; FeedError when it is no feed."""
    parsed = parse_document(fetched)
    comments = []
    for raw in parsed.entries:
        comment = _comment(raw, fetched.final_url)
        if comment is not None:
            comments.append(comment)
    return CommentThread(comments=tuple(comments), total=len(comments))


def _comment(raw: object, base: str) -> Comment | None:
    get = raw.get  # type: ignore[attr-defined]
    contents = get("content") or []
    body = max((c.get("value", "") for c in contents), key=len, default="") or get("summary", "")
    paragraphs = html_to_paragraphs(body)
    if paragraphs:
        paragraphs[0] = _REPLY_PREFIX.sub("", paragraphs[0])
    text = "\n\n".join(p for p in paragraphs if p)
    author = inline_text((get("author_detail") or {}).get("name") or get("author") or "")
    if not author:
        author = _BY_PREFIX.sub("", inline_text(get("title", "")))
    if not text:
        return None
    return Comment(
        author=author or "Anonymous",
        text=text,
        url=safe_url(get("link"), base if "://" in base else None),
        published=entry_time(raw),
    )


def is_worth_showing(comment: Comment) -> bool:
    """Step 1 of the rule: False for junk no editor would show."""
    text = comment.text.strip()
    if text.lower() in _DELETED or comment.author.lower() in _DELETED:
        return False
    without_links = _URL.sub(" ", text)
    words = _WORD.findall(without_links)
    if len(words) < MIN_WORDS or _FIRST.match(text) or _REPEATED.search(text):
        return False
    letters = [c for c in without_links if c.isalpha()]
    shouting = len(letters) > 12 and sum(c.isupper() for c in letters) / len(letters) > 0.6
    return not shouting


def substance(comment: Comment) -> float:
    """Step 3 of the rule: higher is better."""
    words = len(_WORD.findall(comment.text))
    low, high = SWEET_SPOT
    if words < low:
        return words / low
    if words <= high:
        return 1.0 + words / 1000  # a slight preference for the fuller one
    return max(0.2, 1.0 - (words - high) / 400)


def pick_comments(comments: Iterable[Comment], per_story: int, max_words: int) -> list[Comment]:
    """The rule of this module's docstring, applied to one thread."""
    seen_text: set[str] = set()
    best_by_author: dict[str, tuple[float, int, Comment]] = {}
    for position, comment in enumerate(comments):
        if not is_worth_showing(comment):
            continue
        fingerprint = " ".join(_WORD.findall(comment.text.casefold()))
        if fingerprint in seen_text:
            continue
        seen_text.add(fingerprint)
        candidate = (substance(comment), -position, comment)
        author = comment.author.casefold()
        if author not in best_by_author or candidate[:2] > best_by_author[author][:2]:
            best_by_author[author] = candidate
    ranked = sorted(best_by_author.values(), key=lambda c: c[:2], reverse=True)[:per_story]
    chosen = sorted(ranked, key=lambda c: -c[1])
    return [_shorten(c[2], max_words) for c in chosen]


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
    """The comment count to show: the feed's announcement, else what the thread holds."""
    if entry_count is not None:
        return max(entry_count, len(thread.comments))
    return thread.total
