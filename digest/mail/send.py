"""Send a built issue to every active subscriber over SMTP, each exactly once.

The send log (`send_log` in the state) has one row per (issue, subscriber),
written `pending` when a run starts. Workers (`worker.py`, one SMTP
connection each; `--workers N`, or several `digest send` processes on
several machines sharing one PostgreSQL) claim rows in batches under a lease
and mark each `sending` just before its message goes out, then record:

- `sent`: the server's 250 reply to DATA.
- `failed`: a 5xx for this address, or 4xx replies for longer than
  `[smtp] give_up_hours`; never retried.
- `deferred` with `next_attempt_at`: a 4xx for this address (greylisting, a
  full mailbox). A later run tries this reader again once that time has
  come, waiting `defer_minutes` and then about as long again as it has
  already waited (exponential, 6 h at most). A server-wide failure (lost
  connection, 421, a 4xx to DATA) that outlasts `retries` stops that
  connection instead, and that reader is due at once (another connection,
  or the next run, takes it).
- `unknown`: the message went out whole but the end of DATA was not
  answered within `data_timeout`, or the lease of a sender still alive ran
  out while it was sending. The server may have taken it, so no run sends it
  again unless told to (`digest send --retry-unknown`, after checking the
  relay's log). Three in a row stop a connection: the relay is too slow.

A sender holds a lock for as long as it runs (dropped by the kernel or the
database when it dies). When it is gone, its claimed rows go back to the
queue and the ones it was sending become `interrupted`: the server may have
taken that one message, so it is sent again (with the same Message-ID,
which mail stores use to drop it) and is the only copy that can arrive
twice, one per connection per crash. `[smtp] rate` is one limit for all
senders, kept in the state.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from digest.config import Config
from digest.errors import DeliveryError
from digest.issues.files import LoadedIssue
from digest.issues.message import build_message, dkim_signer, sender_address
from digest.mail.outcomes import SENT, deliver
from digest.mail.smtp import SmtpTransport
from digest.mail.subscribers import ACTIVE, make_token, mask, normalise, token_secret
from digest.mail.variants import Variants
from digest.mail.worker import Run, SendReport, recover, render, sender_lock, work
from digest.models import Preferences, Subscriber
from digest.store import State

__all__ = ["SendReport", "send_issue", "send_test"]

logger = logging.getLogger(__name__)


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
    workers: int | None = None,
) -> SendReport:
    """Mail `loaded` to every active subscriber who does not have it yet.

    `stop` is asked between messages (the scheduler's SIGTERM flag); `sleep`
    waits for the rate limit and the retry backoff; `clock` says when
    deferred readers are due. `retry_unknown` sends again to readers whose
    last message went unanswered. Each reader gets the variant of their
    preferences (mail/variants.py); `only` mails one reader. `workers`
    (default `[smtp] workers`) SMTP connections send at once.
    """
    issue_id = loaded.issue.id
    variants = Variants(config, loaded)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    run = Run(
        config, variants, issue_id, owner, SendReport(issue_id),
        render(token_secret(config), dkim_signer(config)),
        stop, sleep, clock, retry_unknown, only,
    )  # fmt: skip
    if dry_run:
        with state.scratch():  # who would be owed it, without writing them down
            _enqueue(state, run)
            _count(state, run, before=True)
            for reader in state.due(issue_id, _now(run), retry_unknown=retry_unknown, only=only):
                run.render(variants, reader)  # so a bad key or header shows now
        return run.report
    with state.lock(sender_lock(owner), discard=True):
        _enqueue(state, run)
        recover(run, state)  # senders that died: their rows are due again
        _count(state, run, before=True)
        if run.report.left:
            logger.info("issue %s: %d to send", issue_id, run.report.left)
            workers = workers or config.smtp.workers
            run.claim = max(1, min(run.claim, run.report.left // (2 * workers)))
            _work_all(config, state, run, transport, workers)
        _count(state, run, before=False)
    report = run.report
    logger.info(
        "issue %s: %d sent, %d refused, %d waiting, %d unknown, %d deferred, %d left",
        issue_id, report.sent, len(report.failed), report.waiting, report.unknown,
        report.deferred, report.left,
    )  # fmt: skip
    return report


def _now(run: Run) -> str:
    return run.clock().astimezone(UTC).isoformat(timespec="seconds")


def _enqueue(state: State, run: Run) -> None:
    """A `pending` row for each reader this issue is owed to (their preferences decide)."""
    if run.only is not None:
        reader = state.subscriber(run.only)
        if (
            reader is not None
            and reader.status == ACTIVE
            and run.variants.wants(reader.preferences, any_cadence=True)
        ):
            state.enqueue(run.issue_id, everyone=False, ids=[reader.id])
        return
    with state.transaction():
        state.enqueue(
            run.issue_id,
            everyone=run.variants.wants(Preferences()),
            ids=(
                s.id
                for s in state.each_subscriber(ACTIVE, custom=True)
                if run.variants.wants(s.preferences)
            ),
        )


def _count(state: State, run: Run, *, before: bool) -> None:
    """Fill the report from the send log, before the run and after it."""
    report = run.report
    tally = state.tally(run.issue_id, _now(run), run.only)
    counts = {status: (rows, at) for status, rows, at in tally}

    def rows(*statuses: str) -> int:
        return sum(counts[s][0] for s in statuses if s in counts)

    due = ("pending", "interrupted", "deferred", *(("unknown",) if run.retry_unknown else ()))
    report.left = max(0, rows(*due) - report.deferred)
    report.elsewhere = rows("claimed", "sending")
    if before:
        report.total = rows(*counts)
        report.already = rows("sent", "failed")
        report.unknown = 0 if run.retry_unknown else rows("unknown")
        report.waiting = rows("waiting")
    if counts.get("waiting", (0, None))[1]:
        first = datetime.fromisoformat(str(counts["waiting"][1]))
        report.next_at = min(report.next_at or first, first)


def _work_all(
    config: Config, state: State, run: Run, transport: SmtpTransport | None, workers: int
) -> None:
    """`workers` connections at once, each in its own thread with its own state connection."""
    if workers <= 1 or state.db.where == ":memory:":
        smtp = transport if transport is not None else SmtpTransport(config)
        try:
            work(run, state, smtp)
        finally:
            if transport is None:
                smtp.close()
        return
    errors: list[BaseException] = []

    def one(index: int) -> None:
        try:
            with State(state.target) as own, SmtpTransport(config, relay=index) as smtp:
                work(run, own, smtp, index)
        except BaseException as e:  # re-raised in the caller's thread
            errors.append(e)
            run.halt.set()

    threads = [threading.Thread(target=one, args=(i,), name=f"send-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


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
    recipient = Subscriber(0, address, "", ACTIVE, "")
    with SmtpTransport(config) as smtp:
        outcome, detail = deliver(
            smtp, config.smtp, sender_address(config), recipient, raw, lambda: False, time.sleep
        )
    if outcome != SENT:
        raise DeliveryError(f"the test copy to {mask(address)} was not accepted: {detail}")
    return address
