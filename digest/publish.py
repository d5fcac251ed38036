"""Issue → files: render the email, the MIME message and the archive, then write them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from digest.config import Config
from digest.message import build_message
from digest.models import Issue, RenderedIssue
from digest.output import ISSUE_FILES, read_issues, write_issue
from digest.render import ArchiveEntry, render_archive, render_issue


def publish(
    issue: Issue,
    config: Config,
    output_dir: Path,
    local_images: Mapping[str, Path] | None = None,
) -> tuple[Path, RenderedIssue]:
    """Write `output_dir/<id>/` and refresh `output_dir/index.html`; returns the folder.

    `local_images` maps image URLs to files copied beside the issue, so an
    issue built offline (the demo) shows its pictures in a browser preview.
    """
    rendered = render_issue(issue, config)
    message = build_message(issue, rendered, config)
    html = rendered.html
    assets: dict[str, Path] = {}
    for url, path in (local_images or {}).items():
        if url in html:
            relative = f"images/{path.name}"
            html = html.replace(url, relative)
            assets[relative] = path
    files: dict[str, str | bytes] = {
        "email.html": html,
        "email.txt": rendered.text,
        "message.eml": bytes(message),
    }
    assert set(files) | {"issue.json"} == set(ISSUE_FILES)
    folder = write_issue(output_dir, issue, files, assets)
    write_archive(output_dir, config)
    return folder, rendered


def write_archive(output_dir: Path, config: Config) -> Path:
    """`index.html` listing every issue found under `output_dir`."""
    entries = []
    for record in read_issues(output_dir):
        try:
            entries.append(_archive_entry(record))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a hand-edited or foreign issue.json: leave it out of the archive
    path = output_dir / "index.html"
    path.write_text(render_archive(entries, config), encoding="utf-8")
    return path


def _archive_entry(record: dict[str, Any]) -> ArchiveEntry:
    stories = record.get("stories") or []
    return ArchiveEntry(
        id=str(record["id"]),
        title=str(record.get("title", "")),
        generated_at=datetime.fromisoformat(str(record["generated_at"])),
        story_count=len(stories),
        first_story=str(stories[0].get("title")) if stories else None,
    )
