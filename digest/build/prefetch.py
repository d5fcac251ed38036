"""Requests for likely stories, started before every feed is in.

A story's article page and comment thread are fetched as soon as its feed is
parsed and it ranks among the newest candidates so far, so the slowest feed
does not hold back every other story's requests.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from digest.config import Config
from digest.models import Article, CommentThread, Entry
from digest.select import is_recent, newest_first


class Ahead:
    """Page and comment requests started as soon as a parsed entry could make the issue.

    Which entries make it is known only once every feed is in, so an entry's
    requests start when it ranks among the newest `max_stories` seen so far;
    those that a later feed pushes out are cancelled by `keep_only`.
    """

    def __init__(
        self,
        config: Config,
        now: datetime,
        start: Callable[[Entry], Awaitable[tuple[Article, CommentThread]]],
    ) -> None:
        self._config = config
        self._now = now
        self._start = start
        self._best: list[Entry] = []
        self._keys: set[str] = set()
        self._tasks: dict[tuple[str, str], asyncio.Task[tuple[Article, CommentThread]]] = {}

    def offer(self, entries: Sequence[Entry], seen: set[str]) -> None:
        new = [
            e
            for e in entries
            if e.key not in seen
            and e.key not in self._keys
            and is_recent(e, self._config, self._now)
        ]
        if not new:
            return
        self._keys.update(e.key for e in new)
        ranked = sorted([*self._best, *new], key=functools.partial(newest_first, now=self._now))
        self._best = ranked[: self._config.newsletter.max_stories]
        for entry in self._best:
            slot = (entry.feed_url, entry.key)
            if slot not in self._tasks:
                task = asyncio.ensure_future(self._start(entry))
                task.add_done_callback(_retrieved)
                self._tasks[slot] = task

    def take(self, entry: Entry) -> Awaitable[tuple[Article, CommentThread]]:
        task = self._tasks.pop((entry.feed_url, entry.key), None)
        return task if task is not None else self._start(entry)

    def keep_only(self, entries: Sequence[Entry]) -> None:
        keep = {(e.feed_url, e.key) for e in entries}
        for slot in [s for s in self._tasks if s not in keep]:
            self._tasks.pop(slot).cancel()

    def cancel_all(self) -> None:
        self.keep_only(())


def _retrieved(task: asyncio.Future[tuple[Article, CommentThread]]) -> None:
    # A story left out may have failed: its error is not news, and the story that
    # awaits a kept task still gets the exception.
    if not task.cancelled():
        task.exception()
