"""Send a built issue to every active subscriber over SMTP, each exactly once.

The send log (`send_log` in the state file) has one row per (issue,
subscriber). Before a message goes out its row is claimed as `sending` and
committed; after the server's 250 reply to DATA it becomes `sent` (or
`failed` for a permanent 5xx, or `deferred` when transient failures outlast
the retries), committed together with the next claim. A rerun skips `sent`
and `failed` rows, so a crash, a kill -9 or a dropped connection never mails
anyone twice, with one exception that no client can close: the server
accepted the message and the process died before `sent` was committed. That
row is still `sending`; the rerun sends it again, so at most one reader per
crash can get a second copy (with the same Message-ID, which mail stores use
to drop it). A file lock beside the state file (`lock.py`) keeps two senders
from working on the same list at once; `smtp.py` is the connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formataddr

from digest.config import Config, SmtpSettings
from digest.errors import ConfigError, DeliveryError, PermanentError, TransientError
from digest.issues.files import LoadedIssue
from digest.issues.message import (
    MessageFactory,
    build_message,
    dkim_signer,
    personal_message_id,
    sender_address,
)
from digest.mail.bounces import on_refusal, verp_address
from digest.mail.smtp import SmtpTransport
from digest.mail.subscribers import ACTIVE, make_token, mask, normalise, token_secret
from digest.mail.variants import Variants
from digest.models import Preferences
from digest.store import State

logger = logging.getLogger(__name__)

SENDING, SENT, FAILED, DEFERRED = "sending", "sent", "failed", "deferred"


@dataclass
class SendReport:
    issue_id: str
    total: int = 0  # active subscribers when the run started
    sent: int = 0
    already: int = 0  # sent (or refused for good) by an earlier run
    resumed: int = 0  # interrupted mid-send last time: sent again
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, server reply)
    deferred: int = 0  # transient failures outlasted the retries: next run tries again
    left: int = 0  # not tried because the run stopped
    stopped: bool = False  # stopped on request (SIGTERM) between messages
    last_error: str = ""

    @property
    def complete(self) -> bool:
        return self.deferred == 0 and self.left == 0


@dataclass(frozen=True)
class _Recipient:
    id: int
    email: str
    name: str
    preferences: Preferences = field(default_factory=Preferences)


def pending(
    state: State, issue_id: str, variants: Variants | None = None, only: int | None = None
) -> tuple[list[_Recipient], int]:
    """Active subscribers still owed `issue_id`, and how many already have their outcome.

    With `variants`, only readers whose cadence and sources this issue serves;
    `only` picks one reader whatever their cadence (the welcome mail).
    """
    rows = [
        (s, status)
        for s, status in state.owed(issue_id)
        if (only is None or s.id == only)
        and (variants is None or variants.wants(s.preferences, any_cadence=only is not None))
    ]
    todo = [
        _Recipient(s.id, s.email, s.name, s.preferences)
        for s, status in rows
        if status not in (SENT, FAILED)
    ]
    return todo, len(rows) - len(todo)


def send_issue(
    config: Config,
    state: State,
    loaded: LoadedIssue,
    *,
    transport: SmtpTransport | None = None,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], object] = time.sleep,
    dry_run: bool = False,
    only: int | None = None,
) -> SendReport:
    """Mail `loaded` to every active subscriber who does not have it yet.

    `stop` is asked between messages (the scheduler's SIGTERM flag); `sleep`
    waits for the rate limit and the retry backoff. Each reader gets the
    variant of their preferences (mail/variants.py); `only` mails one reader.
    """
    secret = token_secret(config)
    sign = dkim_signer(config)
    sender = sender_address(config)
    issue_id = loaded.issue.id
    variants = Variants(config, loaded)
    todo, done = pending(state, issue_id, variants, only)
    report = SendReport(issue_id=issue_id, total=len(todo) + done, already=done)
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
    unsettled: tuple[int, str, str] | None = None
    try:
        for index, recipient in enumerate(todo):
            if stop():
                report.stopped = True
                report.left = len(todo) - index
                break
            previous = _claim(state, issue_id, recipient.id, unsettled)
            unsettled = None
            if previous is None:
                report.already += 1  # unsubscribed or finished since the list was read
                continue
            if previous == SENDING:
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
                outcome, detail = _deliver(smtp, config.smtp, envelope, recipient, raw, stop, sleep)
                if outcome == FAILED:
                    on_refusal(state, recipient.id, detail)  # stops on an authentication refusal
            except (DeliveryError, ConfigError) as e:  # refused as a sender: nothing went out
                unsettled = (recipient.id, DEFERRED, str(e))
                raise
            unsettled = (recipient.id, outcome, detail)
            if outcome == SENT:
                report.sent += 1
            elif outcome == FAILED:
                report.failed.append((recipient.email, detail))
                logger.warning(
                    "issue %s: %s refused for good: %s",
                    issue_id,
                    mask(recipient.email),
                    detail.split(" ", 1)[0],
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
            state.record_outcome(issue_id, *unsettled)
        if own:
            smtp.close()
    logger.info(
        "issue %s: %d sent, %d refused, %d deferred, %d left",
        issue_id,
        report.sent,
        len(report.failed),
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


def _deliver(
    smtp: SmtpTransport,
    settings: SmtpSettings,
    sender: str,
    recipient: _Recipient,
    raw: bytes,
    stop: Callable[[], bool],
    sleep: Callable[[float], object],
) -> tuple[str, str]:
    """(SENT | FAILED | DEFERRED, server reply); retries transient failures with backoff."""
    detail = ""
    for attempt in range(settings.retries + 1):
        try:
            return SENT, smtp.send(sender, recipient.email, raw)
        except PermanentError as e:
            return FAILED, str(e)
        except TransientError as e:
            detail = str(e)
            if attempt == settings.retries or stop():
                break
            delay = settings.backoff * 2**attempt
            logger.info("transient failure (%s); retrying in %.1f s", detail, delay)
            sleep(delay)
    return DEFERRED, detail


def _claim(
    state: State, issue_id: str, subscriber_id: int, settle: tuple[int, str, str] | None
) -> str | None:
    """Record the last message's outcome and mark this pair `sending`, in one commit.

    Returns the row's previous status ("" when new, SENDING after a crash,
    DEFERRED after a give-up) or None when it must not be sent: already
    sent or refused, or the subscriber left meanwhile.
    """
    with state.transaction():
        if settle is not None:
            state.record_outcome(issue_id, *settle)
        row = state.delivery(issue_id, subscriber_id)
        if row is None or row[0] != ACTIVE or row[1] in (SENT, FAILED):
            return None
        state.mark_sending(issue_id, subscriber_id, SENDING)
        return row[1] or ""


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
        outcome, detail = _deliver(
            smtp, config.smtp, sender_address(config), recipient, raw, lambda: False, time.sleep
        )
    if outcome != SENT:
        raise DeliveryError(f"the test copy to {address} was not accepted: {detail}")
    return address
