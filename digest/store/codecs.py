"""How rows become records and back: feed entries kept for a 304, and subscribers."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from digest.models import Entry, Picture, Preferences, Subscriber

ENTRIES_FORMAT = 2
"""Version of the JSON in `parsed_feeds`; another version reads as absent (a full fetch)."""

SUBSCRIBER = (
    "id, email, name, status, subscribed_at, unsubscribed_at, status_at, cause, preferences"
)
SUBSCRIBER_S = ", ".join(f"s.{c}" for c in SUBSCRIBER.split(", "))
_ENTRY_FIELDS = tuple(f.name for f in fields(Entry))


def entry_row(entry: Entry) -> dict[str, object]:
    # Not dataclasses.asdict: it deep-copies every value, several times slower.
    row = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
    row["published"] = entry.published.isoformat() if entry.published else None
    row["pictures"] = [[p.url, p.width, p.height, p.alt] for p in entry.pictures]
    return row


def entry_from(row: dict[str, Any]) -> Entry:
    published = row.pop("published")
    row["pictures"] = tuple(Picture(*p) for p in row.get("pictures") or ())
    row["categories"] = tuple(row.get("categories") or ())
    return Entry(**row, published=datetime.fromisoformat(published) if published else None)


def subscriber_from(row: tuple[Any, ...]) -> Subscriber:
    return Subscriber(
        id=row[0], email=row[1], name=row[2], status=row[3], subscribed_at=row[4],
        unsubscribed_at=row[5], status_at=row[6], cause=row[7],
        preferences=Preferences.from_json(row[8]),
    )  # fmt: skip


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
