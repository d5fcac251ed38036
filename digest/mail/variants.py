"""Each reader's version of an issue: only the sources they chose, every issue or weekly.

Readers who chose every source get the issue as built. The others get a
variant rendered from the same stories, filtered by source: one render per
distinct set of sources, kept for the whole send, so a list of 50,000 readers
with four distinct choices costs four renders. Weekly readers skip the
per-issue sends and get one mail a week: the week's stories from every issue
(Monday to Sunday, UTC), the most discussed first, as an issue of its own
whose id is `week-<year>-W<week>` (it has its own rows in the send log).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from digest.config import Config
from digest.issues.files import LoadedIssue, read_issues
from digest.issues.message import MessageFactory
from digest.models import Issue, Preferences, RenderedIssue, Story

logger = logging.getLogger(__name__)

WEEKLY, EVERY_ISSUE = "weekly", "issue"
WEEK_PREFIX = "week-"


class Variants:
    """The message factory for each set of sources, rendered once and reused."""

    def __init__(self, config: Config, loaded: LoadedIssue) -> None:
        self.config, self.loaded = config, loaded
        self.cadence = WEEKLY if loaded.issue.id.startswith(WEEK_PREFIX) else EVERY_ISSUE
        self._factories: dict[tuple[str, ...], MessageFactory] = {}
        self.renders = 0  # variants rendered (the full issue is not counted)

    def stories(self, preferences: Preferences) -> tuple[Story, ...]:
        wanted = set(preferences.sources)
        stories = self.loaded.issue.stories
        return stories if not wanted else tuple(s for s in stories if s.source in wanted)

    def wants(self, preferences: Preferences, *, any_cadence: bool = False) -> bool:
        """Whether this reader gets this issue: their cadence, and a story they chose."""
        if not any_cadence and preferences.cadence != self.cadence:
            return False
        return bool(self.stories(preferences))

    def factory(self, preferences: Preferences) -> MessageFactory:
        stories = self.stories(preferences)
        key = tuple(sorted({s.source for s in stories}))
        if len(stories) == len(self.loaded.issue.stories):
            key = ()  # every story: the issue as built
        if key not in self._factories:
            issue, rendered = self.loaded.issue, self.loaded.rendered
            if key:
                issue = dataclasses.replace(issue, stories=stories)
                rendered = _render(issue, self.config)
                self.renders += 1
                logger.info("issue %s: variant for %s rendered", issue.id, ", ".join(key))
            self._factories[key] = MessageFactory(issue, rendered, self.config)
        return self._factories[key]


def week_id(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{WEEK_PREFIX}{year}-W{week:02d}"


def weekly_issue(config: Config, output_dir: Path, day: date) -> LoadedIssue | None:
    """The digest of the ISO week holding `day`, or None when no issue came out that week."""
    monday = day - timedelta(days=day.weekday())
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    end = start + timedelta(days=7)
    issues = [
        i
        for i in read_issues(output_dir)
        if not i.id.startswith(WEEK_PREFIX) and start <= _aware(i.generated_at) < end
    ]
    if not issues:
        return None
    seen: set[str] = set()
    ranked: list[tuple[int, int, Story]] = []
    for issue in issues:
        for place, story in enumerate(issue.stories):
            key = story.key or story.url
            if key in seen:
                continue
            seen.add(key)
            ranked.append((-(story.comment_count or 0), place, story))
    ranked.sort(key=lambda r: (r[0], r[1]))
    stories = tuple(story for _, _, story in ranked[: config.newsletter.max_stories])
    title = config.newsletter.title or issues[0].title
    week = Issue(
        id=week_id(monday),
        title=f"{title}: the week of {monday.isoformat()}",
        generated_at=max(_aware(i.generated_at) for i in issues),
        stories=stories,
        feeds=(),
    )
    return LoadedIssue(week, _render(week, config), output_dir)


def last_week(now: datetime) -> date:
    """A day in the week before the one holding `now`: the latest complete week."""
    return (now.astimezone(UTC) - timedelta(days=7)).date()


def sources(config: Config, output_dir: Path) -> list[str]:
    """The sources a reader can choose: configured feed titles and those of recent issues."""
    found = {f.title for f in config.feeds if f.title}
    for issue in read_issues(output_dir)[:20]:
        found.update(s.source for s in issue.stories if s.source)
    return sorted(found, key=str.casefold)


def _render(issue: Issue, config: Config) -> RenderedIssue:
    from digest.render.email import render_issue  # the renderer loads only when a variant needs it

    return render_issue(issue, config)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
