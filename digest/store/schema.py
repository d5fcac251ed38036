"""The schema, as the list of changes that built it: appended to, never edited.

One history serves both engines: the few words that differ are written as
`{id}`, `{bytes}`, `{unique_nocase}` (engine.py spells them), and a statement
only PostgreSQL needs starts with `{postgresql}`. The count of entries
applied is kept in `PRAGMA user_version` (SQLite) or the `digest_schema`
table (PostgreSQL), so an old state is upgraded in place by the ones it lacks.
"""

MIGRATIONS: list[str] = [
    """
    CREATE TABLE http_cache (
        url TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        final_url TEXT,
        content_type TEXT,
        body {bytes},
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
    # An address is unique whatever the case of its ASCII letters, as SQLite's NOCASE
    # compares (PostgreSQL: a unique index on the address with A-Z folded).
    """
    CREATE TABLE subscribers (
        id {id},
        email TEXT NOT NULL {unique_nocase},
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
    {postgresql} CREATE FUNCTION digest_fold(address TEXT) RETURNS TEXT
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT translate(address, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                        'abcdefghijklmnopqrstuvwxyz') $$;
    {postgresql} CREATE UNIQUE INDEX subscribers_email ON subscribers (digest_fold(email))
    """,
    # A reader deferred by a 4xx waits until `next_attempt_at`; `deferred_since`
    # is the first such reply, from which `[smtp] give_up_hours` counts.
    """
    ALTER TABLE send_log ADD COLUMN next_attempt_at TEXT;
    ALTER TABLE send_log ADD COLUMN deferred_since TEXT
    """,
    # A feed's entries as parsed last time, so a 304 costs no parsing at all.
    """
    CREATE TABLE parsed_feeds (
        url TEXT PRIMARY KEY,
        entries TEXT NOT NULL,
        parsed_at TEXT NOT NULL
    );
    """,
    # Reader states (pending, active, unsubscribed, bounced, complained) with the time
    # and cause of each change, preferences, soft-bounce counts, bounce reports read.
    """
    ALTER TABLE subscribers ADD COLUMN status_at TEXT NOT NULL DEFAULT '';
    ALTER TABLE subscribers ADD COLUMN cause TEXT NOT NULL DEFAULT '';
    ALTER TABLE subscribers ADD COLUMN preferences TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE subscribers ADD COLUMN soft_bounces INTEGER NOT NULL DEFAULT 0;
    UPDATE subscribers SET status_at = COALESCE(unsubscribed_at, subscribed_at);
    CREATE TABLE subscriber_events (
        id {id},
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
        at TEXT NOT NULL,
        status TEXT NOT NULL,
        cause TEXT NOT NULL
    );
    CREATE INDEX subscriber_events_who ON subscriber_events (subscriber_id);
    INSERT INTO subscriber_events (subscriber_id, at, status, cause)
        SELECT id, status_at, status, 'on the list before changes were logged' FROM subscribers;
    CREATE TABLE bounce_reports (
        key TEXT PRIMARY KEY,
        read_at TEXT NOT NULL
    );
    """,
    # Claims under a lease (sendlog.py): who holds a row, until when (the database's
    # clock, in seconds), and what it was before; the rate limit all senders share;
    # the web app's request limits, shared by every `digest serve`.
    """
    ALTER TABLE send_log ADD COLUMN lease_owner TEXT;
    ALTER TABLE send_log ADD COLUMN lease_until DOUBLE PRECISION;
    ALTER TABLE send_log ADD COLUMN claimed_from TEXT;
    CREATE INDEX send_log_queue ON send_log (issue_id, status, subscriber_id);
    CREATE TABLE rate_limits (
        name TEXT PRIMARY KEY,
        next_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE request_hits (
        name TEXT NOT NULL,
        key TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX request_hits_key ON request_hits (name, key, at);
    CREATE INDEX request_hits_age ON request_hits (name, at);
    """,
]

# Every table, parents before the rows that refer to them: what `digest state copy` moves.
TABLES = (
    "http_cache", "parsed_feeds", "stories", "summaries", "subscribers", "subscriber_events",
    "send_log", "schedule_state", "bounce_reports", "rate_limits", "request_hits",
)  # fmt: skip
IDENTITY = {"subscribers": "id", "subscriber_events": "id"}  # numbered by the database
