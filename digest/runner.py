"""One build, start to finish: compose the issue, write its folder, remember its stories.

`digest build` and the scheduler both run exactly this, so a scheduled issue
is the same as one built by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import httpx

from digest.config import Config
from digest.models import FeedStatus
from digest.pipeline import Build, Progress, build_issue
from digest.publish import publish
from digest.state import State


class Outcome(StrEnum):
    WRITTEN = "written"
    NOTHING_NEW = "nothing_new"
    FEEDS_FAILED = "feeds_failed"


@dataclass(frozen=True)
class BuildRun:
    result: Build
    outcome: Outcome
    folder: Path | None = None


def build_and_publish(
    config: Config,
    state: State,
    output_dir: Path,
    *,
    now: datetime,
    issue_id: str,
    transport: httpx.AsyncBaseTransport | None = None,
    progress: Progress | None = None,
    local_images: Mapping[str, Path] | None = None,
    strict: bool = False,
) -> BuildRun:
    """Build the next issue into `output_dir/<issue_id>/` when there is something new."""
    result = build_issue(
        config, state, now=now, issue_id=issue_id, transport=transport, progress=progress
    )
    failed = [r for r in result.feeds if r.status is FeedStatus.ERROR]
    if len(failed) == len(result.feeds) or (strict and failed):
        return BuildRun(result, Outcome.FEEDS_FAILED)
    if result.issue is None:
        return BuildRun(result, Outcome.NOTHING_NEW)
    issue = result.issue
    folder, rendered = publish(issue, config, output_dir, local_images)
    # The size budget may have trimmed comments or stories: the report says so.
    result = replace(result, warnings=result.warnings + rendered.warnings)
    # Stories are remembered only once the issue is on disk: a crash before
    # this line leaves them to be picked again, never lost.
    state.record_issue(issue.id, ((s.key, s.title, s.url) for s in issue.stories))
    return BuildRun(result, Outcome.WRITTEN, folder)
