"""Bounces and complaints: who to stop mailing, read from reports and from SMTP replies.

Every message leaves with its own envelope sender (VERP): `[smtp]
bounce_address` "bounces@example.org" becomes "bounces+42@example.org" for
subscriber 42, so a bounce names its reader even when the report mangles the
recipient. `digest bounces PATH` reads a Maildir or an mbox of:

- RFC 3464 delivery status notifications (multipart/report;
  report-type=delivery-status): each failed recipient's Status decides —
  5.x.x is hard (suppressed at once) but for 5.2.2 mailbox full; 4.x.x and
  5.2.2 are soft, suppressed after `[server] soft_bounce_limit`;
- RFC 5965 ARF complaint reports (report-type=feedback-report): suppressed at once;
- anything else: flufl.bounce's detectors for the many non-standard formats.

A 5.7.26 / 5.7.515 is the receiver refusing our authentication (SPF, DKIM,
DMARC): not the reader's fault, so nobody is suppressed; at send time it
stops the run as a configuration error. Each report is read once (its
Message-ID is remembered), so a mailbox can be processed again safely.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Literal

from digest.config import Config
from digest.errors import BounceError, ConfigError
from digest.mail.subscribers import ACTIVE, BOUNCED, COMPLAINED, PENDING, mask
from digest.store import State

logger = logging.getLogger(__name__)

Kind = Literal["hard", "soft", "complaint", "ours"]
AUTHENTICATION = ("5.7.26", "5.7.515")  # Gmail/Yahoo and Microsoft: SPF/DKIM/DMARC failed
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class Bounce:
    kind: Kind
    subscriber_id: int | None  # from the VERP address, when there is one
    address: str  # the failed recipient as the report names it ("" when unknown)
    status: str  # enhanced status code, e.g. "5.1.1" ("" when none)
    detail: str  # the diagnostic, one line


def verp_address(bounce_address: str, subscriber_id: int) -> str:
    """`bounces+42@example.org` for subscriber 42."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{subscriber_id}@{domain}"


def verp_id(address: str, bounce_address: str) -> int | None:
    """The subscriber id in a VERP address, or None when it is not one of ours."""
    if not bounce_address:
        return None
    local, _, domain = bounce_address.rpartition("@")
    pattern = rf"{re.escape(local)}\+(\d{{1,12}})@{re.escape(domain)}"
    found = re.fullmatch(pattern, address.strip().strip("<>"), re.IGNORECASE)
    return int(found.group(1)) if found else None


def status_kind(status: str, diagnostic: str = "") -> Kind | None:
    """hard, soft or ours for an enhanced status code (None: not a failure)."""
    found = _STATUS.search(diagnostic)
    code = status or (found.group(0) if found else "")
    if code in AUTHENTICATION or any(a in diagnostic for a in AUTHENTICATION):
        return "ours"
    if code.startswith("5."):
        return "soft" if code == "5.2.2" else "hard"
    if code.startswith("4."):
        return "soft"
    return None


def refusal(reply: str) -> Kind | None:
    """What an SMTP 5xx reply at send time means: "ours" (authentication), "hard" for a
    5.1.x (no such mailbox or domain), None for other refusals (the send log keeps them)."""
    found = _STATUS.search(reply)
    if found is None:
        return None
    if found.group(0) in AUTHENTICATION:
        return "ours"
    return "hard" if found.group(1) == "5" and found.group(2) == "1" else None


def on_refusal(state: State, subscriber_id: int, reply: str) -> None:
    """Act on a 5xx at send time: suppress a dead mailbox; stop on an authentication refusal."""
    kind = refusal(reply)
    if kind == "ours":
        raise ConfigError(
            f"the receiving server refused our authentication ({reply}); set up SPF, DKIM"
            " ([smtp] dkim_key) and DMARC for the From domain before sending again"
        )
    if kind == "hard":
        with state.transaction():
            subscriber = state.subscriber(subscriber_id)
            if subscriber is not None and subscriber.status in (ACTIVE, PENDING):
                state.set_status(subscriber_id, BOUNCED, f"refused at send time: {reply}")
        logger.info("subscriber #%d suppressed: %s at send time", subscriber_id, reply[:9])


# Reading reports ---------------------------------------------------------------


def parse_report(message: Message, bounce_address: str = "") -> list[Bounce]:
    """Every failure or complaint one report names (none for a delay or a stray mail)."""
    who = _verp_of(message, bounce_address)
    content = message.get_content_type()
    report_type = str(message.get_param("report-type") or "").lower()
    if content == "multipart/report" and report_type == "feedback-report":
        return _complaint(message, who, bounce_address)
    if content == "multipart/report" and report_type == "delivery-status":
        found = _delivery_status(message, who)
        if found is not None:
            return found
    return _heuristic(message, who)


def _verp_of(message: Message, bounce_address: str) -> int | None:
    """A bounce is addressed to the envelope sender: our VERP address, in some header."""
    for header in ("Delivered-To", "X-Original-To", "Envelope-To", "To", "X-Envelope-To"):
        for _, address in getaddresses([str(v) for v in message.get_all(header, [])]):
            found = verp_id(address, bounce_address)
            if found is not None:
                return found
    return None


def _delivery_status(message: Message, who: int | None) -> list[Bounce] | None:
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            return None
        found = []
        for block in blocks[1:]:  # the first block is about the message, the rest per recipient
            if not isinstance(block, Message):
                continue
            action = str(block.get("Action", "")).strip().lower()
            if action and action != "failed":
                continue  # delayed, delivered, relayed, expanded: not a bounce
            status = _STATUS.search(str(block.get("Status", "")))
            diagnostic = _one_line(block.get("Diagnostic-Code", ""))
            code = status.group(0) if status else ""
            kind = status_kind(code, diagnostic)
            if kind is None:
                continue
            address = _typed_address(block.get("Original-Recipient")) or _typed_address(
                block.get("Final-Recipient")
            )
            found.append(Bounce(kind, who, address, code, diagnostic or code))
        return found
    return None


def _complaint(message: Message, who: int | None, bounce_address: str) -> list[Bounce]:
    fields: Message | None = None
    original: Message | None = None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/feedback-report":
            fields = _first_message(part)
        elif kind in ("message/rfc822", "text/rfc822-headers") and original is None:
            original = _first_message(part)
    if fields is None:
        return []
    feedback = str(fields.get("Feedback-Type", "abuse")).strip().lower()
    if feedback not in ("abuse", "fraud", "virus", "other"):
        return []  # "not-spam", "auth-failure": no complaint from the reader
    mail_from = parseaddr(str(fields.get("Original-Mail-From", "")))[1]
    if original is not None and verp_id(mail_from, bounce_address) is None:
        mail_from = parseaddr(str(original.get("Return-Path", "")))[1]
    subscriber = verp_id(mail_from, bounce_address) or who
    address = parseaddr(str(fields.get("Original-Rcpt-To", "")))[1]
    if not address and original is not None:
        address = parseaddr(str(original.get("To", "")))[1]
    source = _one_line(fields.get("Reported-Domain", "") or fields.get("Source-IP", ""))
    detail = f"complaint ({feedback}){' from ' + source if source else ''}"
    return [Bounce("complaint", subscriber, address, "", detail)]


def _first_message(part: Message) -> Message | None:
    """The header block a message/* part carries (parsed when it came as text)."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    if isinstance(payload, str):
        return email.message_from_string(payload.lstrip())
    return None


def _heuristic(message: Message, who: int | None) -> list[Bounce]:
    from flufl.bounce import all_failures  # the detectors load only when a report needs them

    try:
        temporary, permanent = all_failures(message)
    except Exception as e:  # a third-party heuristic on hostile input: cost this report only
        logger.info("flufl.bounce could not read a report: %s", e)
        return []
    found = [
        Bounce("hard", who, a.decode("utf-8", "replace"), "", "permanent failure")
        for a in sorted(permanent)
    ]
    found += [
        Bounce("soft", who, a.decode("utf-8", "replace"), "", "temporary failure")
        for a in sorted(temporary - permanent)
    ]
    if not found and who is not None and _looks_failed(message):
        # Unparsed, but sent to a reader's VERP address and titled like a failure: counted
        # as soft, so a stray auto-reply alone never takes anyone off the list.
        found.append(Bounce("soft", who, "", "", _one_line(message.get("Subject", ""))))
    return found


def _looks_failed(message: Message) -> bool:
    subject = str(message.get("Subject", "")).lower()
    return any(w in subject for w in ("undeliver", "delivery status", "failure", "returned mail"))


def _typed_address(value: object) -> str:
    """`rfc822; reader@example.org` → `reader@example.org`."""
    text = str(value or "")
    _, _, address = text.rpartition(";")
    return address.strip().strip("<>").lower()


def _one_line(value: object) -> str:
    return " ".join(str(value).split())[:300]


# Applying them -------------------------------------------------------------------


@dataclass
class BounceReport:
    reports: int = 0  # messages read
    repeated: int = 0  # read by an earlier run: skipped
    hard: int = 0  # readers suppressed for a hard bounce
    soft: int = 0  # soft bounces counted
    soft_suppressed: int = 0  # readers suppressed past the soft-bounce limit
    complaints: int = 0  # readers suppressed for a complaint
    ours: list[str] = field(default_factory=list)  # authentication failures: fix the setup
    unknown: int = 0  # failures naming no reader on the list
    unreadable: list[str] = field(default_factory=list)  # "key: reason"


def apply(state: State, bounce: Bounce, report: BounceReport, limit: int) -> None:
    """Change one reader's status for one failure (active and pending readers only)."""
    if bounce.kind == "ours":
        report.ours.append(bounce.detail)
        return
    subscriber = state.subscriber(bounce.subscriber_id) if bounce.subscriber_id else None
    if subscriber is None and bounce.address:
        subscriber = state.subscriber(bounce.address)
    if subscriber is None:
        report.unknown += 1
        return
    if subscriber.status not in (ACTIVE, PENDING):
        return  # already off the list; its first cause stays
    if bounce.kind == "complaint":
        state.set_status(subscriber.id, COMPLAINED, bounce.detail)
        report.complaints += 1
    elif bounce.kind == "hard":
        state.set_status(subscriber.id, BOUNCED, f"hard bounce: {bounce.detail}")
        report.hard += 1
    else:
        report.soft += 1
        count = state.soft_bounce(subscriber.id)
        if count >= limit:
            cause = f"{count} soft bounces, the last: {bounce.detail}"
            state.set_status(subscriber.id, BOUNCED, cause)
            report.soft_suppressed += 1
    logger.info("subscriber %s: %s (%s)", mask(subscriber.email), bounce.kind, bounce.detail)


def process(config: Config, state: State, path: Path) -> BounceReport:
    """Read every report in a Maildir or mbox at `path` and update the list."""
    report = BounceReport()
    bounce_address = config.smtp.bounce_address
    limit = config.server.soft_bounce_limit
    batch: list[tuple[str, Message]] = []

    def flush() -> None:
        # One transaction per hundred reports: a thousand commits would be a thousand fsyncs.
        with state.transaction():
            for key, message in batch:
                if not state.first_reading(key):
                    report.repeated += 1
                    continue
                try:
                    found = parse_report(message, bounce_address)
                except Exception as e:  # a malformed report costs only itself
                    report.unreadable.append(f"{key}: {type(e).__name__}: {e}")
                    continue
                for bounce in found:
                    apply(state, bounce, report, limit)
        batch.clear()

    for key, message in read_mailbox(path):
        report.reports += 1
        batch.append((key, message))
        if len(batch) >= 100:
            flush()
    flush()
    return report


def read_mailbox(path: Path) -> Iterator[tuple[str, Message]]:
    """(key, message) of each mail in a Maildir (a folder with cur/ and new/) or an mbox file."""
    box: mailbox.Maildir | mailbox.mbox
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise BounceError(f"{path} is a folder but not a Maildir (no cur/ or new/)")
        box = mailbox.Maildir(path, factory=None, create=False)
    elif path.is_file():
        box = mailbox.mbox(path, create=False)
    else:
        raise BounceError(f"{path}: no such Maildir or mbox")
    try:
        for _, entry in box.iteritems():
            message: Message = entry
            raw_id = str(message.get("Message-ID", "")).strip()
            key = raw_id or hashlib.sha256(message.as_bytes()).hexdigest()
            yield key, message
    except OSError as e:
        raise BounceError(f"{path}: cannot read: {e}") from None
    finally:
        box.close()
