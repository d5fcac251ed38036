"""The SQLite file that outlives a run: HTTP validators, stories sent, summaries.

Schema changes are appended to `MIGRATIONS` and never edited, so an old state
file is upgraded in place (`PRAGMA user_version` counts the ones applied).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from digest.errors import DigestError
from digest.models import Entry, Fetched, Validators

MIGRATIONS: list[str] = [
    """
    CREATE TABLE http_cache (
        url TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        final_url TEXT,
        content_type TEXT,
        body BLOB,
        fetched_at TEXT NOT NULL
    );
    CREATE TABLE stories (
        key TEXT PRIMARY KEY,
        issue_id TEXT NOT NULL,
        title TEXT NOT NULL,
        url TEXT NOT NULL,
        included_at TEXT NOT NULL
    );
    CREATE INDEX stories_issue ON stories (issue_id);
    CREATE TABLE summaries (
        hash TEXT PRIMARY KEY,
        sentences TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # Subscribers, the per-(issue, subscriber) send log, and the scheduler's memory.
    """
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active',
        subscribed_at TEXT NOT NULL,
        unsubscribed_at TEXT
    );
    CREATE TABLE send_log (
        issue_id TEXT NOT NULL,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        detail TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (issue_id, subscriber_id)
    );
    CREATE TABLE schedule_state (
        key TEXT PRIMARY KEY,
        value TEXT
    );
    """,
    # A feed's entries as parsed last time, so a 304 costs no parsing at all.
    """
    CREATE TABLE parsed_feeds (
        url TEXT PRIMARY KEY,
        entries TEXT NOT NULL,
        parsed_at TEXT NOT NULL
    );
    """,
]
ENTRIES_FORMAT = 1
"""Version of the JSON in `parsed_feeds`; another version reads as absent (a full fetch)."""


class State:
    """One connection to the state file; use as a context manager."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if path != ":memory:" else None
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL loses no committed data on a crash, only the last
            # transactions on power loss, and costs no fsync per commit.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.Error as e:
            raise DigestError(f"state file {path}: {e}") from e

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        (version,) = self.db.execute("PRAGMA user_version").fetchone()
        if version > len(MIGRATIONS):
            raise DigestError(
                f"state file {self.path} was written by a newer digest (schema {version})"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in filter(str.strip, script.split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # HTTP cache -------------------------------------------------------------

    def validators(self, url: str) -> Validators | None:
        row = self.db.execute(
            "SELECT etag, last_modified FROM http_cache WHERE url = ?", (url,)
        ).fetchone()
        return Validators(etag=row[0], last_modified=row[1]) if row else None

    def cached_response(self, url: str) -> Fetched | None:
        """The last full response for `url`, to reparse when the server says 304."""
        row = self.db.execute(
            "SELECT final_url, content_type, body, etag, last_modified FROM http_cache"
            " WHERE url = ? AND body IS NOT NULL",
            (url,),
        ).fetchone()
        if not row:
            return None
        return Fetched(
            url=url,
            final_url=row[0],
            content_type=row[1],
            content=row[2],
            validators=Validators(etag=row[3], last_modified=row[4]),
        )

    def remember_response(self, fetched: Fetched) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO http_cache"
            " (url, etag, last_modified, final_url, content_type, body, fetched_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                fetched.url,
                fetched.validators.etag,
                fetched.validators.last_modified,
                fetched.final_url,
                fetched.content_type,
                fetched.content or None,
                _now(),
            ),
        )

    def parsed_feed(self, url: str) -> tuple[str | None, list[Entry]] | None:
        """The feed title and entries parsed from the last full response, for a 304."""
        row = self.db.execute("SELECT entries FROM parsed_feeds WHERE url = ?", (url,)).fetchone()
        if not row:
            return None
        try:
            data = json.loads(row[0])
            if data.get("format") != ENTRIES_FORMAT:
                return None
            return data["title"], [_entry(e) for e in data["entries"]]
        except (ValueError, KeyError, TypeError):
            return None  # written by another version: fetch the feed again

    def remember_feed(self, fetched: Fetched, title: str | None, entries: Iterable[Entry]) -> None:
        """The validators of a full response and what it parsed to (not its body)."""
        self.remember_response(replace(fetched, content=b""))
        data = {"format": ENTRIES_FORMAT, "title": title, "entries": [_row(e) for e in entries]}
        self.db.execute(
            "INSERT OR REPLACE INTO parsed_feeds (url, entries, parsed_at) VALUES (?, ?, ?)",
            (fetched.url, json.dumps(data, ensure_ascii=False), _now()),
        )

    # Stories ----------------------------------------------------------------

    def seen(self, keys: Iterable[str]) -> set[str]:
        """The subset of `keys` already put in an earlier issue."""
        keys = list(keys)
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT key FROM stories WHERE key IN ({marks})", chunk)
            found.update(row[0] for row in rows)
        return found

    def record_issue(self, issue_id: str, stories: Iterable[tuple[str, str, str]]) -> None:
        """Remember (key, title, url) of each story sent in `issue_id`."""
        now = _now()
        with self.transaction():
            self.db.executemany(
                "INSERT OR IGNORE INTO stories (key, issue_id, title, url, included_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(key, issue_id, title, url, now) for key, title, url in stories],
            )

    # Summaries ---------------------------------------------------------------

    def summary(self, content_hash: str) -> tuple[str, ...] | None:
        row = self.db.execute(
            "SELECT sentences FROM summaries WHERE hash = ?", (content_hash,)
        ).fetchone()
        return tuple(json.loads(row[0])) if row else None

    def remember_summary(self, content_hash: str, sentences: Iterable[str]) -> None:
        self.remember_summaries([(content_hash, sentences)])

    def remember_summaries(self, summaries: Iterable[tuple[str, Iterable[str]]]) -> None:
        now = _now()
        self.db.executemany(
            "INSERT OR REPLACE INTO summaries (hash, sentences, created_at) VALUES (?, ?, ?)",
            [(key, json.dumps(list(sentences)), now) for key, sentences in summaries],
        )


_ENTRY_FIELDS = tuple(f.name for f in fields(Entry))


def _row(entry: Entry) -> dict[str, object]:
    # Not dataclasses.asdict: it deep-copies every value, several times slower.
    row = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
    row["published"] = entry.published.isoformat() if entry.published else None
    return row


def _entry(row: dict[str, Any]) -> Entry:
    published = row.pop("published")
    return Entry(**row, published=datetime.fromisoformat(published) if published else None)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
