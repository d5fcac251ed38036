"""Keep `email.html` under a size budget, so Gmail never clips the footer away.

Gmail hides everything past ~102 KB of HTML (the unsubscribe link included), and
sending services add their own markup, so the budget defaults to 90 KB. When an
issue is too big, the cheapest content goes first: the comments of the last
stories, story by story towards the lead, then whole stories from the tail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import overload

from digest.models import Issue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fitted:
    """The issue as it fits, its HTML, and what was left out (one line each)."""

    issue: Issue
    html: str
    notes: tuple[str, ...]


class _Steps(Sequence[Issue]):
    """Ever smaller versions of the issue, full first, lead story alone last, made on demand.

    First the comments go, story by story from the tail towards the lead; then
    whole stories from the tail. Built lazily: a list of every version would hold
    a copy of the story list per step, quadratic in the number of stories.
    """

    def __init__(self, issue: Issue) -> None:
        self.issue = issue
        self.commented = [i for i, s in enumerate(issue.stories) if s.comments][::-1]
        self.bare = tuple(replace(s, comments=()) if s.comments else s for s in issue.stories)

    def __len__(self) -> int:
        return 1 + len(self.commented) + max(len(self.issue.stories) - 1, 0)

    @overload
    def __getitem__(self, index: int) -> Issue: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Issue]: ...
    def __getitem__(self, index: int | slice) -> Issue | Sequence[Issue]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        trimmed = len(self.commented)
        if index <= trimmed:
            gone = set(self.commented[:index])
            stories = tuple(
                self.bare[i] if i in gone else s for i, s in enumerate(self.issue.stories)
            )
            return replace(self.issue, stories=stories)
        keep = len(self.issue.stories) - (index - trimmed)
        return replace(self.issue, stories=self.bare[:keep])

    def with_stories(self, keep: int) -> int:
        """The index of the version with the first `keep` stories and no comments."""
        return len(self.commented) + len(self.issue.stories) - keep


MARGIN = 1.1
"""CSS inlining only adds to the HTML; this covers what re-serialising may save."""


def _too_big_before(
    steps: _Steps, estimate: Callable[[Issue], int], budget: int
) -> tuple[int, int]:
    """The first step that might fit: versions with ever more stories are measured before
    inlining (1, 2, 4, … stories, no comments) until one is over the budget, so the work
    and memory are bounded by the email, not by the number of candidate stories.
    Also returns the size measured of the version ruled out (0 when none was)."""
    total = len(steps.issue.stories)
    keep = 1
    while True:
        keep = min(keep, total)
        size = estimate(steps[steps.with_stories(keep)])
        if size > MARGIN * budget:
            return steps.with_stories(keep) + 1, size
        if keep == total:
            return 0, 0
        keep *= 2


def fit(
    issue: Issue,
    render: Callable[[Issue], str],
    budget: int,
    estimate: Callable[[Issue], int] | None = None,
) -> Fitted:
    """Return the largest version of `issue` whose rendered HTML is at most `budget` bytes.

    Sizes shrink along `_Steps`, so a binary search finds the cut. `estimate` (a cheaper
    size, e.g. before CSS inlining) guides the search, rules out at once the versions too
    big even before inlining, and only its answer is fully rendered.
    """
    steps = _Steps(issue)
    measure: Callable[[Issue], int] = estimate or (lambda v: len(render(v).encode()))
    low, over = _too_big_before(steps, estimate, budget) if estimate is not None else (0, 0)
    low = min(low, len(steps) - 1)

    def first_fitting(low: int, high: int, ratio: float) -> int:
        while low < high:
            middle = (low + high) // 2
            if measure(steps[middle]) * ratio <= budget:
                high = middle
            else:
                low = middle + 1
        return low

    # Inlining only adds to the HTML, so a ratio of 1 finds the biggest version that
    # might fit; each miss recalibrates the ratio on what was rendered and looks further.
    best: tuple[Issue, str] | None = None
    tried = [first_fitting(low, len(steps) - 1, 1.0)]
    full_size = 0
    while best is None and tried[-1] < len(steps):
        index = tried[-1]
        html = render(steps[index])
        size = len(html.encode())
        if index == 0:
            full_size = size
            if size <= budget:
                return Fitted(issue, html, ())
        if size <= budget:
            best = (steps[index], html)
            break
        ratio = size / max(measure(steps[index]), 1) if estimate else 1.0
        tried.append(max(first_fitting(index + 1, len(steps) - 1, ratio), index + 1))
    if best is not None and estimate is not None and len(tried) > 1 and tried[-1] > tried[-2] + 1:
        # Comments and stories inline differently: recalibrate on the cut found, and see
        # whether a bigger version after the last miss fits too.
        ratio = len(best[1].encode()) / max(estimate(best[0]), 1)
        earlier = first_fitting(tried[-2] + 1, tried[-1], ratio)
        if earlier < tried[-1]:
            html = render(steps[earlier])
            if len(html.encode()) <= budget:
                best = (steps[earlier], html)
    # What the whole issue would weigh: measured, or at least what ruled it out.
    if full_size:
        whole = str(full_size // 1000)
    else:  # before inlining: a lower bound
        whole = f"over {(over if low else measure(steps[0])) // 1000}"
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
            f"email.html would be {whole} KB, over the "
            f"{budget // 1000} KB size budget "
            f"([theme] size_budget_kb): left out {' and '.join(left_out)} "
            f"(the web version has everything)",
        )
    for note in notes:
        logger.info("%s", note)
    return Fitted(kept, final, tuple(notes))
