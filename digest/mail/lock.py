"""One sender and one builder at a time per state file: kernel locks dying with their holder."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from digest.errors import LockedError


@contextmanager
def send_lock(state_path: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold `<state file>.lock` (flock) while sending; LockedError if another holds it.

    The kernel drops the lock when its holder dies, kill -9 included, so a
    crash never leaves a stale lock behind.
    """
    with _flock(state_path, ".lock", wait, "digest send or schedule"):
        yield


@contextmanager
def build_lock(state_path: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold `<state file>.build.lock` from choosing an issue id to recording its stories.

    Two builds on one state would pick the same id, replace each other's
    folder and lose the stories of the first.
    """
    with _flock(state_path, ".build.lock", wait, "digest build or schedule"):
        yield


@contextmanager
def _flock(state_path: Path, suffix: str, wait: float, who: str) -> Iterator[None]:
    path = state_path.with_name(state_path.name + suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held until exit)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "?"
                    raise LockedError(
                        f"another {who} (pid {holder}) is using {path.name};"
                        " wait for it to finish (or use --wait SECONDS)"
                    ) from None
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()
