"""A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1, STARTTLS with a fresh CA,
and a small newsletter ("letter") ready to send through it.

`Mailserver` records what it received; the fixtures that start it live in
conftest.py.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from digest.config import Config, load_config
from digest.issues.files import LoadedIssue, load_issue
from digest.issues.publish import publish
from digest.mail import subscribers
from digest.mail.send import send_issue
from digest.models import Issue, Story
from digest.store import State
from testkit.net import free_port

USER, PASSWORD = "insider", "pw-Kx81-never-logged"
SECRET = "token-secret-7f3a9c1e55b2d4e6"


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
            server.transport.abort()  # type: ignore[attr-defined]
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


# The newsletter -------------------------------------------------------------


def write_mail_config(
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


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


# A newsletter ready to send ------------------------------------------------------


ISSUE_ID = "2026-11-26"
NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


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


def setup_letter(folder: Path, server: Mailserver, count: int = 3, **smtp: Any) -> Letter:
    config_path = write_mail_config(folder, server, **smtp)
    config = load_config(config_path)
    publish(make_issue(), config, config.output_dir)
    names = ["Zoë Ångström", "", "Bob"]
    addresses = [f"reader{n:03d}@example.org" for n in range(count)]
    with State(config.state_target) as state:
        for n, address in enumerate(addresses):
            subscribers.add(state, address, names[n % 3])
    return Letter(config_path, config, load_issue(config.output_dir), addresses)


def run_send(letter: Letter, **kwargs: Any) -> Any:
    with State(letter.config.state_target) as state:
        return send_issue(letter.config, state, letter.loaded, **kwargs)


def log_of(letter: Letter) -> dict[str, str]:
    with State(letter.config.state_target) as state:
        return state.send_log(ISSUE_ID)


def rss(titles: list[str]) -> str:
    items = []
    for n, title in enumerate(titles):
        published = format_datetime(datetime.now(UTC) - timedelta(hours=n + 1))
        body = " ".join(
            f"Sentence {k} about {title.lower()} tells readers something they need to know."
            for k in range(8)
        )
        items.append(
            f"<item><title>{title}</title><link>https://news.example.com/{n}-{len(title)}</link>"
            f"<guid>https://news.example.com/{title.replace(' ', '-')}</guid>"
            f"<pubDate>{published}</pubDate><description>{body}</description></item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Local Wire</title>'
        f"<link>https://news.example.com/</link>{''.join(items)}</channel></rss>"
    )


def schedule_letter(
    tmp_path: Path, server: Mailserver, count: int, cron: str = "* * * * *"
) -> Path:
    path = write_mail_config(tmp_path, server)
    text = path.read_text(encoding="utf-8").replace(
        'url = "feed.xml"\n', 'url = "feed.xml"\nfull_text = "never"\ncomments = "none"\n'
    )
    text += f'\n[schedule]\ncron = "{cron}"\ntimezone = "America/Detroit"\ngrace_minutes = 60\n'
    path.write_text(text, encoding="utf-8")
    (tmp_path / "feed.xml").write_text(rss(["Brakes fail", "Wagons return"]), encoding="utf-8")
    with State(load_config(path).state_target) as state:
        for n in range(count):
            subscribers.add(state, f"reader{n:03d}@example.org")
    return path
