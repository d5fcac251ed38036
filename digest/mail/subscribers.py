"""The subscriber list in the state file: add, remove, import, export, tokens.

Addresses are checked as email-validator checks them (syntax only, no DNS;
`addresses` gives its answer quickly for the common shape). A removed
subscriber stays in the table as `unsubscribed`, so a later import or add
cannot mail them again by accident. Each subscriber has an unsubscribe token,
an HMAC of their id and address under a secret from the environment: a link
carrying it proves which reader asked to leave without a lookup table.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from email_validator import EmailNotValidError

from digest.config import Config
from digest.errors import ConfigError, ExpiredTokenError, SubscriberError
from digest.mail.addresses import checked
from digest.models import Preferences, Subscriber
from digest.store import State

logger = logging.getLogger(__name__)

PENDING = "pending"  # asked on the web, not confirmed yet: never mailed an issue
ACTIVE = "active"
UNSUBSCRIBED = "unsubscribed"
BOUNCED = "bounced"  # hard bounce, or soft bounces past the limit
COMPLAINED = "complained"  # marked the newsletter as spam (an ARF report)
STATES = (PENDING, ACTIVE, UNSUBSCRIBED, BOUNCED, COMPLAINED)
LEFT = (UNSUBSCRIBED, BOUNCED, COMPLAINED)  # only the operator's --resubscribe brings them back


def normalise(address: str) -> str:
    """The address as email-validator normalises it; SubscriberError if it is not one."""
    try:
        return checked(address.strip())
    except EmailNotValidError as e:
        raise SubscriberError(f"{address.strip()!r} is not an email address: {e}") from None


def tidy_name(name: str) -> str:
    """`name` with its spaces folded and without NULs (no part of a name, and
    PostgreSQL cannot store one in text)."""
    return " ".join(name.replace("\0", "").split())


def token_secret(config: Config) -> bytes:
    """The unsubscribe-token secret from the environment variable config names."""
    name = config.newsletter.unsubscribe_secret_env
    value = os.environ.get(name, "")
    if len(value) < 16:
        raise ConfigError(
            f"set the environment variable {name} to a secret of at least 16 characters"
            " (it signs unsubscribe tokens; newsletter.unsubscribe_secret_env names it)"
        )
    return value.encode("utf-8")


def make_token(
    secret: bytes,
    subscriber_id: int,
    email: str,
    *,
    purpose: str = "",
    expires: int | None = None,
    bound: str = "",
) -> str:
    """`<id>-<signature>`: URL-safe, and only the holder of the secret can make one.

    Without a purpose it is the reader's lasting token (unsubscribe and
    preferences). With one it also signs the purpose, the expiry (Unix time,
    written in the token: `<id>-<expires>-<signature>`) and `bound`, a value
    that changes once the token is used, so a used link cannot be replayed.
    """
    message = f"{subscriber_id}:{email.lower()}"
    if purpose:
        message = f"{purpose}:{message}:{expires}:{bound}"
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()[:16]
    signature = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    middle = f"{expires}-" if expires is not None else ""
    return f"{subscriber_id}-{middle}{signature}"


_TOKEN = re.compile(r"([0-9]{1,18})-[A-Za-z0-9_-]{1,64}", re.ASCII)


def check_token(state: State, secret: bytes, token: str) -> Subscriber:
    """The subscriber a token belongs to; SubscriberError when it is forged, unknown or
    not shaped like a token at all."""
    token = token.strip()
    shape = _TOKEN.fullmatch(token)
    subscriber = state.subscriber(int(shape.group(1))) if shape else None
    if subscriber is None or not hmac.compare_digest(
        make_token(secret, subscriber.id, subscriber.email).encode("ascii"),
        token.encode("ascii"),
    ):
        raise SubscriberError("that unsubscribe token matches no subscriber")
    return subscriber


def confirm_token(secret: bytes, subscriber: Subscriber, now: float, hours: int) -> str:
    """The link token of a confirmation mail: valid `hours`, and only until the status changes."""
    return _confirm_token(secret, subscriber, int(now) + hours * 3600)


def _confirm_token(secret: bytes, subscriber: Subscriber, expires: int) -> str:
    return make_token(
        secret,
        subscriber.id,
        subscriber.email,
        purpose="confirm",
        expires=expires,
        bound=f"{subscriber.status}@{subscriber.status_at}",
    )


def check_confirm_token(state: State, secret: bytes, token: str, now: float) -> Subscriber:
    """The reader a confirmation token names; SubscriberError if forged or used."""
    parts = token.strip().split("-", 2)
    if len(parts) == 3 and all(p.isascii() and p.isdigit() and len(p) <= 15 for p in parts[:2]):
        subscriber = state.subscriber(int(parts[0]))
        expires = int(parts[1])
        if subscriber is not None:
            expected = _confirm_token(secret, subscriber, expires)
            if hmac.compare_digest(expected, token.strip()):
                if expires < now:
                    raise ExpiredTokenError("that confirmation link has expired")
                return subscriber
    raise SubscriberError("that confirmation link is not valid, or was used already")


def request(
    state: State, address: str, name: str, preferences: Preferences
) -> tuple[Subscriber, bool]:
    """A web sign-up: the reader's row (new ones `pending`) and whether to mail a confirmation.

    Active readers and those who complained get no mail; the page answers the
    same either way, so it tells nobody who is on the list.
    """
    email = normalise(address)
    name = tidy_name(name)[:100]
    with state.transaction():
        existing = state.subscriber(email)
        if existing is None:
            state.insert_subscriber(email, name, PENDING, "asked on the web", preferences.to_json())
        elif existing.status in (PENDING, UNSUBSCRIBED, BOUNCED):
            # Their choices wait in the row; nothing is mailed before they confirm.
            chosen = preferences.to_json()
            state.update_subscriber(existing.id, name or existing.name, chosen)
        else:  # a write all the same, so that the answer takes as long (no timing oracle)
            kept = existing.preferences.to_json()
            state.update_subscriber(existing.id, existing.name, kept)
    subscriber = state.subscriber(email)
    assert subscriber is not None
    return subscriber, subscriber.status in (PENDING, UNSUBSCRIBED, BOUNCED)


def confirm(state: State, subscriber: Subscriber) -> Subscriber:
    """Active from now on (the reader pressed the button in the confirmation mail)."""
    with state.transaction():
        state.set_status(subscriber.id, ACTIVE, "confirmed by the reader")
    logger.info("subscriber #%d confirmed", subscriber.id)
    result = state.subscriber(subscriber.id)
    assert result is not None
    return result


def add(state: State, address: str, name: str = "", *, resubscribe: bool = False) -> Subscriber:
    """Add (or, with `resubscribe`, bring back) one subscriber; returns the row."""
    email = normalise(address)
    name = tidy_name(name)
    with state.transaction():
        existing = state.subscriber(email)
        if existing is not None and existing.status in LEFT and not resubscribe:
            raise SubscriberError(
                f"{email} is {existing.status} since {existing.status_at} ({existing.cause});"
                " add --resubscribe only if they asked to come back"
            )
        if existing is None:
            state.insert_subscriber(email, name, ACTIVE)
        else:
            state.reactivate_subscriber(existing.id, name)
    subscriber = state.subscriber(email)
    assert subscriber is not None
    logger.info("subscriber #%d added", subscriber.id)
    return subscriber


def remove(state: State, address: str) -> Subscriber:
    """Mark a subscriber unsubscribed (kept, so they are never mailed again)."""
    subscriber = state.subscriber(normalise(address))
    if subscriber is None:
        raise SubscriberError(f"{address.strip()} is not on the list")
    return unsubscribe(state, subscriber)


def unsubscribe(
    state: State, subscriber: Subscriber, cause: str = "removed by the operator"
) -> Subscriber:
    if subscriber.status != UNSUBSCRIBED:
        state.unsubscribe(subscriber.id, cause)
    logger.info("subscriber #%d unsubscribed", subscriber.id)
    result = state.subscriber(subscriber.id)
    assert result is not None
    return result


KEPT_PROBLEMS = 100  # invalid rows described in full; the rest are only counted
IMPORT_CAUSE = "imported by the operator"


@dataclass(frozen=True)
class ImportResult:
    added: int
    already: int
    unsubscribed: int  # on file but unsubscribed: left alone
    invalid: tuple[str, ...]  # "line N: reason" of the first KEPT_PROBLEMS rows skipped
    skipped: int = 0  # invalid rows skipped in all


def import_csv(state: State, source: TextIO, *, skip_invalid: bool = False) -> ImportResult:
    """Add every row of a CSV with an `email` column (and optional `name`).

    The file is streamed into the store in one transaction, so a list of any
    length takes the same memory. Unless `skip_invalid`, one bad row means
    nothing is imported (the transaction is rolled back) and the error names
    the first bad line and counts the others, so nothing is half done.
    """
    invalid: list[str] = []
    skipped = 0

    def valid_rows() -> Iterator[tuple[int, str, str]]:
        nonlocal skipped
        for line, address, name in _read_rows(source):
            try:
                email = normalise(address)
            except SubscriberError as e:
                skipped += 1
                if len(invalid) < KEPT_PROBLEMS:
                    invalid.append(f"line {line}: {e}")
                continue
            if skipped == 0 or skip_invalid:  # else the rest is read only to count
                yield line, email, name

    with state.transaction():
        added, already, unsubscribed = state.import_rows(valid_rows(), LEFT, IMPORT_CAUSE)
        if skipped and not skip_invalid:
            more = f" (and {skipped - 1} more)" if skipped > 1 else ""
            raise SubscriberError(f"{invalid[0]}{more}; nothing imported (--skip-invalid to go on)")
    logger.info(
        "import: %d added, %d already there, %d unsubscribed, %d invalid skipped",
        added, already, unsubscribed, skipped,
    )  # fmt: skip
    return ImportResult(added, already, unsubscribed, tuple(invalid), skipped)


def _read_rows(source: TextIO) -> Iterator[tuple[int, str, str]]:
    """(line, address, name) of each row; SubscriberError naming the line when the file
    is not UTF-8 or a field is too long to be a name or an address."""
    reader = csv.reader(source)
    try:
        yield from _rows(reader)
    except UnicodeDecodeError as e:
        raise SubscriberError(
            f"near line {reader.line_num + 1}: the CSV is not UTF-8"
            f" (byte 0x{e.object[e.start]:02x});"
            " save it as UTF-8 and import again; nothing imported"
        ) from None
    except csv.Error as e:
        raise SubscriberError(
            f"line {reader.line_num}: not a readable CSV row ({e}); nothing imported"
        ) from None


def _rows(reader: Any) -> Iterator[tuple[int, str, str]]:
    header = next(reader, None)
    if header is None:
        raise SubscriberError("the CSV file is empty (it needs an 'email' column)")
    columns = [h.strip().lstrip("\ufeff").lower() for h in header]
    if "email" not in columns:
        raise SubscriberError(f"the CSV has no 'email' column (columns: {', '.join(columns)})")
    at, name_at = columns.index("email"), columns.index("name") if "name" in columns else None
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        address = _restore(row[at]) if at < len(row) else ""
        name = _restore(row[name_at]) if name_at is not None and name_at < len(row) else ""
        yield reader.line_num, address, tidy_name(name)


EXPORT_COLUMNS = (
    "email", "name", "status", "subscribed_at", "unsubscribed_at", "status_changed_at",
    "cause", "sources", "cadence",
)  # fmt: skip


def export_csv(subscribers: Iterable[Subscriber], target: TextIO) -> int:
    """Write one row per reader (EXPORT_COLUMNS: state, when and why it last changed)."""
    writer = csv.writer(target, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for s in subscribers:
        cells = [
            s.email, s.name, s.status, s.subscribed_at, s.unsubscribed_at or "",
            s.status_at, s.cause, "|".join(s.preferences.sources), s.preferences.cadence,
        ]  # fmt: skip
        writer.writerow([_neutral(cell) for cell in cells])
        count += 1
    return count


# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _neutral(cell: str) -> str:
    """`cell` with a leading apostrophe when a spreadsheet would read it as a formula
    (and one more when it already starts with apostrophes before one), so `_restore`
    gives back exactly `cell`."""
    return "'" + cell if cell.lstrip("'").startswith(_FORMULA) else cell


def _restore(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell.lstrip("'").startswith(_FORMULA) else cell


_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: str) -> str:
    """`text` without control characters (terminal escapes) or bidirectional overrides,
    for listing on a terminal."""
    return "".join(
        c for c in text if c not in _BIDI and unicodedata.category(c) not in ("Cc", "Cs")
    )


def mask(email: str) -> str:
    """`r***@example.org`: enough to tell addresses apart in a log, not to harvest them."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"
