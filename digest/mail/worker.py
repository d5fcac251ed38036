"""One SMTP connection's share of a send: claim a batch, mail it, record each outcome.

Each worker has its own connection to the state and to its relay. It
claims a few rows at a time (a lease, see store/sendlog.py), and before
each message reserves a slot of the rate limit every sender shares and
marks its row `sending`; a row whose claim it lost meanwhile (its lease ran
out and another sender took it back) is skipped, so a slow worker never
mails a reader that another has in hand. When nothing is left to claim it
settles the leases of senders that died, and goes on with their rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formataddr

from digest.config import Config
from digest.errors import ConfigError, DeliveryError
from digest.issues.message import personal_message_id, sender_address
from digest.mail.bounces import on_refusal, verp_address
from digest.mail.outcomes import DEFERRED, FAILED, SENT, UNKNOWN, deliver, settle
from digest.mail.smtp import SmtpTransport
from digest.mail.subscribers import make_token, mask
from digest.mail.variants import Variants
from digest.models import Subscriber
from digest.store import State

logger = logging.getLogger(__name__)

CLAIM = 20  # rows a worker takes at a time: small, so a dead worker strands few
CLAIM_LEASE = 900.0  # seconds a claimed row waits for its worker before others may take it
UNKNOWN_STREAK = 3  # unanswered ends of DATA in a row that stop a worker
RATE_LIMIT = "smtp"  # the shared limit's name in the state


@dataclass
class SendReport:
    issue_id: str
    total: int = 0  # readers owed the issue when the run started
    sent: int = 0
    already: int = 0  # sent (or refused for good) by an earlier run
    resumed: int = 0  # interrupted mid-send by a crash: sent again
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, masked reply)
    deferred: int = 0  # the server kept failing: the next run goes on from there
    waiting: int = 0  # 4xx for their address: tried again by a later run, from next_at
    next_at: datetime | None = None  # when the first of those is due
    unknown: int = 0  # end of DATA unanswered: maybe delivered, never resent by default
    left: int = 0  # not tried because the run stopped
    elsewhere: int = 0  # in the hands of another sender still at work
    stopped: bool = False  # stopped on request (SIGTERM) between messages
    last_error: str = ""

    @property
    def complete(self) -> bool:
        return self.deferred == 0 and self.left == 0 and self.waiting == 0


@dataclass
class Run:
    """What the workers of one send share."""

    config: Config
    variants: Variants
    issue_id: str
    owner: str  # this process; worker n claims as "<owner>/<n>"
    report: SendReport
    render: Callable[[Variants, Subscriber], bytes]
    stop: Callable[[], bool]
    sleep: Callable[[float], object]
    clock: Callable[[], datetime]
    retry_unknown: bool = False
    only: int | None = None
    claim: int = CLAIM  # rows per claim: fewer on a short list, so every worker gets some
    halt: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def halted(self) -> bool:
        if not self.halt.is_set() and self.stop():
            self.report.stopped = True
            self.halt.set()
        return self.halt.is_set()

    @property
    def sending_lease(self) -> float:
        """Seconds a message may take, retries included, before others count it unknown."""
        s = self.config.smtp
        backoff = sum(s.backoff * 2**n for n in range(s.retries))
        return float((s.retries + 1) * (4 * s.timeout + s.data_timeout) + backoff + 60)


def work(run: Run, state: State, smtp: SmtpTransport, index: int = 0) -> None:
    """Claim and send until nothing is due, the run halts or this connection gives up."""
    owner = f"{run.owner}/{index}"
    streak = 0
    while not run.halted():
        now = run.clock().astimezone(UTC).isoformat(timespec="seconds")
        batch = state.claim(
            run.issue_id, owner, run.claim, CLAIM_LEASE, now,
            retry_unknown=run.retry_unknown, only=run.only,
        )  # fmt: skip
        if not batch and not recover(run, state):
            return
        try:
            for reader, was, since in batch:
                if run.halted():
                    return
                streak = _one(run, state, smtp, owner, reader, was, since, streak)
                if streak < 0:
                    return
        finally:
            state.release(run.issue_id, owner)


def recover(run: Run, state: State) -> int:
    """Settle the leases of other senders: all rows of dead ones, expired rows of living ones.

    Returns how many rows became due again.
    """
    due = 0
    alive: dict[str, bool] = {}
    for owner in state.lease_owners(run.issue_id):
        process = owner.partition("/")[0]
        if process == run.owner:
            continue
        if process not in alive:  # "": a row an older version left `sending`
            alive[process] = bool(process) and state.held_elsewhere(
                sender_lock(process), discard=True
            )
        gone = not alive[process]
        released, interrupted, unknown = state.recover(run.issue_id, owner, gone)
        due += released + interrupted
        if interrupted or unknown:
            logger.warning(
                "issue %s: sender %s %s: %d message(s) in flight %s",
                run.issue_id, owner or "of an older run", "died" if gone else "overran its lease",
                interrupted or unknown, "will be sent again" if gone else "recorded unknown",
            )  # fmt: skip
        if unknown:
            with run.lock:
                run.report.unknown += unknown
    return due


def sender_lock(owner: str) -> str:
    """The lock a sender holds while it runs: free again means it died."""
    return f"sender {owner}"


def _one(
    run: Run,
    state: State,
    smtp: SmtpTransport,
    owner: str,
    reader: Subscriber,
    was: str,
    since: str | None,
    streak: int,
) -> int:
    """Mail one claimed reader; returns the streak of unknown outcomes (-1: stop working)."""
    config, report = run.config, run.report
    raw = run.render(run.variants, reader)
    if config.smtp.rate > 0:
        run.sleep(state.next_slot(RATE_LIMIT, 1.0 / config.smtp.rate))
        if run.halted():
            return -1
    if not state.start(run.issue_id, reader.id, owner, run.sending_lease):
        with run.lock:
            report.already += 1  # unsubscribed, or taken back by another sender
        return streak
    if was == "interrupted":
        with run.lock:
            report.resumed += 1
        logger.warning(
            "issue %s: subscriber #%d was being sent to when a sender died;"
            " sending again (the one copy that may arrive twice)",
            run.issue_id,
            reader.id,
        )
    envelope = sender_of(config, reader.id)
    try:
        outcome, detail = deliver(smtp, config.smtp, envelope, reader, raw, run.halted, run.sleep)
        if outcome == FAILED:
            on_refusal(state, reader.id, detail)  # stops on an authentication refusal
    except (DeliveryError, ConfigError) as e:  # refused sender, bad setting: none out
        state.record_outcome(run.issue_id, reader.id, DEFERRED, str(e))
        run.halt.set()
        raise
    status, detail, next_at, first = settle(config.smtp, outcome, detail, since, run.clock())
    state.record_outcome(run.issue_id, reader.id, status, detail, next_at, first)
    who = f"subscriber #{reader.id} {mask(reader.email)}"
    with run.lock:
        if status == SENT:
            report.sent += 1
        elif status == FAILED:
            report.failed.append((reader.email, detail))
            logger.warning("issue %s: %s refused for good: %s", run.issue_id, who, detail)
        elif status == UNKNOWN:
            report.unknown += 1
            logger.warning("issue %s: %s: %s", run.issue_id, who, detail)
            if streak + 1 >= UNKNOWN_STREAK:
                report.last_error = f"{streak + 1} messages in a row unanswered: {detail}"
                logger.warning("issue %s: stopping: %s", run.issue_id, report.last_error)
                return -1
            return streak + 1
        elif next_at is not None:  # a 4xx for this address: a later run retries
            report.waiting += 1
            due = datetime.fromisoformat(next_at)
            report.next_at = min(report.next_at or due, due)
            logger.warning("issue %s: %s deferred until %s: %s", run.issue_id, who, next_at, detail)
        else:  # the server is unwell: this connection stops, the next run goes on
            report.deferred += 1
            report.last_error = detail
            logger.warning("issue %s: giving up for now after %s", run.issue_id, detail)
            return -1
    return 0


def sender_of(config: Config, subscriber_id: int) -> str:
    """The envelope sender: VERP when a bounce address is set, so a bounce names its reader."""
    if config.smtp.bounce_address:
        return verp_address(config.smtp.bounce_address, subscriber_id)
    return sender_address(config)


def render(
    secret: bytes, sign: Callable[[bytes], bytes] | None
) -> Callable[[Variants, Subscriber], bytes]:
    """The message for one reader: their variant, address, token and Message-ID."""

    def one(variants: Variants, reader: Subscriber) -> bytes:
        factory = variants.factory(reader.preferences)
        config = factory.config
        raw = factory.build(
            to=formataddr((reader.name, reader.email)),
            token=make_token(secret, reader.id, reader.email),
            date=datetime.now(UTC).astimezone(),
            message_id=personal_message_id(factory.issue.id, reader.email, config),
        )
        return sign(raw) if sign else raw

    return one
