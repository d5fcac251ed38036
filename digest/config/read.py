"""Read config.toml's tables into settings dataclasses, collecting every problem with its line.

tomllib gives values without lines, so `Locator` finds each key's line in the
text. A value is checked against its field's annotation here, then by
`checks.py`; a table's settings keep the values that passed and defaults
for the rest, so `rules.py` still checks the keys that were fine. Nothing
is raised until the whole file is read: `Reader.fail` lists every problem.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from typing import Any, Literal

from digest.config import checks as config_checks
from digest.config.rules import RULES, Resolve
from digest.errors import ConfigError


@dataclass(frozen=True)
class Problem:
    line: int | None
    text: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.text}" if self.line else self.text


class Reader:
    """Turns TOML tables into settings, noting each problem and each key that failed."""

    def __init__(self, text: str, aliases: dict[str, str]) -> None:
        self.locate = Locator(text)
        self.aliases = aliases  # TOML key -> field name ("from" -> "sender")
        self.problems: list[Problem] = []
        self.failed: dict[str, set[str]] = {}  # table label ("feeds[1]") -> fields that failed

    def unknown(self, key: str) -> None:
        self.problems.append(Problem(self.locate.line(None, key), f"unknown key '{key}'"))

    def table(self, name: str, cls: type, value: Any) -> Any:
        """A `[name]` table's settings, or None when it is not a table."""
        if not isinstance(value, dict):
            line = self.locate.line(None, name)
            self.problems.append(Problem(line, f"'{name}' must be a table [{name}]"))
            return None
        return self._read(name, name, cls, value)

    def array(self, name: str, cls: type, value: Any) -> list[Any]:
        """The settings of each `[[name]]` table."""
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            line = self.locate.line(None, name)
            self.problems.append(Problem(line, f"'{name}' must be an array of tables [[{name}]]"))
            return []
        return [self._read(name, f"{name}[{i}]", cls, t, i) for i, t in enumerate(value)]

    def _read(
        self, header: str, label: str, cls: type, table: dict[str, Any], index: int | None = None
    ) -> Any:
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for raw_key, value in table.items():
            key = self.aliases.get(raw_key, raw_key)
            if key not in hints or key.startswith("_"):
                self._add(header, raw_key, index, f"unknown key '{label}.{raw_key}'")
                continue
            error = _type_error(hints[key], value)
            if error is None:
                try:
                    value = config_checks.check_value(f"{header}.{raw_key}", value)
                    if isinstance(value, list):
                        value = tuple(value)
                    elif hints[key] is float:
                        value = float(value)
                    values[key] = value
                    continue
                except ValueError as e:
                    error = str(e)
            self._add(header, raw_key, index, f"{label}.{raw_key} = {_shown(value)} {error}")
            self.failed.setdefault(label, set()).add(key)
        for field in dataclasses.fields(cls):
            required = dataclasses.MISSING is field.default and dataclasses.MISSING is (
                field.default_factory
            )
            if not required or field.name in values:
                continue
            if field.name not in table:  # (a value that failed is reported already)
                self._add(header, None, index, f"{label}.{field.name} is required")
            values[field.name] = ""  # a stand-in: a config with problems is never returned
            self.failed.setdefault(label, set()).add(field.name)
        return cls(**values)

    def _add(self, header: str, key: str | None, index: int | None, text: str) -> None:
        """Note a problem at the line of `key` (of the table's header when None)."""
        self.problems.append(Problem(self.locate.line(header, key, index), text))

    def check_rules(self, config: Any, resolve: Resolve) -> None:
        """Run each rule on its tables, unless a key it reads already failed its own check."""
        for rule in RULES:
            settings = getattr(config, rule.table)
            tables: list[tuple[str, int | None, Any]] = [(rule.table, None, settings)]
            if isinstance(settings, tuple):
                tables = [(f"{rule.table}[{i}]", i, s) for i, s in enumerate(settings)]
            for label, index, each in tables:
                if self.failed.get(label, set()) & set(rule.reads):
                    continue
                problem = rule.check(each, resolve)
                if problem:
                    toml_keys = {v: k for k, v in self.aliases.items()}
                    keys = [toml_keys.get(k, k) for k in reversed(rule.reads)]
                    lines = (self.locate.line(rule.table, k, index) for k in [*keys, None])
                    line = next((n for n in lines if n), None)
                    self.problems.append(Problem(line, f"{label}: {problem}"))

    def fail(self, name: str) -> None:
        """Raise one ConfigError listing every problem in file order, one per line."""
        if not self.problems:
            return
        ordered = sorted(self.problems, key=lambda p: p.line or 1 << 30)
        if len(ordered) == 1:
            raise ConfigError(f"{name}: {ordered[0]}")
        lines = "".join(f"\n  {p}" for p in ordered)
        raise ConfigError(f"{name} has {len(ordered)} problems:{lines}")


def _type_error(expected: Any, value: Any) -> str | None:
    """Why `value` is not of the field's annotated type, or None."""
    if typing.get_origin(expected) is tuple:  # a list of strings in the file
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return None
        return "must be a list of strings"
    if typing.get_origin(expected) is Literal:
        choices = typing.get_args(expected)
        if value not in choices:
            return f"must be one of {', '.join(repr(c) for c in choices)}"
        return None
    if expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, expected)
    if not ok:
        return f"must be {_TYPE_NAMES.get(expected, str(expected))}, not {type(value).__name__}"
    return None


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _shown(value: Any) -> str:
    """The value as written, cut short for a message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


class Locator:
    """The line of each key and table header in the TOML text (tomllib gives none), indexed once."""

    _HEADER = re.compile(r"^\s*\[(\[)?\s*([A-Za-z0-9_.\-]+)\s*\]")
    _KEY = re.compile(r"^\s*[\"']?([A-Za-z0-9_\-]+)[\"']?\s*=")

    def __init__(self, text: str) -> None:
        # (table or None at the top, its n-th occurrence, key or None for the header) -> line
        self.lines: dict[tuple[str | None, int, str | None], int] = {}
        self.count: dict[str | None, int] = {None: 1}
        current: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                current = header.group(2)
                self.count[current] = self.count.get(current, 0) + 1
                self.lines.setdefault((current, self.count[current] - 1, None), number)
                self.lines.setdefault((None, 0, current), number)  # "'feeds' must be …"
                continue
            key = self._KEY.match(line)
            if key:
                where = (current, self.count[current] - 1, key.group(1))
                self.lines.setdefault(where, number)

    def line(self, section: str | None, key: str | None, index: int | None = None) -> int | None:
        """Line of `key` in the table (its `index`-th [[table]]), or of the header for None."""
        tries = [index] if index is not None else range(self.count.get(section, 0))
        return next((self.lines[k] for i in tries if (k := (section, i, key)) in self.lines), None)
