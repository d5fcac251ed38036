"""The SQLite file that outlives a run, and every SQL statement digest runs.

It keeps HTTP validators and the parsed entries of each feed, the stories
sent, cached summaries, the subscriber list with each change of state, the
per-(issue, subscriber) send log and the scheduler's memory. Only this module
talks to the database; `schema.py` holds the migrations, `codecs.py` turns
rows into records, `failures.py` turns sqlite3 errors into one line.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from digest.errors import DigestError, StateError
from digest.models import Entry, Fetched, Subscriber, Validators
from digest.store import codecs
from digest.store.codecs import (
    ENTRIES_FORMAT,
    SUBSCRIBER,
    SUBSCRIBER_S,
    entry_from,
    entry_row,
    subscriber_from,
)
from digest.store.failures import one_line_errors, state_error
from digest.store.schema import MIGRATIONS


@one_line_errors
class State:
    """One connection to the state file; use as a context manager."""

    busy_timeout = 30.0  # seconds to wait for another process's write before giving up

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if path != ":memory:" else None
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), timeout=self.busy_timeout, isolation_level=None)
            self._retry_locked(lambda: self.db.execute("PRAGMA journal_mode=WAL"))
            # In WAL mode NORMAL loses no committed data on a crash, only the last
            # transactions on power loss, and costs no fsync per commit.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._retry_locked(self._migrate)
        except sqlite3.Error as e:
            raise state_error(path, e) from None
        except OSError as e:
            raise StateError(f"state file {path}: {e.strerror or e}") from None

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        (version,) = self.db.execute("PRAGMA user_version").fetchone()
        if version == len(MIGRATIONS):
            return
        # The version is read again under the write lock: two processes opening a
        # new file at once would otherwise both create its tables.
        with self.transaction():
            (version,) = self.db.execute("PRAGMA user_version").fetchone()
            if version > len(MIGRATIONS):
                raise DigestError(
                    f"state file {self.path} was written by a newer digest (schema {version})"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

    def _retry_locked(self, action: Callable[[], object]) -> None:
        """Run `action`, again while another process holds the file (WAL setup skips the
        busy handler), for up to `busy_timeout` seconds."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                action()
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise state_error(self.path or ":memory:", e) from None
        try:
            yield
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as e:
            raise state_error(self.path or ":memory:", e) from None

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
                codecs.now(),
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
            return data["title"], [entry_from(e) for e in data["entries"]]
        except (ValueError, KeyError, TypeError):
            return None  # written by another version: fetch the feed again

    def remember_feed(self, fetched: Fetched, title: str | None, entries: Iterable[Entry]) -> None:
        """The validators of a full response and what it parsed to (not its body)."""
        self.remember_response(replace(fetched, content=b""))
        data = {
            "format": ENTRIES_FORMAT,
            "title": title,
            "entries": [entry_row(e) for e in entries],
        }
        self.db.execute(
            "INSERT OR REPLACE INTO parsed_feeds (url, entries, parsed_at) VALUES (?, ?, ?)",
            (fetched.url, json.dumps(data, ensure_ascii=False), codecs.now()),
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
        now = codecs.now()
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

    def remember_summaries(self, summaries: Iterable[tuple[str, Iterable[str]]]) -> None:
        now = codecs.now()
        self.db.executemany(
            "INSERT OR REPLACE INTO summaries (hash, sentences, created_at) VALUES (?, ?, ?)",
            [(key, json.dumps(list(sentences)), now) for key, sentences in summaries],
        )

    # Subscribers ---------------------------------------------------------------

    def subscriber(self, key: int | str) -> Subscriber | None:
        """A subscriber by id or by address (any case)."""
        column = "id" if isinstance(key, int) else "email"
        found = self.db.execute(
            f"SELECT {SUBSCRIBER} FROM subscribers WHERE {column} = ?", (key,)
        ).fetchone()
        return subscriber_from(found) if found else None

    def subscribers(
        self, *, include_unsubscribed: bool = False, status: str | None = None
    ) -> list[Subscriber]:
        """Subscribers in the order they joined: active ones, all, or those in `status`."""
        if status is None and not include_unsubscribed:
            status = "active"
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        rows = self.db.execute(f"SELECT {SUBSCRIBER} FROM subscribers {where} ORDER BY id", args)
        return [subscriber_from(row) for row in rows]

    def insert_subscriber(
        self, email: str, name: str, status: str, cause: str = "added by the operator",
        preferences: str = "{}",
    ) -> int:  # fmt: skip
        now = codecs.now()
        cursor = self.db.execute(
            "INSERT INTO subscribers (email, name, status, subscribed_at, status_at, cause,"
            " preferences) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (email, name, status, now, now, cause, preferences),
        )
        assert cursor.lastrowid is not None
        self._event(cursor.lastrowid, status, cause, now)
        return cursor.lastrowid

    def reactivate_subscriber(
        self, subscriber_id: int, name: str, cause: str = "added again by the operator"
    ) -> None:
        """Active again; the name is kept unless a new one is given."""
        self.db.execute(
            "UPDATE subscribers SET name = CASE WHEN ? = '' THEN name ELSE ? END WHERE id = ?",
            (name, name, subscriber_id),
        )
        self.set_status(subscriber_id, "active", cause)

    def unsubscribe(self, subscriber_id: int, cause: str = "removed by the operator") -> None:
        """Unsubscribed from now on; the first time of leaving is kept."""
        self.set_status(subscriber_id, "unsubscribed", cause)

    def set_status(self, subscriber_id: int, status: str, cause: str) -> None:
        """Move a reader to `status`, logging when and why (an active reader rejoins whole)."""
        now = codecs.now()
        self.db.execute(
            "UPDATE subscribers SET status = ?, status_at = ?, cause = ?,"
            " unsubscribed_at = CASE WHEN ? = 'active' THEN NULL"
            "  WHEN ? = 'unsubscribed' THEN COALESCE(unsubscribed_at, ?) ELSE unsubscribed_at END,"
            " soft_bounces = CASE WHEN ? = 'active' THEN 0 ELSE soft_bounces END WHERE id = ?",
            (status, now, cause[:300], status, status, now, status, subscriber_id),
        )
        self._event(subscriber_id, status, cause, now)

    def _event(self, subscriber_id: int, status: str, cause: str, at: str) -> None:
        self.db.execute(
            "INSERT INTO subscriber_events (subscriber_id, at, status, cause) VALUES (?, ?, ?, ?)",
            (subscriber_id, at, status, cause[:300]),
        )

    def subscriber_events(self, subscriber_id: int | None = None) -> list[tuple[str, ...]]:
        """(time, status, cause[, email]) of every change of one reader (or all), oldest first."""
        if subscriber_id is not None:
            return self.db.execute(
                "SELECT at, status, cause FROM subscriber_events WHERE subscriber_id = ?"
                " ORDER BY id", (subscriber_id,),
            ).fetchall()  # fmt: skip
        return self.db.execute(
            "SELECT e.at, e.status, e.cause, s.email FROM subscriber_events e"
            " JOIN subscribers s ON s.id = e.subscriber_id ORDER BY e.id"
        ).fetchall()

    def update_subscriber(self, subscriber_id: int, name: str, preferences: str) -> None:
        self.db.execute(
            "UPDATE subscribers SET name = ?, preferences = ? WHERE id = ?",
            (name, preferences, subscriber_id),
        )

    def soft_bounce(self, subscriber_id: int) -> int:
        """Count one more soft bounce; returns the count."""
        row = self.db.execute(
            "UPDATE subscribers SET soft_bounces = soft_bounces + 1 WHERE id = ?"
            " RETURNING soft_bounces",
            (subscriber_id,),
        ).fetchone()
        return int(row[0]) if row else 0

    def first_reading(self, key: str) -> bool:
        """Remember a bounce report by key; False when it was read before."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO bounce_reports (key, read_at) VALUES (?, ?)", (key, codecs.now())
        )
        return cursor.rowcount == 1

    # Send log -----------------------------------------------------------------

    def mark_sending(self, issue_id: str, subscriber_id: int, status: str) -> None:
        """Claim one pair before its message goes out (attempts counted)."""
        self.db.execute(
            "INSERT INTO send_log (issue_id, subscriber_id, status, attempts, updated_at)"
            " VALUES (?, ?, ?, 1, ?) ON CONFLICT (issue_id, subscriber_id) DO UPDATE"
            " SET status = excluded.status, attempts = attempts + 1,"
            " updated_at = excluded.updated_at",
            (issue_id, subscriber_id, status, codecs.now()),
        )

    def record_outcome(self, issue_id: str, subscriber_id: int, status: str, detail: str) -> None:
        self.db.execute(
            "UPDATE send_log SET status = ?, detail = ?, updated_at = ?"
            " WHERE issue_id = ? AND subscriber_id = ?",
            (status, detail[:500], codecs.now(), issue_id, subscriber_id),
        )

    def send_log(self, issue_id: str) -> dict[str, str]:
        """Address → status of every send-log row for `issue_id`."""
        rows = self.db.execute(
            "SELECT s.email, l.status FROM send_log l"
            " JOIN subscribers s ON s.id = l.subscriber_id WHERE l.issue_id = ?",
            (issue_id,),
        )
        return {email: status for email, status in rows}

    # Scheduler -----------------------------------------------------------------

    def schedule_value(self, key: str) -> str | None:
        found = self.db.execute("SELECT value FROM schedule_state WHERE key = ?", (key,)).fetchone()
        return str(found[0]) if found and found[0] is not None else None

    def set_schedule_value(self, key: str, value: str | None) -> None:
        self.db.execute(
            "INSERT INTO schedule_state (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def send_queue(self, issue_id: str) -> list[tuple[Subscriber, str | None, str | None]]:
        """Every active subscriber with their send-log status and next_attempt_at."""
        rows = self.db.execute(
            f"SELECT {SUBSCRIBER_S}, l.status, l.next_attempt_at FROM subscribers s"
            " LEFT JOIN send_log l ON l.subscriber_id = s.id AND l.issue_id = ?"
            " WHERE s.status = 'active' ORDER BY s.id",
            (issue_id,),
        ).fetchall()
        return [(subscriber_from(row[:-2]), row[-2], row[-1]) for row in rows]

    def delivery_state(
        self, issue_id: str, subscriber_id: int
    ) -> tuple[str, str | None, str | None, str | None] | None:
        """(subscriber status, send-log status, next_attempt_at, deferred_since) of one pair."""
        row = self.db.execute(
            "SELECT s.status, l.status, l.next_attempt_at, l.deferred_since FROM subscribers s"
            " LEFT JOIN send_log l ON l.subscriber_id = s.id AND l.issue_id = ?"
            " WHERE s.id = ?",
            (issue_id, subscriber_id),
        ).fetchone()
        return (row[0], row[1], row[2], row[3]) if row else None

    def record_deferral(
        self,
        issue_id: str,
        subscriber_id: int,
        detail: str,
        next_attempt_at: str | None,
        deferred_since: str | None,
    ) -> None:
        """`deferred` until `next_attempt_at` (None: due at once); `deferred_since` is kept."""
        self.db.execute(
            "UPDATE send_log SET status = 'deferred', detail = ?, updated_at = ?,"
            " next_attempt_at = ?, deferred_since = COALESCE(deferred_since, ?)"
            " WHERE issue_id = ? AND subscriber_id = ?",
            (detail[:500], codecs.now(), next_attempt_at, deferred_since, issue_id, subscriber_id),
        )

    def recorded_issues(self) -> set[str]:
        """Ids of the issues whose stories are recorded."""
        return {row[0] for row in self.db.execute("SELECT DISTINCT issue_id FROM stories")}
