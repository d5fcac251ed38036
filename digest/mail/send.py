"""Send a built issue to every active subscriber over SMTP, each exactly once.

The send log (`send_log` in the state file) has one row per (issue,
subscriber). Before a message goes out its row is claimed as `sending` and
committed; after the server's 250 reply to DATA it becomes `sent`, committed
together with the next claim. Other outcomes:

- `failed`: a 5xx for this address, or 4xx replies for longer than
  `[smtp] give_up_hours`; never retried.
- `deferred` with `next_attempt_at`: a 4xx for this address (greylisting, a
  full mailbox). The run goes on with the others; a later run tries this
  reader again once that time has come, waiting `defer_minutes` and then
  about as long again as it has already waited (exponential, 6 h at most).
  A server-wide failure (lost connection, 421, a 4xx to DATA) that outlasts
  `retries` stops the run instead, and that reader is due at once next time.
- `unknown`: the message went out whole but the end of DATA was not answered
  within `data_timeout`. The server may have taken it, so no run sends it
  again unless told to (`digest send --retry-unknown`, after checking the
  relay's log). Three in a row stop the run: the relay is too slow.

A rerun skips `sent`, `failed`, `unknown` and not-yet-due `deferred` rows, so
a crash, a kill -9 or a dropped connection never mails anyone twice, with one
exception that no client can close: the server accepted the message and the
process died before `sent` was committed. That row is still `sending`; the
rerun sends it again, so at most one reader per crash can get a second copy
(with the same Message-ID, which mail stores use to drop it). A file lock
beside the state file (`lock.py`) keeps two senders from working on the same
list at once; `smtp.py` is the connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formataddr

from digest.config import Config
from digest.errors import (
    ConfigError,
    DeliveryError,
)
from digest.issues.files import LoadedIssue
from digest.issues.message import (
    MessageFactory,
    build_message,
    dkim_signer,
    personal_message_id,
    sender_address,
)
from digest.mail.bounces import on_refusal, verp_address
from digest.mail.outcomes import (
    DEFERRED,
    FAILED,
    SENDING,
    SENT,
    UNKNOWN,
    Outcome,
    deliver,
    record,
    settle,
)
from digest.mail.smtp import SmtpTransport
from digest.mail.subscribers import ACTIVE, make_token, mask, normalise, token_secret
from digest.mail.variants import Variants
from digest.models import Preferences
from digest.store import State

logger = logging.getLogger(__name__)

UNKNOWN_STREAK = 3  # unanswered ends of DATA in a row that stop a run


@dataclass
class SendReport:
    issue_id: str
    total: int = 0  # active subscribers when the run started
    sent: int = 0
    already: int = 0  # sent (or refused for good) by an earlier run
    resumed: int = 0  # interrupted mid-send last time: sent again
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, masked reply)
    deferred: int = 0  # the server kept failing: the next run goes on from there
    waiting: int = 0  # 4xx for their address: tried again by a later run, from next_at
    next_at: datetime | None = None  # when the first of those is due
    unknown: int = 0  # end of DATA unanswered: maybe delivered, never resent by default
    left: int = 0  # not tried because the run stopped
    stopped: bool = False  # stopped on request (SIGTERM) between messages
    last_error: str = ""

    @property
    def complete(self) -> bool:
        return self.deferred == 0 and self.left == 0 and self.waiting == 0


@dataclass(frozen=True)
class _Recipient:
    id: int
    email: str
    name: str
    preferences: Preferences = field(default_factory=Preferences)


def _due(status: str | None, next_at: str | None, now: datetime, retry_unknown: bool) -> bool:
    if status in (SENT, FAILED):
        return False
    if status == UNKNOWN:
        return retry_unknown
    return not (status == DEFERRED and next_at and datetime.fromisoformat(next_at) > now)


def pending(
    state: State,
    issue_id: str,
    now: datetime | None = None,
    retry_unknown: bool = False,
    variants: Variants | None = None,
    only: int | None = None,
) -> tuple[list[_Recipient], int, list[datetime], int]:
    """Readers owed `issue_id` now; how many have their outcome; when the waiting ones are
    due; how many have an unknown outcome (not in the first list unless `retry_unknown`).

    With `variants`, only readers whose cadence and sources this issue serves;
    `only` picks one reader whatever their cadence (the welcome mail).
    """
    now = now or datetime.now(UTC)
    todo: list[_Recipient] = []
    done, unknown, later = 0, 0, []
    for s, status, next_at in state.send_queue(issue_id):
        if only is not None and s.id != only:
            continue
        if variants is not None and not variants.wants(s.preferences, any_cadence=only is not None):
            continue
        if _due(status, next_at, now, retry_unknown):
            todo.append(_Recipient(s.id, s.email, s.name, s.preferences))
        elif status == UNKNOWN:
            unknown += 1
        elif status == DEFERRED and next_at:
            later.append(datetime.fromisoformat(next_at))
        else:
            done += 1
    return todo, done, later, unknown


def send_issue(
    config: Config,
    state: State,
    loaded: LoadedIssue,
    *,
    transport: SmtpTransport | None = None,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], object] = time.sleep,
    dry_run: bool = False,
    retry_unknown: bool = False,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    only: int | None = None,
) -> SendReport:
    """Mail `loaded` to every active subscriber who does not have it yet.

    `stop` is asked between messages (the scheduler's SIGTERM flag); `sleep`
    waits for the rate limit and the retry backoff; `clock` says when
    deferred readers are due. `retry_unknown` sends again to readers whose
    last message went unanswered. Each reader gets the variant of their
    preferences (mail/variants.py); `only` mails one reader.
    """
    secret = token_secret(config)
    sign = dkim_signer(config)
    sender = sender_address(config)
    issue_id = loaded.issue.id
    variants = Variants(config, loaded)
    todo, done, later, unknown = pending(
        state, issue_id, clock(), retry_unknown, variants=variants, only=only
    )
    report = SendReport(
        issue_id=issue_id, total=len(todo) + done + len(later) + unknown, already=done
    )
    report.unknown, report.waiting = unknown, len(later)
    report.next_at = min(later, default=None)
    if dry_run:
        for recipient in todo:  # build each message so a bad key or header shows now
            _render(variants.factory(recipient.preferences), recipient, secret, sign)
        report.left = len(todo)
        return report
    if not todo:
        return report
    logger.info("issue %s: %d to send, %d done before", issue_id, len(todo), done)
    own = transport is None
    smtp = transport if transport is not None else SmtpTransport(config)
    interval = 1.0 / config.smtp.rate if config.smtp.rate > 0 else 0.0
    next_at = time.monotonic()
    # The outcome of one message is committed with the claim of the next: one
    # commit (one fsync) per message, and still nothing goes out unclaimed.
    unsettled: Outcome | None = None
    streak = 0
    try:
        for index, recipient in enumerate(todo):
            if stop():
                report.stopped = True
                report.left = len(todo) - index
                break
            previous = _claim(state, issue_id, recipient.id, unsettled, clock(), retry_unknown)
            unsettled = None
            if previous is None:
                report.already += 1  # unsubscribed or finished since the list was read
                continue
            since = previous[1]
            if previous[0] == SENDING:
                report.resumed += 1
                logger.warning(
                    "issue %s: subscriber #%d was being sent to when the last run stopped;"
                    " sending again (the one copy that may arrive twice)",
                    issue_id,
                    recipient.id,
                )
            raw = _render(variants.factory(recipient.preferences), recipient, secret, sign)
            wait = next_at - time.monotonic()
            if wait > 0:
                sleep(wait)
            next_at = max(next_at, time.monotonic()) + interval
            envelope = sender
            if config.smtp.bounce_address:  # VERP: a bounce names its reader
                envelope = verp_address(config.smtp.bounce_address, recipient.id)
            try:
                outcome, detail = deliver(smtp, config.smtp, envelope, recipient, raw, stop, sleep)
                if outcome == FAILED:
                    on_refusal(state, recipient.id, detail)  # stops on an authentication refusal
            except (DeliveryError, ConfigError) as e:  # refused sender, bad setting: none out
                unsettled = (recipient.id, DEFERRED, str(e), None, None)
                raise
            unsettled = settle(config.smtp, recipient, outcome, detail, since, clock())
            outcome = unsettled[1]
            streak = streak + 1 if outcome == UNKNOWN else 0
            if outcome == SENT:
                report.sent += 1
            elif outcome == FAILED:
                report.failed.append((recipient.email, unsettled[2]))
                logger.warning(
                    "issue %s: subscriber #%d %s refused for good: %s",
                    issue_id,
                    recipient.id,
                    mask(recipient.email),
                    unsettled[2],
                )
            elif outcome == UNKNOWN:
                report.unknown += 1
                who = mask(recipient.email)
                logger.warning("issue %s: #%d %s: %s", issue_id, recipient.id, who, detail)
                if streak >= UNKNOWN_STREAK:
                    report.left = len(todo) - index - 1
                    report.last_error = f"{streak} messages in a row unanswered: {detail}"
                    logger.warning("issue %s: stopping: %s", issue_id, report.last_error)
                    break
            elif unsettled[3] is not None:  # a 4xx for this address: a later run retries
                report.waiting += 1
                due = datetime.fromisoformat(unsettled[3])
                report.next_at = min(report.next_at or due, due)
                who = mask(recipient.email)
                logger.warning(
                    "issue %s: subscriber #%d %s deferred until %s: %s",
                    *(issue_id, recipient.id, who, unsettled[3], detail),
                )
            else:
                # The server is unwell: stop here and let the next run go on.
                report.deferred += 1
                report.last_error = detail
                report.left = len(todo) - index - 1
                logger.warning("issue %s: giving up for now after %s", issue_id, detail)
                break
    finally:
        if unsettled is not None:
            record(state, issue_id, unsettled)
        if own:
            smtp.close()
    logger.info(
        "issue %s: %d sent, %d refused, %d waiting, %d unknown, %d deferred, %d left",
        issue_id,
        report.sent,
        len(report.failed),
        report.waiting,
        report.unknown,
        report.deferred,
        report.left,
    )
    return report


def _render(
    factory: MessageFactory,
    recipient: _Recipient,
    secret: bytes,
    sign: Callable[[bytes], bytes] | None,
) -> bytes:
    config, issue_id = factory.config, factory.issue.id
    raw = factory.build(
        to=formataddr((recipient.name, recipient.email)),
        token=make_token(secret, recipient.id, recipient.email),
        date=datetime.now(UTC).astimezone(),
        message_id=personal_message_id(issue_id, recipient.email, config),
    )
    return sign(raw) if sign else raw


def _claim(
    state: State,
    issue_id: str,
    subscriber_id: int,
    settle: Outcome | None,
    now: datetime,
    retry_unknown: bool,
) -> tuple[str, str | None] | None:
    """Record the last message's outcome and mark this pair `sending`, in one commit.

    Returns the row's previous status ("" when new, SENDING after a crash,
    DEFERRED after a give-up) and the time of its first 4xx, or None when it
    must not be sent: already settled, not yet due, or the subscriber left.
    """
    with state.transaction():
        if settle is not None:
            record(state, issue_id, settle)
        row = state.delivery_state(issue_id, subscriber_id)
        if row is None or row[0] != ACTIVE or not _due(row[1], row[2], now, retry_unknown):
            return None
        state.mark_sending(issue_id, subscriber_id, SENDING)
        return row[1] or "", row[3]


def send_test(config: Config, loaded: LoadedIssue, to: str) -> str:
    """Mail one test copy to `to`; nothing is recorded. Returns the normalised address."""
    address = normalise(to)
    secret = token_secret(config)
    sign = dkim_signer(config)
    raw = bytes(
        build_message(
            loaded.issue,
            loaded.rendered,
            config,
            to=address,
            token=make_token(secret, 0, address),
            date=datetime.now(UTC).astimezone(),
        )
    )
    raw = sign(raw) if sign else raw
    recipient = _Recipient(0, address, "")
    with SmtpTransport(config) as smtp:
        outcome, detail = deliver(
            smtp, config.smtp, sender_address(config), recipient, raw, lambda: False, time.sleep
        )
    if outcome != SENT:
        raise DeliveryError(f"the test copy to {mask(address)} was not accepted: {detail}")
    return address
