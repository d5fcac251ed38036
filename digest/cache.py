"""The user's cache folder, for data derived from installed packages at first use.

Two models ship in compressed or pickled forms that take a second or more to
load (the language identifier's, the abuse filter's); their arrays are kept
here uncompressed, so later builds load them in milliseconds. Deleting the
folder only costs the next build that second again.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


def directory() -> Path:
    """`$XDG_CACHE_HOME/digest`, else `~/.cache/digest`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "digest"


def load_arrays(name: str) -> dict[str, Any] | None:
    """The arrays saved under `name`, or None when absent or unreadable."""
    try:
        with np.load(directory() / name, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, KeyError):
        return None


def save_arrays(name: str, arrays: dict[str, Any]) -> None:
    """Save atomically; a read-only home only costs the next build the slow load again."""
    path = directory() / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(temporary, **arrays)
        os.replace(temporary, path)
    except OSError as e:
        logger.debug("cannot cache %s in %s: %s", name, path.parent, e)
