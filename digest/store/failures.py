"""sqlite3 errors of the state file turned into one line saying what to do (StateError)."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from digest.errors import StateError

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C")


def state_error(path: object, e: sqlite3.Error) -> StateError:
    """One line saying what is wrong with the state file and what to do about it."""
    text = str(e)
    if "locked" in text or "busy" in text:
        return StateError(
            f"state file {path} is locked by another digest process ({text});"
            " try again when it has finished"
        )
    if isinstance(e, sqlite3.DatabaseError) and (
        "not a database" in text or "malformed" in text or "corrupt" in text
    ):
        return StateError(
            f"state file {path} is damaged ({text}); restore it from a backup,"
            " or move it away to start afresh (every story would count as new)"
        )
    return StateError(f"state file {path}: {text}")


def _wrapped(method: F) -> F:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as e:
            raise state_error(self.path or ":memory:", e) from None

    return call  # type: ignore[return-value]


def one_line_errors(cls: type[C]) -> type[C]:
    """Every public method raises StateError, never a bare sqlite3 error."""
    for name, value in list(vars(cls).items()):
        if callable(value) and not name.startswith("_") and name != "transaction":
            setattr(cls, name, _wrapped(value))
    return cls
