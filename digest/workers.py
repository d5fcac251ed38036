"""CPU-bound work of one build (parsing, extraction, summaries, comments) off the event loop.

Parsing and summarising hold the interpreter lock: in threads they would run on
one core and keep the event loop from answering the network. A build with
enough feeds runs them in a process pool instead, started (and warmed: the
heavy modules imported, the abuse model loaded) while the first requests are
in flight. Small builds run them in threads: a pool's start-up would cost more
than it saves. Workers send their log records to the building process.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import logging.handlers
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
R = TypeVar("R")

MAX_PROCESSES = 4
"""More processes than this buy little for one issue and cost memory."""
POOL_MIN_FEEDS = 8
"""Below this many feeds the work is done in threads: a pool would not pay for itself."""
_PRELOAD = [
    "digest.collect.feeds",
    "digest.comments",
    "digest.comments.sources.wordpress",
    "digest.text.extract",
    "digest.text.summarise",
]


def processes_for(feeds: int) -> int:
    """How many worker processes a build over `feeds` feeds gets (0: threads)."""
    if feeds < POOL_MIN_FEEDS:
        return 0
    return max(1, min(os.cpu_count() or 1, MAX_PROCESSES))


class Workers:
    """Run functions in the pool (or in threads when `processes` is 0); use as a context."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._listener: logging.handlers.QueueListener | None = None
        if processes <= 0:
            return
        # forkserver: workers start from a clean, preloaded process, never from a copy
        # of this one with its threads (fork) and without re-importing everything (spawn).
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else None
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            context.set_forkserver_preload(_PRELOAD)
        root = logging.getLogger()
        records = context.Queue()
        self._listener = logging.handlers.QueueListener(
            records, *root.handlers, respect_handler_level=True
        )
        self._listener.start()
        self._pool = ProcessPoolExecutor(
            processes, context, initializer=_warm, initargs=(records, root.level)
        )
        for _ in range(processes):  # start every worker now, while the network is busy
            self._pool.submit(_ready)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    async def run(self, function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """`function(*args, **kwargs)` in a worker; its exception is raised here."""
        call = functools.partial(function, *args, **kwargs)
        if self._pool is None:
            return await asyncio.to_thread(call)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)


def _warm(records: Any, level: int) -> None:
    """Worker start-up: log through the parent, import the stages, load the abuse model."""
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(records)]
    root.setLevel(level)
    for noisy in ("trafilatura", "cssutils", "htmldate", "courlan", "readability"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    import digest.text.extract  # noqa: F401  (already loaded under forkserver)
    from digest.comments import filters

    filters.warm()


def _ready() -> None:
    """A no-op task: submitting one per worker makes the pool start them all."""
