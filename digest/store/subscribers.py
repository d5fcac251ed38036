"""The subscriber list's queries: readers, each change of their state, bulk import."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from digest.models import Subscriber
from digest.store import codecs
from digest.store.codecs import SUBSCRIBER, subscriber_from
from digest.store.connection import Connection
from digest.store.failures import one_line_errors


@one_line_errors
class SubscriberQueries(Connection):
    def subscriber(self, key: int | str) -> Subscriber | None:
        """A subscriber by id or by address (any case)."""
        where = "id = ?" if isinstance(key, int) else "{fold}(email) = {fold}(?)"
        found = self.db.execute(
            f"SELECT {SUBSCRIBER} FROM subscribers WHERE {where}", (key,)
        ).fetchone()
        return subscriber_from(found) if found else None

    def subscribers(
        self, *, include_unsubscribed: bool = False, status: str | None = None
    ) -> list[Subscriber]:
        """Subscribers in the order they joined: active ones, all, or those in `status`."""
        if status is None and not include_unsubscribed:
            status = "active"
        return list(self.each_subscriber(status))

    def each_subscriber(
        self, status: str | None = None, *, custom: bool = False, page: int = 5000
    ) -> Iterator[Subscriber]:
        """Subscribers in `status` (or all; with `custom` only those who chose preferences)
        by id, a page at a time: flat memory on any list."""
        where = "AND status = ?" if status else ""
        where += " AND preferences <> '{}'" if custom else ""
        after = 0
        while True:
            args = (after, status, page) if status else (after, page)
            rows = self.db.execute(
                f"SELECT {SUBSCRIBER} FROM subscribers WHERE id > ? {where} ORDER BY id LIMIT ?",
                args,
            ).fetchall()
            yield from map(subscriber_from, rows)
            if len(rows) < page:
                return
            after = rows[-1][0]

    def insert_subscriber(
        self, email: str, name: str, status: str, cause: str = "added by the operator",
        preferences: str = "{}",
    ) -> int:  # fmt: skip
        now = codecs.now()
        (new_id,) = self.db.execute(
            "INSERT INTO subscribers (email, name, status, subscribed_at, status_at, cause,"
            " preferences) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (email, name, status, now, now, cause, preferences),
        ).fetchone()
        self._event(new_id, status, cause, now)
        return int(new_id)

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
            "INSERT INTO bounce_reports (key, read_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (key, codecs.now()),
        )
        return cursor.rowcount == 1

    def import_rows(
        self, rows: Iterable[tuple[int, str, str]], left: tuple[str, ...], cause: str
    ) -> tuple[int, int, int]:
        """Add the (line, address, name) rows not yet on the list, streamed through a
        staging table (COPY on PostgreSQL); returns (added, already, left alone).

        Call inside a transaction. An address on the list twice counts once; one
        in a `left` state stays as it is.

        Rows go in in file order and the unique index turns away every later
        copy of an address (DO NOTHING also within one statement), so the first
        row of an address wins and ids follow the file, with no grouping pass
        over the staged rows.
        `WHERE true` keeps SQLite from reading ON CONFLICT as a join's ON.
        """
        self.db.execute("DROP TABLE IF EXISTS import_rows")
        self.db.execute("CREATE TEMPORARY TABLE import_rows (line INTEGER, email TEXT, name TEXT)")
        staged = self.db.copy_rows("import_rows", ("line", "email", "name"), rows)
        marks = ", ".join("?" * len(left))
        (kept,) = self.db.execute(
            "SELECT count(*) FROM import_rows t JOIN subscribers s"
            " ON {fold}(s.email) = {fold}(t.email)"
            f" WHERE s.status IN ({marks})",
            left,
        ).fetchone()
        (watermark,) = self.db.execute("SELECT COALESCE(max(id), 0) FROM subscribers").fetchone()
        now = codecs.now()
        added = self.db.execute(
            "INSERT INTO subscribers (email, name, status, subscribed_at, status_at, cause,"
            " preferences) SELECT email, name, 'active', ?, ?, ?, '{}' FROM import_rows"
            " WHERE true ORDER BY line ON CONFLICT DO NOTHING",
            (now, now, cause),
        ).rowcount
        self.db.execute(
            "INSERT INTO subscriber_events (subscriber_id, at, status, cause)"
            " SELECT id, ?, 'active', ? FROM subscribers"
            " WHERE id > ? AND subscribed_at = ? AND cause = ? ORDER BY id",
            (now, cause, watermark, now, cause),
        )
        self.db.execute("DROP TABLE import_rows")
        return added, staged - added - int(kept), int(kept)

    def hit(self, name: str, key: str, limit: int, window: float) -> bool:
        """Count one request of `key` under the limit `name` (at most `limit` in any
        `window` seconds, for every process on the state); False, uncounted, when over."""
        with self.transaction():
            self.db.serialise(f"hits {name}")
            self.db.execute(
                "DELETE FROM request_hits WHERE name = ? AND at < {epoch} - ?", (name, window)
            )
            (count,) = self.db.execute(
                "SELECT count(*) FROM request_hits WHERE name = ? AND key = ?", (name, key)
            ).fetchone()
            if count >= limit:
                return False
            self.db.execute(
                "INSERT INTO request_hits (name, key, at) VALUES (?, ?, {epoch})", (name, key)
            )
            return True
