"""Finishing what a killed build left: its stories recorded, the archive refreshed."""

from __future__ import annotations

from pathlib import Path

from digest.config import Config
from digest.errors import DigestError
from digest.issues.files import read_issues
from digest.store import State


def mend(store: State, config: Config, output_dir: Path) -> list[str]:
    """Finish what a killed build left: record its stories, refresh the archive.

    Returns warnings for the report.
    """
    from digest.issues.publish import archive_is_stale, write_archive

    mended = reconcile(store, output_dir)
    warnings = [f"issue {i}: written but its stories not recorded; now they are" for i in mended]
    try:
        if archive_is_stale(output_dir):
            write_archive(output_dir, config)
    except DigestError as e:
        warnings.append(f"archive not refreshed: {e}")
    return warnings


def reconcile(store: State, output_dir: Path) -> list[str]:
    """Record the stories of every issue folder whose stories are not recorded yet.

    A build (or the scheduler) killed between writing the folder and
    recording its stories would otherwise put them in the next issue again.
    Returns the ids of the issues mended.
    """
    known = store.recorded_issues()
    mended = []
    for issue in read_issues(output_dir):
        if issue.id in known or not issue.stories:
            continue
        store.record_issue(issue.id, ((s.key or s.url, s.title, s.url) for s in issue.stories))
        mended.append(issue.id)
    return mended
