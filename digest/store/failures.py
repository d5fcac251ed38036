"""Database errors of the state turned into one line saying what to do (StateError)."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from digest.errors import StateError
from digest.store.engine import database_errors

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C")


def state_error(where: object, e: Exception) -> StateError:
    """One line saying what is wrong with the state and what to do about it."""
    text = " ".join(str(e).split())
    if not isinstance(e, sqlite3.Error):
        return StateError(f"state database {where}: {text or type(e).__name__}")
    if "locked" in text or "busy" in text:
        return StateError(
            f"state file {where} is locked by another digest process ({text});"
            " try again when it has finished"
        )
    if isinstance(e, sqlite3.DatabaseError) and (
        "not a database" in text or "malformed" in text or "corrupt" in text
    ):
        return StateError(
            f"state file {where} is damaged ({text}); restore it from a backup,"
            " or move it away to start afresh (every story would count as new)"
        )
    return StateError(f"state file {where}: {text}")


def _wrapped(method: F) -> F:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except database_errors() as e:
            raise state_error(self.where, e) from None

    return call  # type: ignore[return-value]


def one_line_errors(cls: type[C]) -> type[C]:
    """Every public method raises StateError, never a bare database error."""
    for name, value in list(vars(cls).items()):
        if callable(value) and not name.startswith("_") and name not in ("transaction", "lock"):
            setattr(cls, name, _wrapped(value))
    return cls
