"""Shared by the reader-side tests: a real SMTP catcher, a real uvicorn, a newsletter.

The SMTP server is aiosmtpd on 127.0.0.1 (plain: TLS is test_send's concern);
the app runs in uvicorn on a thread, on a free loopback port, with proxy
headers trusted from 127.0.0.1 so a test can speak for many client addresses.
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from digest.config import Config, load_config
from digest.issues.publish import publish
from digest.models import Issue, Story
from digest.serve.app import create_app
from testkit.net import free_port

SECRET = "reader-secret-9c2e71f0a4b3"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Caught:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Catcher:
    """Keeps every message; refuses recipients listed in `refuse` at RCPT."""

    messages: list[Caught] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(Caught(str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 queued"

    def to(self, address: str) -> list[Caught]:
        return [m for m in self.messages if address in m.recipients]

    def wait_for(self, address: str, count: int = 1, timeout: float = 30) -> list[Caught]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{count} message(s) to {address} never arrived: {self.to(address)}")


def start_smtp() -> Iterator[tuple[Catcher, int]]:
    catcher = Catcher()
    port = free_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield catcher, port
    finally:
        controller.stop()


def confirm_link(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(r"https?://\S+/confirm/\S+", body.get_content())
    assert found, body.get_content()
    return found.group(0)


def write_config(
    folder: Path, smtp_port: int, web_port: int, extra: str = "", welcome: bool = False
) -> Path:
    text = f"""
[newsletter]
title = "Test Insider"
from = "Test Insider <insider@news.example.com>"
unsubscribe = "mailto:leave@news.example.com"
postal_address = "1 Main Street, Springfield"
url = "http://127.0.0.1:{web_port}/"

[[feeds]]
url = "feed.xml"
title = "Auto Wire"

[[feeds]]
url = "other.xml"
title = "Road Notes"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
rate = 0
retries = 0
timeout = 5
bounce_address = "bounces@news.example.com"

[server]
base_url = "http://127.0.0.1:{web_port}"
welcome = {"true" if welcome else "false"}
{extra}
"""
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def story(title: str, source: str, comments: int = 0) -> Story:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower())
    return Story(
        title=title,
        url=f"https://www.example.com/{slug}",
        source=source,
        author="Zoë",
        published=NOW - timedelta(hours=5),
        image=None,
        summary=(f"{title}: the summary's first sentence.", "And its second."),
        comment_count=comments,
        key=f"https://www.example.com/{slug}",
    )


def make_issue(issue_id: str, when: datetime, *stories: Story) -> Issue:
    if not stories:
        stories = (
            story(f"Wagon news of {issue_id}", "Auto Wire", 12),
            story(f"Back roads of {issue_id}", "Road Notes", 3),
        )
    return Issue(id=issue_id, title="Test Insider", generated_at=when, stories=stories, feeds=())


def publish_issue(config: Config, issue: Issue) -> None:
    publish(issue, config, config.output_dir)


@dataclass
class Running:
    config: Config
    url: str
    server: uvicorn.Server
    thread: threading.Thread


def run_app(config_path: Path, host: str = "127.0.0.1") -> Iterator[Running]:
    """uvicorn serving the app on the port of `[server] base_url`, until the test ends."""
    config = load_config(config_path)
    port = int(config.server.base_url.rsplit(":", 1)[1])
    app = create_app(config)
    settings = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        access_log=False,
    )
    server = uvicorn.Server(settings)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield Running(config, f"http://{host}:{port}", server, thread)
    finally:
        server.should_exit = True
        thread.join(10)


def reader_site(folder: Path, smtp_port: int) -> Iterator[Running]:
    """`digest serve` over a newsletter with one published issue, mailing through `smtp_port`."""
    path = write_config(folder, smtp_port, free_port())
    publish_issue(load_config(path), make_issue("2026-11-30", NOW - timedelta(days=1)))
    yield from run_app(path)
