"""`issue.json`: the one writer and the one reader of the structured issue.

The schema is the contract in the README; fields are added, never renamed,
so a record written by an older digest still reads. Anything malformed is a
`ValueError`, which callers treat as "not an issue".
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from digest.models import Comment, FeedReport, FeedStatus, Issue, Picture, Quote, Story


def dumps(issue: Issue, subject: str | None = None) -> str:
    """The `issue.json` text of `issue` (with the email's Subject line when known)."""
    record = to_dict(issue)
    if subject is not None:
        record["subject"] = subject
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


def loads(text: str | bytes) -> tuple[Issue, str | None]:
    """The issue an `issue.json` text describes, and its Subject line (None in old records)."""
    record = json.loads(text)
    if not isinstance(record, dict):
        raise ValueError("issue.json is not an object")
    subject = record.get("subject")
    return from_dict(record), str(subject) if subject is not None else None


def to_dict(issue: Issue) -> dict[str, Any]:
    """The `issue.json` record (schema in the README)."""
    return {
        "id": issue.id,
        "title": issue.title,
        "generated_at": issue.generated_at.isoformat(timespec="seconds"),
        "stories": [_story(s) for s in issue.stories],
        "feeds": [
            {
                "url": f.url,
                "title": f.title,
                "status": f.status.value,
                "error": f.error,
                "items": f.items,
            }
            for f in issue.feeds
        ],
        "language": issue.language or None,
        # One line per item left out or cut short (entry, page, comments, story), with its URL.
        "warnings": list(issue.warnings),
    }


def from_dict(record: dict[str, Any]) -> Issue:
    """The Issue a record describes; ValueError when it is not one."""
    try:
        stories = tuple(_read_story(s) for s in record.get("stories") or ())
        feeds = tuple(
            FeedReport(
                url=str(f.get("url")),
                status=FeedStatus(f.get("status", "ok")),
                title=f.get("title"),
                error=f.get("error"),
                items=int(f.get("items") or 0),
            )
            for f in record.get("feeds") or ()
        )
        generated = _when(record.get("generated_at"))
        if generated is None:
            raise ValueError(f"issue {record.get('id')!r} has no generated_at")
        warnings = tuple(str(w) for w in record.get("warnings") or ())
        return Issue(
            str(record["id"]),
            str(record.get("title", "")),
            generated,
            stories,
            feeds,
            warnings=warnings,
            language=str(record.get("language") or ""),
        )
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"not an issue record: {e!r}") from None


def _story(story: Story) -> dict[str, Any]:
    return {
        "title": story.title,
        "url": story.url,
        "source": story.source,
        "author": story.author,
        "published": _iso(story.published),
        "image": story.image,
        "image_width": story.picture.width if story.picture else None,
        "image_height": story.picture.height if story.picture else None,
        "image_alt": story.picture.alt if story.picture else "",
        "section": story.section,
        "language": story.language or None,
        "summary": list(story.summary),
        "comment_count": story.comment_count,
        "comments_url": story.comments_url,
        "comments": [_comment(c) for c in story.comments],
        "key": story.key,
    }


def _comment(comment: Comment) -> dict[str, Any]:
    return {
        "author": comment.author,
        "text": comment.text,
        "url": comment.url,
        "published": _iso(comment.published),
        "score": comment.score,
        "replies": comment.replies,
        "by_author": comment.by_author,
        "reply_to": comment.reply_to,
        "quote": {"author": comment.quote.author, "text": comment.quote.text}
        if comment.quote
        else None,
    }


def _read_story(s: dict[str, Any]) -> Story:
    return Story(
        title=str(s["title"]),
        url=str(s.get("url") or ""),
        source=str(s.get("source") or ""),
        author=s.get("author"),
        published=_when(s.get("published")),
        image=s.get("image"),
        picture=_read_picture(s),
        section=str(s.get("section") or ""),
        language=str(s.get("language") or ""),
        summary=tuple(str(x) for x in s.get("summary") or ()),
        comment_count=s.get("comment_count"),
        comments=tuple(_read_comment(c) for c in s.get("comments") or ()),
        comments_url=s.get("comments_url"),
        # Records written before `key` was kept: the URL is the key of almost every story.
        key=str(s["key"] if "key" in s else s.get("url") or ""),
    )


def _read_picture(story: dict[str, Any]) -> Picture | None:
    url = story.get("image")
    if not isinstance(url, str) or not url:
        return None
    width, height = story.get("image_width"), story.get("image_height")
    width = width if isinstance(width, int) else None
    height = height if isinstance(height, int) else None
    alt = str(story.get("image_alt") or "")
    # Nothing known beyond the URL: the record was written without a Picture.
    return Picture(url, width, height, alt) if width or height or alt else None


def _read_comment(c: dict[str, Any]) -> Comment:
    return Comment(
        author=str(c.get("author") or ""),
        text=str(c.get("text") or ""),
        url=c.get("url"),
        published=_when(c.get("published")),
        score=c.get("score"),
        replies=c.get("replies"),
        by_author=c.get("by_author") is True,
        reply_to=c.get("reply_to") if isinstance(c.get("reply_to"), str) else None,
        quote=_read_quote(c.get("quote")),
    )


def _read_quote(value: Any) -> Quote | None:
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None
    author = value.get("author")
    return Quote(value["text"], author if isinstance(author, str) else None)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None
