"""Per-item isolation, a rule of the whole pipeline: one bad item costs only itself.

Feeds, pages, threads and comments come from strangers. Whatever goes wrong
while handling one entry, page, thread or comment (a bug, a library crash, a
value no parser expected) drops that item, becomes one warning line naming
its URL, and the build goes on. Text that crosses into the output is made
valid first: lone surrogates (from JSON escapes) become U+FFFD.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def valid_text(text: str) -> str:
    """`text` with lone surrogates (which no encoder accepts) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def valid_json(value: Any) -> Any:
    """Decoded JSON with every string made valid text (keys included)."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, list):
        return [valid_json(v) for v in value]
    if isinstance(value, dict):
        return {valid_json(k): valid_json(v) for k, v in value.items()}
    return value


def repaired(value: T) -> T:
    """A frozen dataclass (or tuple, or string) with every string inside made valid text."""
    if isinstance(value, str):
        return valid_text(value)  # type: ignore[return-value]
    if isinstance(value, tuple):
        return tuple(repaired(v) for v in value)  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        changes = {k: repaired(v) for k, v in fields.items() if _holds_text(v)}
        return dataclasses.replace(value, **changes)
    return value


def _holds_text(value: object) -> bool:
    kind = dataclasses.is_dataclass(value) and not isinstance(value, type)
    return kind or isinstance(value, str | tuple)


def reason(error: BaseException) -> str:
    """One short line saying what went wrong, fit for a report."""
    text = valid_text(_CONTROL.sub(" ", str(error))).strip()
    name = type(error).__name__
    # The project's own errors already read as a reason; others say what they are.
    own = type(error).__module__ == "digest.errors"
    line = text if own and text else f"{name}: {text}" if text else name
    return line if len(line) <= 200 else line[:199] + "…"


def label(url: object, fallback: str = "(no URL)") -> str:
    """An item's URL as shown in a warning: valid, one line, not too long."""
    text = _CONTROL.sub("", valid_text(str(url or ""))).strip()
    if not text:
        return fallback
    return text if len(text) <= 300 else text[:299] + "…"


def each(
    items: Iterable[T],
    work: Callable[[T], R | None],
    where: Callable[[T], str],
    what: str,
) -> tuple[list[R], list[str]]:
    """`work` applied to every item, in order; a failing item is left out with a warning.

    `where` names the item (its URL) in the warning; `what` says what it is
    ("entry", "comment"). `work` returning None leaves the item out silently.
    """
    done: list[R] = []
    warnings: list[str] = []
    for item in items:
        try:
            result = work(item)
        except Exception as e:  # the rule: any failure costs only this item
            warnings.append(f"{_where(where, item)}: {what} left out: {reason(e)}")
            continue
        if result is not None:
            done.append(result)
    return done, warnings


def _where(where: Callable[[T], str], item: T) -> str:
    try:
        return label(where(item))
    except Exception:  # naming the item must not fail the rule itself
        return "(unnamed item)"
