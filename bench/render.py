"""Render time and size of big issues: Jinja → MJML → HTML → inlining, in-process.

Run: python -m bench.render
Target: a 30-story issue renders in one pass in under 150 ms; a 40-story issue fits
the 90 KB budget.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.config import Config, NewsletterSettings, ThemeSettings
from digest.models import Comment, Issue, RenderedIssue, Story
from digest.render.email import render_issue

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
SENTENCE = (
    "the new wagon keeps its manual gearbox while the hybrid trims fuel use by a fifth and "
    "dealers expect the first cars before spring according to the company"
)
WORDS = SENTENCE.split()


def make_issue(stories: int, comments: int = 3) -> Issue:
    """A synthetic issue: realistic lengths (3-sentence summaries, 60-word comments)."""

    def sentence(i: int, n: int) -> str:
        return " ".join(WORDS[(i + k) % len(WORDS)] for k in range(n)).capitalize() + "."

    return Issue(
        id="2026-11-26",
        title="Bench Insider",
        generated_at=NOW,
        stories=tuple(
            Story(
                title=f"Story {i}: {sentence(i, 9)}",
                url=f"https://news.example.com/2026/11/a-story-with-a-long-slug-{i}/",
                source="The Example Gazette",
                author="A. Reporter",
                published=NOW - timedelta(hours=i),
                image=f"https://cdn.example.com/uploads/2026/11/picture-{i}-1200x675.jpg",
                summary=tuple(sentence(i + k, 24) for k in range(3)),
                comment_count=40,
                comments=tuple(
                    Comment(
                        author=f"Commenter {k}",
                        text=sentence(i * k, 30) + " " + sentence(i + k, 30),
                        url=f"https://news.example.com/2026/11/a-story-{i}/#comment-{k}",
                        published=NOW - timedelta(hours=k + 1),
                    )
                    for k in range(comments)
                ),
                comments_url=f"https://news.example.com/2026/11/a-story-{i}/#comments",
            )
            for i in range(stories)
        ),
        feeds=(),
    )


def timed(issue: Issue, config: Config, runs: int = 7) -> tuple[float, RenderedIssue]:
    """Return the median seconds of `runs` renders, and the last result."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        rendered = render_issue(issue, config)
        times.append(time.perf_counter() - started)
    return statistics.median(times), rendered


def main() -> None:
    newsletter = NewsletterSettings(title="Bench Insider", unsubscribe="mailto:x@example.com")
    budget = Config(newsletter=newsletter, base_dir=Path("/nonexistent"))
    unlimited = Config(
        newsletter=newsletter, theme=ThemeSettings(size_budget_kb=10_000), base_dir=budget.base_dir
    )
    render_issue(make_issue(3), budget)  # compile the templates once, as a long build would
    print("One pass (Jinja → MJML → HTML → inlining), no size budget:")
    for stories, comments in ((10, 3), (30, 0), (30, 3)):
        seconds, rendered = timed(make_issue(stories, comments), unlimited)
        size = len(rendered.html.encode()) / 1000
        print(
            f"  {stories} stories, {comments} comments each: {seconds * 1000:.0f} ms, {size:.0f} KB"
        )
    print("With the default 90 KB budget (search for the cut, then render it):")
    for stories, comments in ((30, 3), (40, 3)):
        seconds, rendered = timed(make_issue(stories, comments), budget)
        size = len(rendered.html.encode()) / 1000
        note = rendered.warnings[0] if rendered.warnings else "fits"
        print(
            f"  {stories} stories, {comments} comments each: {seconds * 1000:.0f} ms, {size:.1f} KB"
        )
        print(f"    {note}")


if __name__ == "__main__":
    main()
