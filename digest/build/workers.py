"""CPU-bound work of one build (parsing, extraction, summaries, comments) off the event loop.

Parsing and summarising hold the interpreter lock: in threads they would run on
one core and keep the event loop from answering the network. A build with
enough feeds runs them in a process pool instead, forked before the event loop
starts (so warm: the heavy modules are already imported) and loading the abuse
model while the first requests are in flight. Small builds run them in threads:
a pool would cost more than it saves.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import multiprocessing
import os
import sys
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
    """Run functions in the pool (or in threads when `processes` is 0); use as a context.

    Create it before the event loop starts: the workers are forked at once, so they
    begin with every module this process has imported (warm) and with no thread of
    the event loop's copied into them.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        if processes <= 0:
            return
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        root = logging.getLogger()
        self._pool = ProcessPoolExecutor(
            processes, context, initializer=_warm, initargs=(root.level,)
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

    async def run(self, function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """`function(*args, **kwargs)` in a worker; its exception is raised here."""
        call = functools.partial(function, *args, **kwargs)
        if self._pool is None:
            return await asyncio.to_thread(call)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)


def _warm(level: int) -> None:
    """Worker start-up: plain stderr logging, the stages imported, the abuse model loaded."""
    # The parent's handlers may hold locks of its other threads (a progress display):
    # a worker logs through a handler of its own.
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(level)
    for module in _PRELOAD:
        importlib.import_module(module)
    from digest.comments import filters

    filters.warm()


def _ready() -> None:
    """A no-op task: submitting one per worker makes the pool start them all."""
