"""An issue's folder `output/<issue-id>/`: written whole or not at all, read back by id.

An issue folder is written beside its final place and renamed into it, so a
crash never leaves half an issue where the archive or a sender would find it.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import shutil
import tempfile
from collections.abc import Collection, Mapping
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


def next_issue_id(output_dir: Path, day: date, taken: Collection[str] = ()) -> str:
    """The date, with "-2", "-3"… when that day already has an issue here or in `taken`
    (the ids recorded in a state other machines share)."""
    base = day.isoformat()
    candidate, number = base, 1
    while (output_dir / candidate).exists() or candidate in taken:
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
            _write_synced(staging / name, data)
        _write_synced(staging / "issue.json", codec.dumps(issue, subject).encode("utf-8"))
        for relative, source in (assets or {}).items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        _sync_dir(output_dir)
    except OSError as e:
        shutil.rmtree(staging, ignore_errors=True)
        raise DeliveryError(f"cannot write the issue to {final}: {e}") from e
    return final


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` whole: a temporary file, fsync, then rename.

    A reader (or a crash, or a full disk) sees the old file or the new one,
    never a cut one. DeliveryError when it cannot be written.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
        _sync_dir(path.parent)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise DeliveryError(f"cannot write {path}: {e.strerror or e}") from None


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _sync_dir(folder: Path) -> None:
    """fsync a folder so a rename in it survives a power cut."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
