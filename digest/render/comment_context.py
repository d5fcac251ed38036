"""What a template sees of one reader comment: its own words, apart from what it quotes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TypedDict

from digest.models import Comment


class QuoteContext(TypedDict):
    author: str  # who wrote the quoted words, or "" when unknown
    paragraphs: list[str]


class CommentContext(TypedDict):
    author: str
    paragraphs: list[str]  # the commenter's own words, split at blank lines
    quote: QuoteContext | None  # words the comment quotes, shown apart from its own
    reply_to: str  # author of the comment it answers, or ""
    url: str  # http(s) or ""
    published: datetime | None
    by_author: bool  # the story's author or the discussion's submitter


def paragraphs(text: str) -> list[str]:
    """The text's paragraphs (split at blank lines), each on one line."""
    parts = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return [p for p in parts if p]


def comment_context(comment: Comment, url: str) -> CommentContext:
    """The template's view of `comment`; `url` is its link, already checked ("" for none)."""
    quoted = paragraphs(comment.quote.text) if comment.quote else []
    return CommentContext(
        author=comment.author,
        paragraphs=paragraphs(comment.text),
        quote=QuoteContext(author=comment.quote.author or "", paragraphs=quoted)
        if comment.quote and quoted
        else None,
        reply_to=comment.reply_to or "",
        url=url,
        published=comment.published,
        by_author=comment.by_author,
    )
