"""The state that outlives a run, and every SQL statement digest runs.

It keeps HTTP validators and the parsed entries of each feed, the stories
sent, cached summaries, the subscriber list with each change of state, the
per-(issue, subscriber) send log and the scheduler's memory, in an SQLite
file or a PostgreSQL database (`engine.py`). Only this folder talks to the
database: this module and `subscribers.py` / `sendlog.py` hold the queries,
`schema.py` the migrations, `codecs.py` turns rows into records,
`failures.py` turns driver errors into one line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace

from digest.models import Entry, Fetched, Validators
from digest.store import codecs
from digest.store.codecs import ENTRIES_FORMAT, entry_from, entry_row
from digest.store.failures import one_line_errors
from digest.store.sendlog import SendLogQueries
from digest.store.subscribers import SubscriberQueries


@one_line_errors
class State(SubscriberQueries, SendLogQueries):
    """One connection to the state (a file, or a PostgreSQL database); a context manager."""

    def __enter__(self) -> State:
        return self

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
            "INSERT INTO http_cache"
            " (url, etag, last_modified, final_url, content_type, body, fetched_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET"
            " etag = excluded.etag, last_modified = excluded.last_modified,"
            " final_url = excluded.final_url, content_type = excluded.content_type,"
            " body = excluded.body, fetched_at = excluded.fetched_at",
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
            "INSERT INTO parsed_feeds (url, entries, parsed_at) VALUES (?, ?, ?)"
            " ON CONFLICT (url) DO UPDATE SET entries = excluded.entries,"
            " parsed_at = excluded.parsed_at",
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
                "INSERT INTO stories (key, issue_id, title, url, included_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
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
            "INSERT INTO summaries (hash, sentences, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (hash) DO UPDATE SET sentences = excluded.sentences,"
            " created_at = excluded.created_at",
            [(key, json.dumps(list(sentences)), now) for key, sentences in summaries],
        )

    def recorded_issues(self) -> set[str]:
        """Ids of the issues whose stories are recorded."""
        return {row[0] for row in self.db.execute("SELECT DISTINCT issue_id FROM stories")}
