"""An issue's folder `output/<issue-id>/`: written whole or not at all, read back by id.

An issue folder is written beside its final place and renamed into it, so a
crash never leaves half an issue where the archive or a sender would find it.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from digest.errors import DeliveryError
from digest.issues import codec
from digest.models import Issue, RenderedIssue

ISSUE_FILES = ("email.html", "email.txt", "message.eml", "issue.json")


@dataclass(frozen=True)
class LoadedIssue:
    """A built issue read back from its folder: what a sender needs."""

    issue: Issue
    rendered: RenderedIssue
    folder: Path


def next_issue_id(output_dir: Path, day: date) -> str:
    """The date, with "-2", "-3"… when that day already has an issue."""
    base = day.isoformat()
    candidate, number = base, 1
    while (output_dir / candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def write_issue(
    output_dir: Path,
    issue: Issue,
    files: Mapping[str, str | bytes],
    assets: Mapping[str, Path] | None = None,
    subject: str | None = None,
) -> Path:
    """Write the issue's files, its issue.json and copied assets atomically; returns its folder."""
    final = output_dir / issue.id
    staging = output_dir / f".{issue.id}.partial"
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (staging / name).write_bytes(data)
        (staging / "issue.json").write_text(codec.dumps(issue, subject), encoding="utf-8")
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


def read_issues(output_dir: Path) -> list[Issue]:
    """Every issue under `output_dir`, newest first; unreadable or foreign ones skipped."""
    issues = []
    for path in output_dir.glob("*/issue.json"):
        try:
            issue, _ = codec.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        if issue.id == path.parent.name:
            issues.append(issue)
    issues.sort(key=lambda i: (i.generated_at.isoformat(), i.id), reverse=True)
    return issues


def load_issue(output_dir: Path, issue_id: str | None = None) -> LoadedIssue:
    """The named issue, or the newest one, from `output_dir`."""
    if issue_id is None:
        found = read_issues(output_dir)
        if not found:
            raise DeliveryError(f"no issue in {output_dir}: run `digest build` first")
        issue_id = found[0].id
    folder = output_dir / issue_id
    try:
        issue, subject = codec.loads((folder / "issue.json").read_bytes())
        html = (folder / "email.html").read_text(encoding="utf-8")
        text = (folder / "email.txt").read_text(encoding="utf-8")
        if subject is None:  # written before issue.json carried the Subject
            eml = (folder / "message.eml").read_bytes()
            subject = str(email.message_from_bytes(eml, policy=email.policy.default)["Subject"])
    except FileNotFoundError as e:
        raise DeliveryError(f"issue {issue_id!r}: {e.filename} is missing") from None
    except (OSError, ValueError) as e:
        raise DeliveryError(f"issue {issue_id!r} in {folder} is unreadable: {e}") from None
    rendered = RenderedIssue(subject=subject or issue.title, html=html, text=text)
    return LoadedIssue(issue, rendered, folder)
