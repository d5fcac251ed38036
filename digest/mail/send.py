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
to drop it). A file lock beside the state file keeps two senders from working
on the same list at once.
"""

from __future__ import annotations

import email
import email.policy
import fcntl
import json
import logging
import os
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formataddr
from pathlib import Path
from typing import IO

from digest.config import Config, SmtpSettings
from digest.errors import ConfigError, DeliveryError
from digest.issues.files import read_issues
from digest.issues.message import (
    MessageFactory,
    build_message,
    dkim_signer,
    personal_message_id,
    sender_address,
)
from digest.mail.subscribers import ACTIVE, make_token, mask, normalise, token_secret
from digest.models import Issue, RenderedIssue
from digest.store import State

logger = logging.getLogger(__name__)

SENDING, SENT, FAILED, DEFERRED = "sending", "sent", "failed", "deferred"


class TransientError(DeliveryError):
    """A 4xx reply or a lost connection: worth another try later."""


class PermanentError(DeliveryError):
    """A 5xx reply for one recipient: recorded, never retried."""


class LockedError(DeliveryError):
    """Another `digest send` (or scheduler) holds the lock."""


@dataclass(frozen=True)
class LoadedIssue:
    """A built issue read back from its folder: what a sender needs."""

    issue: Issue
    rendered: RenderedIssue
    folder: Path


def load_issue(output_dir: Path, issue_id: str | None = None) -> LoadedIssue:
    """The named issue, or the newest one, from `output_dir`."""
    if issue_id is None:
        records = read_issues(output_dir)
        if not records:
            raise DeliveryError(f"no issue in {output_dir}: run `digest build` first")
        issue_id = str(records[0]["id"])
    folder = output_dir / issue_id
    try:
        record = json.loads((folder / "issue.json").read_text(encoding="utf-8"))
        html = (folder / "email.html").read_text(encoding="utf-8")
        text = (folder / "email.txt").read_text(encoding="utf-8")
        eml = email.message_from_bytes(
            (folder / "message.eml").read_bytes(), policy=email.policy.default
        )
        generated = datetime.fromisoformat(str(record["generated_at"]))
    except FileNotFoundError as e:
        raise DeliveryError(f"issue {issue_id!r}: {e.filename} is missing") from None
    except (OSError, ValueError, KeyError) as e:
        raise DeliveryError(f"issue {issue_id!r} in {folder} is unreadable: {e}") from None
    issue = Issue(
        id=issue_id,
        title=str(record.get("title", "")),
        generated_at=generated,
        stories=(),
        feeds=(),
    )
    rendered = RenderedIssue(subject=str(eml["Subject"] or issue.title), html=html, text=text)
    return LoadedIssue(issue, rendered, folder)


def smtp_password(settings: SmtpSettings) -> str | None:
    """The AUTH password from the environment, or None when no username is set."""
    if not settings.username:
        return None
    password = os.environ.get(settings.password_env)
    if not password:
        raise ConfigError(
            f"smtp.username is set: put the password in the environment variable"
            f" {settings.password_env} (smtp.password_env names it)"
        )
    return password


class SmtpTransport:
    """One SMTP connection, opened on first use and reused for every message."""

    def __init__(self, config: Config) -> None:
        self.settings = config.smtp
        self._password = smtp_password(config.smtp)
        self._ca_file = str(config.resolve(config.smtp.ca_file)) if config.smtp.ca_file else None
        self._smtp: smtplib.SMTP | None = None
        self.connections = 0

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        where = f"{s.host}:{s.port}"
        smtp: smtplib.SMTP | None = None
        try:
            context = ssl.create_default_context(cafile=self._ca_file)
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            # A message is written as several TLS records; without NODELAY, Nagle holds
            # the last one until the server's delayed ACK (40 ms a message).
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(f"{where} does not offer STARTTLS (smtp.security)")
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username and self._password is not None:
                smtp.login(s.username, self._password)
        except smtplib.SMTPAuthenticationError as e:
            _quietly_close(smtp)
            raise DeliveryError(
                f"{where} refused the login for {s.username!r} ({e.smtp_code});"
                f" check smtp.username and {s.password_env}"
            ) from None
        except (ssl.SSLCertVerificationError, ssl.CertificateError) as e:
            _quietly_close(smtp)
            raise DeliveryError(
                f"{where}: the TLS certificate is not trusted ({e}); smtp.ca_file can add a CA"
            ) from None
        except smtplib.SMTPNotSupportedError as e:
            _quietly_close(smtp)
            raise DeliveryError(f"{where}: {e} (check smtp.security and smtp.username)") from None
        except smtplib.SMTPResponseException as e:
            _quietly_close(smtp)
            if 400 <= e.smtp_code < 500:
                raise TransientError(f"{where} answered {e.smtp_code} on connect") from None
            raise DeliveryError(f"{where} answered {e.smtp_code}: {_text(e.smtp_error)}") from None
        except (OSError, smtplib.SMTPException) as e:
            _quietly_close(smtp)
            raise TransientError(f"cannot reach {where}: {e}") from None
        self.connections += 1
        logger.info("connected to %s (%s)", where, s.security)
        return smtp

    def send(self, sender: str, recipient: str, raw: bytes) -> str:
        """Hand one message to the server; returns its reply to DATA.

        Raises TransientError (the connection is dropped, the next call
        reconnects), PermanentError for this recipient, or DeliveryError when
        the server refuses the sender itself.
        """
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        options = [] if recipient.isascii() else ["SMTPUTF8"]
        try:
            smtp.sendmail(sender, [recipient], raw, mail_options=options)
            return "250"
        except smtplib.SMTPRecipientsRefused as e:
            code, text = next(iter(e.recipients.values()), (451, b"refused"))
            return self._fail(code, text)
        except smtplib.SMTPSenderRefused as e:
            if 400 <= e.smtp_code < 500:
                return self._fail(e.smtp_code, e.smtp_error)
            self.close()
            raise DeliveryError(
                f"the server refused the sender {sender} ({e.smtp_code}): {_text(e.smtp_error)}"
            ) from None
        except smtplib.SMTPResponseException as e:
            return self._fail(e.smtp_code, e.smtp_error)
        except (OSError, smtplib.SMTPException) as e:
            self._drop()
            raise TransientError(f"connection lost: {type(e).__name__}: {e}") from None

    def _fail(self, code: int, text: bytes | str) -> str:
        detail = f"{code} {_text(text)}"
        if 500 <= code < 600:
            raise PermanentError(detail)
        self._drop()  # 421 closes the session; after any 4xx a fresh one is simplest
        raise TransientError(detail)

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        _quietly_close(smtp, polite=False)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        _quietly_close(smtp)


def _quietly_close(smtp: smtplib.SMTP | None, polite: bool = True) -> None:
    if smtp is None:
        return
    try:
        if polite:
            smtp.quit()
    except (OSError, smtplib.SMTPException):
        pass
    with suppress(OSError):
        smtp.close()


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return " ".join(text.split())


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


def pending(state: State, issue_id: str) -> tuple[list[_Recipient], int]:
    """Active subscribers still owed `issue_id`, and how many already have their outcome."""
    rows = state.db.execute(
        "SELECT s.id, s.email, s.name, l.status FROM subscribers s"
        " LEFT JOIN send_log l ON l.subscriber_id = s.id AND l.issue_id = ?"
        " WHERE s.status = ? ORDER BY s.id",
        (issue_id, ACTIVE),
    ).fetchall()
    todo = [_Recipient(r[0], r[1], r[2]) for r in rows if r[3] not in (SENT, FAILED)]
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
) -> SendReport:
    """Mail `loaded` to every active subscriber who does not have it yet.

    `stop` is asked between messages (the scheduler's SIGTERM flag); `sleep`
    waits for the rate limit and the retry backoff.
    """
    secret = token_secret(config)
    sign = dkim_signer(config)
    sender = sender_address(config)
    issue_id = loaded.issue.id
    todo, done = pending(state, issue_id)
    factory = MessageFactory(loaded.issue, loaded.rendered, config)
    report = SendReport(issue_id=issue_id, total=len(todo) + done, already=done)
    if dry_run:
        for recipient in todo:  # build each message so a bad key or header shows now
            _render(factory, recipient, secret, sign)
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
            raw = _render(factory, recipient, secret, sign)
            wait = next_at - time.monotonic()
            if wait > 0:
                sleep(wait)
            next_at = max(next_at, time.monotonic()) + interval
            try:
                outcome, detail = _deliver(smtp, config.smtp, sender, recipient, raw, stop, sleep)
            except DeliveryError as e:  # the server refused the sender: nothing went out
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
            _record(state, issue_id, *unsettled)
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
            _record(state, issue_id, *settle)
        row = state.db.execute(
            "SELECT s.status, l.status FROM subscribers s"
            " LEFT JOIN send_log l ON l.subscriber_id = s.id AND l.issue_id = ?"
            " WHERE s.id = ?",
            (issue_id, subscriber_id),
        ).fetchone()
        if row is None or row[0] != ACTIVE or row[1] in (SENT, FAILED):
            return None
        state.db.execute(
            "INSERT INTO send_log (issue_id, subscriber_id, status, attempts, updated_at)"
            " VALUES (?, ?, ?, 1, ?) ON CONFLICT (issue_id, subscriber_id) DO UPDATE"
            " SET status = excluded.status, attempts = attempts + 1,"
            " updated_at = excluded.updated_at",
            (issue_id, subscriber_id, SENDING, _now()),
        )
        return row[1] or ""


def _record(state: State, issue_id: str, subscriber_id: int, status: str, detail: str) -> None:
    state.db.execute(
        "UPDATE send_log SET status = ?, detail = ?, updated_at = ?"
        " WHERE issue_id = ? AND subscriber_id = ?",
        (status, detail[:500], _now(), issue_id, subscriber_id),
    )


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


def sent_log(state: State, issue_id: str) -> dict[str, str]:
    """Address → status of every send-log row for `issue_id`."""
    rows = state.db.execute(
        "SELECT s.email, l.status FROM send_log l JOIN subscribers s ON s.id = l.subscriber_id"
        " WHERE l.issue_id = ?",
        (issue_id,),
    )
    return {email: status for email, status in rows}


@contextmanager
def send_lock(state_path: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold `<state file>.lock` (flock) while sending; LockedError if another holds it.

    The kernel drops the lock when its holder dies, kill -9 included, so a
    crash never leaves a stale lock behind.
    """
    path = state_path.with_name(state_path.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held until exit)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "?"
                    raise LockedError(
                        f"another digest send or schedule (pid {holder}) is using {path.name};"
                        " wait for it to finish (or use --wait SECONDS)"
                    ) from None
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
