"""Keep `email.html` under a size budget, so Gmail never clips the footer away.

Gmail hides everything past ~102 KB of HTML (the unsubscribe link included), and
sending services add their own markup, so the budget defaults to 90 KB. When an
issue is too big, the cheapest content goes first: the comments of the last
stories, story by story towards the lead, then whole stories from the tail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from digest.models import Issue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fitted:
    """The issue as it fits, its HTML, and what was left out (one line each)."""

    issue: Issue
    html: str
    notes: tuple[str, ...]


def _steps(issue: Issue) -> list[Issue]:
    """Return ever smaller versions of the issue: full first, lead story alone last."""
    steps = [issue]
    stories = list(issue.stories)
    for index in reversed(range(len(stories))):
        if stories[index].comments:
            stories[index] = replace(stories[index], comments=())
            steps.append(replace(issue, stories=tuple(stories)))
    for keep in range(len(stories) - 1, 0, -1):
        steps.append(replace(issue, stories=tuple(stories[:keep])))
    return steps


def fit(
    issue: Issue,
    render: Callable[[Issue], str],
    budget: int,
    estimate: Callable[[Issue], int] | None = None,
) -> Fitted:
    """Return the largest version of `issue` whose rendered HTML is at most `budget` bytes.

    Sizes shrink along `_steps`, so a binary search finds the cut. `estimate` (a cheaper
    size, e.g. before CSS inlining) guides the search; only its answer is fully rendered.
    """
    html = render(issue)
    size = len(html.encode())
    if size <= budget:
        return Fitted(issue, html, ())
    steps = _steps(issue)
    measure: Callable[[Issue], int] = estimate or (lambda version: len(render(version).encode()))
    ratio = size / max(estimate(issue), 1) if estimate else 1.0

    def first_fitting(low: int, high: int, ratio: float) -> int:
        while low < high:
            middle = (low + high) // 2
            if measure(steps[middle]) * ratio <= budget:
                high = middle
            else:
                low = middle + 1
        return low

    best: tuple[Issue, str] | None = None
    start = first_fitting(1, len(steps) - 1, ratio)
    for index in range(start, len(steps)):  # the estimate can be a little short: check it
        candidate = render(steps[index])
        if len(candidate.encode()) <= budget:
            best = (steps[index], candidate)
            break
    if best is not None and estimate is not None and index > 1:
        # Comments and stories inline differently: recalibrate on the cut found, and see
        # whether an earlier (bigger) step fits too.
        ratio = len(best[1].encode()) / max(estimate(best[0]), 1)
        earlier = first_fitting(1, index, ratio)
        if earlier < index:
            candidate = render(steps[earlier])
            if len(candidate.encode()) <= budget:
                best = (steps[earlier], candidate)
    notes = []
    if best is None:
        best = (steps[-1], render(steps[-1]))
        notes.append(
            f"email.html is {len(best[1].encode()) // 1000} KB even with one story and no "
            f"comments, over the {budget // 1000} KB budget: Gmail may clip it"
        )
    kept, final = best
    trimmed = sum(
        1
        for before, after in zip(issue.stories, kept.stories, strict=False)
        if before.comments and not after.comments
    )
    dropped = len(issue.stories) - len(kept.stories)
    left_out = []
    if trimmed:
        left_out.append(f"the comments of {trimmed} {'story' if trimmed == 1 else 'stories'}")
    if dropped:
        left_out.append(f"the last {dropped} {'story' if dropped == 1 else 'stories'}")
    if left_out:
        notes.insert(
            0,
            f"email.html would be {size // 1000} KB, over the {budget // 1000} KB size budget "
            f"([theme] size_budget_kb): left out {' and '.join(left_out)} "
            f"(the web version has everything)",
        )
    for note in notes:
        logger.info("%s", note)
    return Fitted(kept, final, tuple(notes))
