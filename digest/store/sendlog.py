"""The send log's queries: a row per (issue, reader), claimed in batches under a lease.

A run first writes a `pending` row for every reader the issue is owed to
(`enqueue`), then each worker claims a batch (`claim`): rows become
`claimed` by its owner until `lease_until`, taken with `FOR UPDATE SKIP
LOCKED` on PostgreSQL (inside a materialised CTE, so a batch is never larger
than asked) and under SQLite's one write lock. Just before a message goes
out its row becomes `sending` (`start`), then `sent`, `failed`, `deferred`
or `unknown`. Times of leases and of the shared rate limit are read from the
database's clock, so machines whose clocks differ still agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from digest.models import Subscriber
from digest.store import codecs
from digest.store.codecs import SUBSCRIBER, SUBSCRIBER_S, subscriber_from
from digest.store.connection import Connection
from digest.store.failures import one_line_errors

# Rows a claim may take, in the order they are taken: runs interrupted by a
# crash first, then readers whose deferral has come due, then the rest.
_DUE_FIRST = ("interrupted", "deferred", "pending")
_TAKE = (
    "WITH picked AS MATERIALIZED ("
    " SELECT l.subscriber_id FROM send_log l WHERE l.issue_id = ? AND l.status = ? {extra}"
    " AND EXISTS (SELECT 1 FROM subscribers s WHERE s.id = l.subscriber_id"
    "  AND s.status = 'active')"
    " ORDER BY l.subscriber_id LIMIT ? {skip_locked})"
    " UPDATE send_log SET claimed_from = status, status = 'claimed', lease_owner = ?,"
    " lease_until = {epoch} + ?, updated_at = ?"
    " WHERE issue_id = ? AND subscriber_id IN (SELECT subscriber_id FROM picked)"
    " RETURNING subscriber_id, claimed_from, deferred_since"
)


@one_line_errors
class SendLogQueries(Connection):
    def enqueue(self, issue_id: str, *, everyone: bool, ids: Iterable[int] = ()) -> None:
        """A `pending` row for each reader owed `issue_id` who has none yet: every active
        reader with default preferences when `everyone`, and the readers in `ids`."""
        now = codecs.now()
        if everyone:
            self.db.execute(
                "INSERT INTO send_log (issue_id, subscriber_id, status, attempts, updated_at)"
                " SELECT ?, id, 'pending', 0, ? FROM subscribers"
                " WHERE status = 'active' AND preferences = '{}'"
                " ON CONFLICT (issue_id, subscriber_id) DO NOTHING",
                (issue_id, now),
            )
        self.db.executemany(
            "INSERT INTO send_log (issue_id, subscriber_id, status, attempts, updated_at)"
            " VALUES (?, ?, 'pending', 0, ?) ON CONFLICT (issue_id, subscriber_id) DO NOTHING",
            ((issue_id, subscriber_id, now) for subscriber_id in ids),
        )

    def tally(
        self, issue_id: str, now: str, only: int | None = None
    ) -> list[tuple[str, int, str | None]]:
        """(status, rows, earliest next attempt) of the issue's rows for active readers;
        deferred rows not due at `now` count as "waiting"."""
        extra, args = ("AND l.subscriber_id = ?", (only,)) if only else ("", ())
        rows = self.db.execute(
            "SELECT CASE WHEN l.status = 'deferred' AND l.next_attempt_at > ? THEN 'waiting'"
            " ELSE l.status END AS state, count(*), min(l.next_attempt_at) FROM send_log l"
            " JOIN subscribers s ON s.id = l.subscriber_id"
            f" WHERE l.issue_id = ? AND s.status = 'active' {extra} GROUP BY state",
            (now, issue_id, *args),
        ).fetchall()
        return [(str(status), int(count), at) for status, count, at in rows]

    def due(
        self, issue_id: str, now: str, *, retry_unknown: bool = False, only: int | None = None
    ) -> Iterator[Subscriber]:
        """The active readers whose rows are due now, by id, a page at a time (not claimed)."""
        statuses = ("pending", "interrupted", *(("unknown",) if retry_unknown else ()))
        extra, args = ("AND s.id = ?", (only,)) if only else ("", ())
        after = 0
        while True:
            rows = self.db.execute(
                f"SELECT {SUBSCRIBER_S} FROM send_log l JOIN subscribers s"
                " ON s.id = l.subscriber_id WHERE l.issue_id = ? AND s.status = 'active'"
                f" AND s.id > ? {extra} AND (l.status IN ({', '.join('?' * len(statuses))})"
                " OR (l.status = 'deferred' AND COALESCE(l.next_attempt_at, '') <= ?))"
                " ORDER BY s.id LIMIT 1000",
                (issue_id, after, *args, *statuses, now),
            ).fetchall()
            yield from map(subscriber_from, rows)
            if len(rows) < 1000:
                return
            after = rows[-1][0]

    def claim(
        self,
        issue_id: str,
        owner: str,
        count: int,
        lease: float,
        now: str,
        *,
        retry_unknown: bool = False,
        only: int | None = None,
    ) -> list[tuple[Subscriber, str, str | None]]:
        """Take up to `count` due rows for `owner` for `lease` seconds: (reader, status the
        row had, time of its first 4xx) each, in one transaction."""
        claimed: list[tuple[int, str, str | None]] = []
        statuses = ("unknown", *_DUE_FIRST) if retry_unknown else _DUE_FIRST
        with self.transaction():
            for status in statuses:
                if len(claimed) == count:
                    break
                extra, args = "", list[object]([issue_id, status])
                if status == "deferred":
                    extra, args = "AND COALESCE(l.next_attempt_at, '') <= ?", [*args, now]
                if only is not None:
                    extra, args = f"{extra} AND l.subscriber_id = ?", [*args, only]
                rows = self.db.execute(
                    _TAKE.replace("{extra}", extra),
                    (*args, count - len(claimed), owner, lease, codecs.now(), issue_id),
                ).fetchall()
                claimed += [(int(r[0]), str(r[1]), r[2]) for r in rows]
            if not claimed:
                return []
            marks = ", ".join("?" * len(claimed))
            readers = {
                row[0]: subscriber_from(row)
                for row in self.db.execute(
                    f"SELECT {SUBSCRIBER} FROM subscribers WHERE id IN ({marks})",
                    [c[0] for c in claimed],
                )
            }
        return [(readers[i], was, since) for i, was, since in sorted(claimed) if i in readers]

    def start(self, issue_id: str, subscriber_id: int, owner: str, lease: float) -> bool:
        """Mark a claimed row `sending` just before its message goes out; False when the
        claim is no longer this owner's (its lease ran out) or the reader has left."""
        cursor = self.db.execute(
            "UPDATE send_log SET status = 'sending', attempts = attempts + 1,"
            " lease_until = {epoch} + ?, updated_at = ?"
            " WHERE issue_id = ? AND subscriber_id = ? AND status = 'claimed' AND lease_owner = ?"
            " AND EXISTS (SELECT 1 FROM subscribers s WHERE s.id = ? AND s.status = 'active')",
            (lease, codecs.now(), issue_id, subscriber_id, owner, subscriber_id),
        )
        return cursor.rowcount == 1

    def release(self, issue_id: str, owner: str) -> int:
        """Give back the rows `owner` claimed and did not start."""
        return self.db.execute(
            "UPDATE send_log SET status = claimed_from, lease_owner = NULL, lease_until = NULL"
            " WHERE issue_id = ? AND status = 'claimed' AND lease_owner = ?",
            (issue_id, owner),
        ).rowcount

    def lease_owners(self, issue_id: str) -> list[str]:
        """Owners of claimed or sending rows ("" for rows a run without leases left)."""
        rows = self.db.execute(
            "SELECT DISTINCT COALESCE(lease_owner, '') FROM send_log"
            " WHERE issue_id = ? AND status IN ('claimed', 'sending')",
            (issue_id,),
        )
        return [str(row[0]) for row in rows]

    def recover(self, issue_id: str, owner: str, gone: bool) -> tuple[int, int, int]:
        """Settle the leases of `owner`: all of them when it is `gone` (its process died),
        else only the expired ones. Returns (released, interrupted, unknown).

        Rows it had not started go back to what they were. Rows it was sending are
        `interrupted` (sent again, the one copy that may arrive twice) when it died,
        and `unknown` when its lease ran out while it may still be at work.
        """
        expired = "" if gone else " AND lease_until < {epoch}"
        mine = "issue_id = ? AND COALESCE(lease_owner, '') = ?" + expired
        with self.transaction():
            released = self.db.execute(
                "UPDATE send_log SET status = claimed_from, lease_owner = NULL,"
                f" lease_until = NULL WHERE status = 'claimed' AND {mine}",
                (issue_id, owner),
            ).rowcount
            settled = "interrupted" if gone else "unknown"
            detail = (
                "the sender died while sending: sent again"
                if gone
                else "its sender's lease ran out while sending: the relay may have it"
            )
            moved = self.db.execute(
                "UPDATE send_log SET status = ?, detail = ?, updated_at = ?, lease_owner = NULL,"
                f" lease_until = NULL WHERE status = 'sending' AND {mine}",
                (settled, detail, codecs.now(), issue_id, owner),
            ).rowcount
        return released, moved if gone else 0, 0 if gone else moved

    def record_outcome(
        self,
        issue_id: str,
        subscriber_id: int,
        status: str,
        detail: str,
        next_attempt_at: str | None = None,
        deferred_since: str | None = None,
    ) -> None:
        """The outcome of one message; a deferral keeps the time of its first 4xx."""
        self.db.execute(
            "UPDATE send_log SET status = ?, detail = ?, updated_at = ?, next_attempt_at = ?,"
            " deferred_since = CASE WHEN ? = 'deferred' THEN COALESCE(deferred_since, ?) END,"
            " lease_owner = NULL, lease_until = NULL WHERE issue_id = ? AND subscriber_id = ?",
            (
                status, detail[:500], codecs.now(), next_attempt_at, status, deferred_since,
                issue_id, subscriber_id,
            ),
        )  # fmt: skip

    def unknowns(self, issue_id: str) -> list[tuple[int, str]]:
        """(subscriber id, address) of the issue's rows whose outcome is `unknown`."""
        rows = self.db.execute(
            "SELECT s.id, s.email FROM send_log l JOIN subscribers s ON s.id = l.subscriber_id"
            " WHERE l.issue_id = ? AND l.status = 'unknown' ORDER BY s.id",
            (issue_id,),
        )
        return [(int(sid), str(email)) for sid, email in rows]

    def send_log(self, issue_id: str) -> dict[str, str]:
        """Address → status of every send-log row for `issue_id`."""
        rows = self.db.execute(
            "SELECT s.email, l.status FROM send_log l"
            " JOIN subscribers s ON s.id = l.subscriber_id WHERE l.issue_id = ?",
            (issue_id,),
        )
        return {email: status for email, status in rows}

    def next_slot(self, name: str, interval: float) -> float:
        """Reserve the next send under the rate limit `name` shared by every process;
        returns how many seconds to wait for it."""
        (wait,) = self.db.execute(
            "INSERT INTO rate_limits (name, next_at) VALUES (?, {epoch} + ?)"
            " ON CONFLICT (name) DO UPDATE"
            " SET next_at = {greatest}(rate_limits.next_at, {epoch}) + excluded.next_at - {epoch}"
            " RETURNING next_at - ? - {epoch}",
            (name, interval, interval),
        ).fetchone()
        return max(0.0, float(wait))

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
