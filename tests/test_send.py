"""digest send: a real aiosmtpd server on 127.0.0.1, STARTTLS with a fresh CA, AUTH.

Messages are parsed back with the `email` package; the send log is checked
against what the server received, after failures, kills and races.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from typer.testing import CliRunner

from digest.cli import app
from digest.config import Config, load_config
from digest.errors import ConfigError, DigestError, LockedError
from digest.issues.files import LoadedIssue, load_issue
from digest.issues.publish import publish
from digest.mail import subscribers
from digest.mail.lock import send_lock
from digest.mail.send import SENDING, send_issue, send_test
from digest.models import Issue, Story
from digest.store import State

USER, PASSWORD = "insider", "pw-Kx81-never-logged"
SECRET = "token-secret-7f3a9c1e55b2d4e6"
ISSUE_ID = "2026-11-26"
NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


# The server -------------------------------------------------------------------


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes
    tls: bool
    authenticated: bool
    session: int


def _opened(event: threading.Event) -> threading.Event:
    event.set()
    return event


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it accepts and misbehaves on request."""

    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address → RCPT reply
    data_replies: list[str] = field(default_factory=list)  # replies to DATA before a 250
    drops: int = 0  # drop the connection at DATA this many times, before accepting
    delay: float = 0.0  # seconds per accepted message
    reply_delay: float = 0.0  # seconds between taking a message and saying so (a slow relay)
    gate: threading.Event = field(default_factory=lambda: _opened(threading.Event()))
    sessions: set[int] = field(default_factory=set)  # connections that delivered
    peers: set[int] = field(default_factory=set)  # connections that reached DATA
    rcpts: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        self.rcpts.append(address)
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert server.transport is not None
        self.peers.add(server.transport.get_extra_info("peername")[1])
        if self.drops > 0:
            self.drops -= 1
            assert server.transport is not None
            server.transport.abort()
            return "250 never heard"
        if self.data_replies:
            return self.data_replies.pop(0)
        if self.delay:
            await asyncio.sleep(self.delay)
        while not self.gate.is_set():  # held by the test
            await asyncio.sleep(0.02)
        content = envelope.original_content or b""
        assert server.transport is not None
        peer = server.transport.get_extra_info("peername")
        self.sessions.add(peer[1])
        self.messages.append(
            Received(
                sender=str(envelope.mail_from),
                recipients=list(envelope.rcpt_tos),
                raw=content,
                tls=server.transport.get_extra_info("ssl_object") is not None,
                authenticated=bool(session.authenticated),
                session=peer[1],
            )
        )
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        return "250 2.0.0 queued"

    def count(self) -> Counter[str]:
        return Counter(r for m in self.messages for r in m.recipients)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def authenticate(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class Mailserver:
    handler: Recorder
    port: int
    ca_file: Path


@pytest.fixture(scope="module")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


def start_server(ca: trustme.CA, ca_file: Path, implicit_tls: bool = False) -> Iterator[Mailserver]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    handler = Recorder()
    port = free_port()
    tls: dict[str, Any] = (
        {"ssl_context": context}
        if implicit_tls
        else {"tls_context": context, "require_starttls": True}
    )
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        # aiosmtpd only knows of STARTTLS; with implicit TLS the socket is already TLS.
        auth_require_tls=not implicit_tls,
        auth_exclude_mechanism=["LOGIN"],
        **tls,
    )
    controller.start()
    try:
        yield Mailserver(handler, port, ca_file)
    finally:
        controller.stop()


@pytest.fixture
def server(tls_ca: tuple[trustme.CA, Path]) -> Iterator[Mailserver]:
    yield from start_server(*tls_ca)


# The newsletter -------------------------------------------------------------


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", PASSWORD)


def write_config(
    folder: Path, server: Mailserver, *, security: str = "starttls", **smtp: object
) -> Path:
    settings: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": security,
        "username": USER,
        "password_env": "TEST_SMTP_PASSWORD",
        "rate": 0,
        "retries": 3,
        "backoff": 0.01,
        "timeout": 5,
        "ca_file": str(server.ca_file),
    }
    settings.update(smtp)
    lines = [
        "[newsletter]",
        'title = "Test Insider"',
        'from = "Test Insider <insider@news.example.com>"',
        'unsubscribe = "https://news.example.com/unsubscribe?t={token}"',
        'postal_address = "1 Main Street, Springfield"',
        "",
        "[[feeds]]",
        'url = "feed.xml"',
        "",
        "[smtp]",
    ]
    for key, value in settings.items():
        lines.append(f"{key} = {value!r}".replace("'", '"'))
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_issue() -> Issue:
    story = Story(
        title="Déjà vu: the Citroën returns",
        url="https://www.example.com/citroen",
        source="Auto Wire",
        author="Zoë",
        published=NOW - timedelta(hours=5),
        image=None,
        summary=("The company’s “new” car looks familiar.", "Critics say ça suffit."),
        comment_count=2,
    )
    return Issue(id=ISSUE_ID, title="Test Insider", generated_at=NOW, stories=(story,), feeds=())


@dataclass
class Letter:
    config_path: Path
    config: Config
    loaded: LoadedIssue
    addresses: list[str]


def setup_letter(folder: Path, server: Mailserver, count: int = 3, **smtp: object) -> Letter:
    config_path = write_config(folder, server, **smtp)
    config = load_config(config_path)
    publish(make_issue(), config, config.output_dir)
    names = ["Zoë Ångström", "", "Bob"]
    addresses = [f"reader{n:03d}@example.org" for n in range(count)]
    with State(config.state_path) as state:
        for n, address in enumerate(addresses):
            subscribers.add(state, address, names[n % 3])
    return Letter(config_path, config, load_issue(config.output_dir), addresses)


def run_send(letter: Letter, **kwargs: Any) -> Any:
    with State(letter.config.state_path) as state:
        return send_issue(letter.config, state, letter.loaded, **kwargs)


def log_of(letter: Letter) -> dict[str, str]:
    with State(letter.config.state_path) as state:
        return state.send_log(ISSUE_ID)


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


# Tests ----------------------------------------------------------------------


def test_starttls_auth_one_connection_and_headers(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server)
    report = run_send(letter)
    assert (report.sent, report.failed, report.complete) == (3, [], True)
    received = server.handler.messages
    assert [m.recipients for m in received] == [[a] for a in letter.addresses]
    assert all(m.tls and m.authenticated for m in received)
    assert len(server.handler.sessions) == 1  # one connection reused
    with State(letter.config.state_path) as state:
        rows = {s.email: s for s in state.subscribers()}
        for message in received:
            parsed = parse(message.raw)
            (address,) = message.recipients
            assert message.sender == "insider@news.example.com"
            assert parsed["From"] == "Test Insider <insider@news.example.com>"
            assert parsed["To"].addresses[0].addr_spec == address
            assert len(parsed["To"].addresses) == 1 and "Cc" not in parsed
            assert parsed["Subject"] == letter.loaded.rendered.subject
            assert abs(parsedate_to_datetime(parsed["Date"]) - datetime.now(UTC)) < timedelta(
                minutes=5
            )
            assert parsed["Message-ID"].endswith("@news.example.com>")
            assert parsed["List-Id"] == '"Test Insider" <test-insider.news.example.com>'
            assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            mailto, url = (t.strip(" <>") for t in parsed["List-Unsubscribe"].split(","))
            token = url.rpartition("t=")[2]
            assert url == f"https://news.example.com/unsubscribe?t={token}"
            assert mailto == f"mailto:insider@news.example.com?subject=unsubscribe%20{token}"
            holder = subscribers.check_token(state, SECRET.encode(), token)
            assert holder.email == address == rows[address].email
            assert parsed.get_content_type() == "multipart/alternative"
            parts = list(parsed.iter_parts())
            assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
            assert all(p.get_content_charset() == "utf-8" for p in parts)
            assert "Déjà vu: the Citroën returns" in parts[0].get_content()
            assert "Déjà vu: the Citroën returns" in parts[1].get_content()
            for part in parts:  # the footer's unsubscribe link is this reader's
                assert f"https://news.example.com/unsubscribe?t={token}" in part.get_content()
                assert "token}" not in part.get_content() and "%7Btoken" not in part.get_content()
    first = parse(received[0].raw)
    assert str(first["To"]) == "Zoë Ångström <reader000@example.org>"
    assert len({parse(m.raw)["Message-ID"] for m in received}) == 3
    assert set(log_of(letter).values()) == {"sent"}
    again = run_send(letter)  # a rerun mails no one
    assert (again.sent, again.already) == (0, 3)
    assert len(server.handler.messages) == 3


def test_implicit_tls(tmp_path: Path, tls_ca: tuple[trustme.CA, Path]) -> None:
    for server in start_server(*tls_ca, implicit_tls=True):
        letter = setup_letter(tmp_path, server, count=2, security="tls", port=server.port)
        assert run_send(letter).sent == 2
        assert all(m.tls and m.authenticated for m in server.handler.messages)


def test_421_and_451_for_a_while_are_retried(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=4, retries=4)
    server.handler.data_replies = ["421 4.3.2 shutting down", "451 4.3.0 busy", "451 4.3.0 busy"]
    report = run_send(letter)
    assert report.sent == 4 and report.complete
    assert server.handler.count() == Counter(letter.addresses)
    assert len(server.handler.peers) >= 2  # 421 closed the first connection
    with State(letter.config.state_path) as state:
        attempts = dict(state.db.execute("SELECT subscriber_id, attempts FROM send_log"))
    assert sum(attempts.values()) == 4  # retries are within one claim


def test_server_down_too_long_defers_then_rerun_finishes(
    tmp_path: Path, server: Mailserver
) -> None:
    letter = setup_letter(tmp_path, server, count=5, retries=2)
    run_send(letter, stop=lambda: len(server.handler.messages) >= 2)
    server.handler.data_replies = ["451 4.3.0 busy"] * 3  # more than 1 + 2 retries
    report = run_send(letter)
    assert (report.sent, report.deferred, report.left, report.complete) == (0, 1, 2, False)
    assert "451" in report.last_error
    assert log_of(letter)[letter.addresses[2]] == "deferred"
    report = run_send(letter)
    assert (report.sent, report.already, report.complete) == (3, 2, True)
    assert server.handler.count() == Counter(letter.addresses)


def test_550_for_one_recipient_is_recorded_and_not_retried(
    tmp_path: Path, server: Mailserver
) -> None:
    letter = setup_letter(tmp_path, server, count=3)
    bad = letter.addresses[1]
    server.handler.refuse[bad] = "550 5.1.1 <reader001@example.org>: no such user"
    report = run_send(letter)
    assert report.sent == 2 and report.complete
    assert report.failed == [(bad, "550 5.1.1 <r***@example.org>: no such user")]
    assert log_of(letter)[bad] == "failed"
    tries = server.handler.rcpts.count(bad)
    assert tries == 1
    assert run_send(letter).sent == 0
    assert server.handler.rcpts.count(bad) == 1  # never tried again
    result = CliRunner().invoke(app, ["send", "-c", str(letter.config_path)])
    assert result.exit_code == 0, result.output  # nothing left: the refusal was reported before


def test_dropped_connection_is_retried(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=3)
    server.handler.drops = 2
    assert run_send(letter).sent == 3
    assert server.handler.count() == Counter(letter.addresses)


def test_stop_between_messages(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=5)
    report = run_send(letter, stop=lambda: len(server.handler.messages) >= 2)
    assert (report.sent, report.left, report.stopped) == (2, 3, True)
    assert sorted(log_of(letter).values()) == ["sent", "sent"]
    assert run_send(letter).sent == 3
    assert server.handler.count() == Counter(letter.addresses)


def test_unsubscribed_are_never_mailed(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=3)
    with State(letter.config.state_path) as state:
        subscribers.remove(state, letter.addresses[0])
        subscribers.import_csv(state, __import__("io").StringIO(f"email\n{letter.addresses[0]}\n"))
    assert run_send(letter).total == 2
    assert letter.addresses[0] not in server.handler.count()


def test_rate_limit(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=4, rate=20)
    started = time.monotonic()
    assert run_send(letter).sent == 4
    assert time.monotonic() - started >= 3 / 20 * 0.9


def test_test_copy_records_nothing(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=2)
    result = CliRunner().invoke(
        app, ["send", "--to", "Editor@Example.COM", "-c", str(letter.config_path)]
    )
    assert result.exit_code == 0, result.output
    assert "sent to Editor@example.com" in result.output
    assert [m.recipients for m in server.handler.messages] == [["Editor@example.com"]]
    assert log_of(letter) == {}
    assert run_send(letter).sent == 2


def test_dry_run_sends_nothing(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=2)
    result = CliRunner().invoke(app, ["send", "--dry-run", "-c", str(letter.config_path)])
    assert result.exit_code == 0, result.output
    assert "2 would be sent" in result.output
    assert server.handler.messages == [] and log_of(letter) == {}


def test_configuration_errors(tmp_path: Path, server: Mailserver, monkeypatch: Any) -> None:
    letter = setup_letter(tmp_path, server, count=1)
    monkeypatch.delenv("TEST_SMTP_PASSWORD")
    with pytest.raises(ConfigError, match="TEST_SMTP_PASSWORD"):
        run_send(letter)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong-password-xyz")
    with pytest.raises(ConfigError, match="refused the login") as info:
        run_send(letter)
    assert "wrong-password-xyz" not in str(info.value)
    monkeypatch.delenv("DIGEST_UNSUBSCRIBE_SECRET")
    result = CliRunner().invoke(app, ["send", "-c", str(letter.config_path)])
    assert result.exit_code == 2 and "DIGEST_UNSUBSCRIBE_SECRET" in result.output
    assert server.handler.messages == []


def test_untrusted_certificate_is_a_clear_error(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=1, ca_file="")
    with pytest.raises(ConfigError, match="certificate is not trusted"):
        run_send(letter)


def test_no_secret_or_address_in_any_log_line(
    tmp_path: Path, server: Mailserver, caplog: pytest.LogCaptureFixture
) -> None:
    letter = setup_letter(tmp_path, server, count=4, retries=1)
    server.handler.refuse[letter.addresses[1]] = "550 5.1.1 <reader001@example.org>: unknown"
    server.handler.data_replies = ["451 4.3.0 busy"]
    server.handler.drops = 1
    caplog.set_level(logging.DEBUG)
    with State(letter.config.state_path) as state:
        subscribers.add(state, "late@example.net")
        subscribers.remove(state, "late@example.net")
    run_send(letter)
    run_send(letter)
    result = CliRunner().invoke(app, ["send", "-v", "-c", str(letter.config_path)])
    assert result.exit_code == 0
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("digest")]
    assert len(ours) >= 5, "the sender logs what it does"
    lines = "\n".join(ours) + result.stderr
    for secret in (PASSWORD, SECRET, *letter.addresses, "late@example.net"):
        assert secret not in lines


def test_dkim_signature_verifies(tmp_path: Path, server: Mailserver) -> None:
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    (tmp_path / "dkim.pem").write_bytes(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    letter = setup_letter(tmp_path, server, count=1, dkim_key="dkim.pem", dkim_selector="mail")
    run_send(letter)
    (message,) = server.handler.messages
    assert message.raw.startswith(b"DKIM-Signature:")
    record = b"v=DKIM1; k=rsa; p=" + __import__("base64").b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mail._domainkey.news.example.com."
        return record

    assert dkim.verify(message.raw, dnsfunc=dns)
    tampered = message.raw.replace(b"Subject: ", b"Subject: Re: ", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with (
        send_lock(path),
        pytest.raises(LockedError, match="another digest send"),
        send_lock(path),
    ):
        pass
    with send_lock(path):  # released
        pass


# Processes: kill -9 and two senders ----------------------------------------


def digest_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "digest", *args]


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


def test_kill_9_mid_list_then_rerun_sends_everyone_once(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=30)
    server.handler.delay = 0.02
    env = dict(os.environ)
    sender = subprocess.Popen(
        digest_cmd("send", "-c", str(letter.config_path)), env=env, stderr=subprocess.PIPE
    )
    wait_for(lambda: len(server.handler.messages) >= 8)
    sender.send_signal(signal.SIGKILL)
    sender.wait()
    assert sender.returncode == -signal.SIGKILL
    before = Counter(server.handler.count())
    log = log_of(letter)
    in_flight = {a for a, status in log.items() if status == SENDING}
    assert len(in_flight) <= 1
    assert {a for a, s in log.items() if s == "sent"} <= set(before)
    done = subprocess.run(
        digest_cmd("send", "-c", str(letter.config_path)), env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    counts = server.handler.count()
    assert set(counts) == set(letter.addresses)
    twice = {a for a, n in counts.items() if n > 1}
    assert twice <= in_flight and all(n <= 2 for n in counts.values())
    assert set(log_of(letter).values()) == {"sent"}


def test_two_senders_at_once_never_double(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=12)
    server.handler.delay = 0.25
    first = subprocess.Popen(
        digest_cmd("send", "-c", str(letter.config_path)), stderr=subprocess.PIPE, text=True
    )
    wait_for(lambda: len(server.handler.messages) >= 1)
    server.handler.gate.clear()  # the first sender stays mid-send while the second starts
    refused = subprocess.run(
        digest_cmd("send", "-c", str(letter.config_path)), capture_output=True, text=True
    )
    server.handler.gate.set()
    assert refused.returncode == 1 and "another digest send" in refused.stderr
    waited = subprocess.run(
        digest_cmd("send", "--wait", "60", "-c", str(letter.config_path)),
        capture_output=True,
        text=True,
    )
    assert first.wait(timeout=60) == 0
    assert waited.returncode == 0, waited.stderr
    assert "0 sent now, 12 done before" in waited.stdout
    assert server.handler.count() == Counter(letter.addresses)


def test_send_test_helper_validates_the_address(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=1)
    with pytest.raises(DigestError, match="not an email address"):
        send_test(letter.config, letter.loaded, "not-an-address")
    assert server.handler.messages == []


def test_send_without_any_issue(tmp_path: Path, server: Mailserver) -> None:
    config_path = write_config(tmp_path, server)
    result = CliRunner().invoke(app, ["send", "-c", str(config_path)])
    assert result.exit_code == 1 and "run `digest build` first" in result.output
