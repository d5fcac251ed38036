"""Issue → files: render the email, the MIME message and the archive, then write them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from digest.config import Config
from digest.issues.files import ISSUE_FILES, read_issues, write_atomic, write_issue
from digest.issues.message import build_message
from digest.models import Issue, RenderedIssue
from digest.render.atom import render_feed
from digest.render.email import ArchiveEntry, render_archive, render_issue, render_web

WEB_PAGE = "web.html"  # beside the four contract files: the issue as a web page


def publish(
    issue: Issue,
    config: Config,
    output_dir: Path,
    local_images: Mapping[str, Path] | None = None,
    *,
    archive: bool = True,
) -> tuple[Path, RenderedIssue]:
    """Write `output_dir/<id>/` and refresh `output_dir/index.html`; returns the folder.

    `local_images` maps image URLs to files copied beside the issue, so an
    issue built offline (the demo) shows its pictures in a browser preview.
    With `archive=False` the caller refreshes the archive (`write_archive`).
    """
    number = issue_number(output_dir, issue.id)
    files, assets, rendered = issue_files(issue, config, number, local_images)
    assert set(files) | {"issue.json"} == {*ISSUE_FILES, WEB_PAGE}
    folder = write_issue(output_dir, issue, files, assets, rendered.subject)
    if archive:
        write_archive(output_dir, config)
    return folder, rendered


def issue_number(output_dir: Path, issue_id: str) -> int:
    """Return the issue's number: its place in `output_dir`, oldest first (new: the next)."""
    ids = [i.id for i in read_issues(output_dir)]  # newest first
    return len(ids) - ids.index(issue_id) if issue_id in ids else len(ids) + 1


def issue_files(
    issue: Issue,
    config: Config,
    number: int | None,
    local_images: Mapping[str, Path] | None = None,
) -> tuple[dict[str, str | bytes], dict[str, Path], RenderedIssue]:
    """Return an issue's files (all but issue.json), the images to copy beside them, and
    the rendered email; `digest preview --watch` rewrites a folder with these."""
    rendered = render_issue(issue, config, number)
    message = build_message(issue, rendered, config)
    html, web = rendered.html, render_web(issue, config, number)
    assets: dict[str, Path] = {}
    for url, path in (local_images or {}).items():
        if url in html or url in web:
            relative = f"images/{path.name}"
            html, web = html.replace(url, relative), web.replace(url, relative)
            assets[relative] = path
    files: dict[str, str | bytes] = {
        "email.html": html,
        "email.txt": rendered.text,
        "message.eml": bytes(message),
        WEB_PAGE: web,
    }
    return files, assets, rendered


def write_archive(output_dir: Path, config: Config) -> Path:
    """`index.html` listing every issue found under `output_dir`, and `feed.xml` of them.

    Each is replaced whole (a full disk leaves the previous one, never a cut one).
    """
    entries = [_archive_entry(issue, output_dir) for issue in read_issues(output_dir)]
    write_atomic(output_dir / "feed.xml", render_feed(entries, config).encode("utf-8"))
    path = output_dir / "index.html"
    write_atomic(path, render_archive(entries, config).encode("utf-8"))
    return path


def archive_is_stale(output_dir: Path) -> bool:
    """Whether `index.html` or `feed.xml` is missing or older than an issue folder."""
    folders = [p.stat().st_mtime for p in output_dir.glob("*/issue.json")]
    if not folders:
        return False
    try:
        written = min((output_dir / n).stat().st_mtime for n in ("index.html", "feed.xml"))
    except OSError:
        return True
    return written < max(folders)


def _archive_entry(issue: Issue, output_dir: Path) -> ArchiveEntry:
    page = WEB_PAGE if (output_dir / issue.id / WEB_PAGE).is_file() else "email.html"
    return replace(ArchiveEntry.from_issue(issue), page=page)
