"""Write a built issue to `output/<issue-id>/` and refresh the archive page.

An issue folder is written beside its final place and renamed into it, so a
crash never leaves half an issue where the archive or a sender would find it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from digest.errors import DeliveryError
from digest.models import Comment, Issue, Story

ISSUE_FILES = ("email.html", "email.txt", "message.eml", "issue.json")


def next_issue_id(output_dir: Path, day: date) -> str:
    """The date, with "-2", "-3"… when that day already has an issue."""
    base = day.isoformat()
    candidate, number = base, 1
    while (output_dir / candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def issue_to_dict(issue: Issue) -> dict[str, Any]:
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
    }


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
        "summary": list(story.summary),
        "comment_count": story.comment_count,
        "comments_url": story.comments_url,
        "comments": [_comment(c) for c in story.comments],
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
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def write_issue(
    output_dir: Path,
    issue: Issue,
    files: Mapping[str, str | bytes],
    assets: Mapping[str, Path] | None = None,
) -> Path:
    """Write the issue's files (and copied assets) atomically; returns its folder."""
    final = output_dir / issue.id
    staging = output_dir / f".{issue.id}.partial"
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (staging / name).write_bytes(data)
        record = json.dumps(issue_to_dict(issue), indent=2, ensure_ascii=False)
        (staging / "issue.json").write_text(record + "\n", encoding="utf-8")
        for relative, source in (assets or {}).items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except OSError as e:
        shutil.rmtree(staging, ignore_errors=True)
        raise DeliveryError(f"cannot write the issue to {final}: {e}") from e
    return final


def read_issues(output_dir: Path) -> list[dict[str, Any]]:
    """Every issue record under `output_dir`, newest first; unreadable ones skipped."""
    records = []
    for path in output_dir.glob("*/issue.json"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("id") == path.parent.name:
            records.append(record)
    records.sort(key=lambda r: (str(r.get("generated_at", "")), str(r["id"])), reverse=True)
    return records
