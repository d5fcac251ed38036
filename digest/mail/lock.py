"""One sender at a time per state file: a kernel lock that dies with its holder."""

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
    path = state_path.with_name(state_path.name + ".lock")
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
                        f"another digest send or schedule (pid {holder}) is using {path.name};"
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
