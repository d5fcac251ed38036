"""Sending figures: messages per second to a local SMTP server, and the kill -9 check.

    python bench/send.py                 # both
    python bench/send.py --count 1000    # more messages for the rate figure
    python bench/send.py --kills 3 --subscribers 200 --seed 7

1. Rate: a ~20 KB issue to N subscribers with `[smtp] rate = 0` (as fast as the
   server takes them), to aiosmtpd on 127.0.0.1 in another process (plain SMTP)
   and in this process with STARTTLS + AUTH (sharing one Python with the sender).
   Every message is built per subscriber (token, List-Unsubscribe, Message-ID)
   and the send log is committed twice per message, as in a real run.
2. Exactly once: `digest send` in a subprocess, killed with SIGKILL at random
   points and rerun until it finishes; then every subscriber must have the
   issue, none twice except the one in flight at a kill, and the send log must
   agree with what the server received.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, Session

from digest.config import load_config
from digest.issues.files import load_issue
from digest.issues.publish import publish
from digest.mail import subscribers
from digest.mail.outcomes import SENDING
from digest.mail.send import send_issue
from digest.models import Comment, Issue, Story
from digest.store import State
from testkit.net import free_port

SECRET = "bench-secret-0123456789abcdef"
PASSWORD = "bench-password"


class Counting:
    """Accepts everything, counts recipients; optionally slow."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received: Counter[str] = Counter()
        self.delay = delay
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.received.update(envelope.rcpt_tos)
        return "250 2.0.0 queued"


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the SMTP server on port {port} did not start")


def make_letter(folder: Path, port: int, count: int, smtp: str = 'security = "none"\n') -> Path:
    config = folder / "config.toml"
    config.write_text(
        "[newsletter]\n"
        'title = "Bench Insider"\n'
        'from = "Bench Insider <insider@news.example.com>"\n'
        'unsubscribe = "https://news.example.com/unsubscribe?t={token}"\n'
        'postal_address = "1 Main Street"\n'
        '[[feeds]]\nurl = "feed.xml"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nrate = 0\nbackoff = 0.05\n'
        + smtp
        + '[state]\npath = "state.sqlite"\n',
        encoding="utf-8",
    )
    loaded = load_config(config)
    publish(make_issue(), loaded, loaded.output_dir)
    with State(loaded.state_target) as state:
        subscribers.import_csv(
            state,
            __import__("io").StringIO(
                "email\n" + "".join(f"reader{n:05d}@example.org\n" for n in range(count))
            ),
        )
    return config


def make_issue() -> Issue:
    """Stories enough for a message of about 20 KB."""
    now = datetime.now(UTC)
    words = "The long-term test car went back this week after twelve months and many miles"
    stories = tuple(
        Story(
            title=f"Story {n}: what the wagon taught us about winter",
            url=f"https://news.example.com/story-{n}",
            source="Bench Wire",
            author="A. Writer",
            published=now - timedelta(hours=n),
            image=None,
            summary=tuple(f"{words}, sentence {k}." for k in range(3)),
            comment_count=4,
            comments=(Comment(author="Reader", text=f"{words}. Agreed on story {n}."),),
        )
        for n in range(2)
    )
    return Issue(
        id="2026-11-26", title="Bench Insider", generated_at=now, stories=stories, feeds=()
    )


def measure(config_path: Path) -> tuple[int, float, int]:
    config = load_config(config_path)
    loaded = load_issue(config.output_dir)
    with State(config.state_target) as state:
        started = time.perf_counter()
        report = send_issue(config, state, loaded)
        seconds = time.perf_counter() - started
    assert report.complete and not report.failed, report
    size = len((config.output_dir / loaded.issue.id / "message.eml").read_bytes())
    return report.sent, seconds, size


def rate_plain(count: int) -> None:
    port = free_port()
    sink = ["-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"]
    server = subprocess.Popen([sys.executable, *sink])
    try:
        wait_port(port)
        with tempfile.TemporaryDirectory() as folder:
            sent, seconds, size = measure(make_letter(Path(folder), port, count))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    print(
        f"plain SMTP, server in its own process: {sent} messages of {size / 1024:.1f} KB"
        f" in {seconds:.2f} s = {sent / seconds:.0f} messages/s"
    )


def rate_starttls(count: int) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    port = free_port()

    def auth(*args: Any) -> AuthResult:
        return AuthResult(success=args[-1].password == PASSWORD.encode(), handled=False)

    handler = Counting()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=auth,
        auth_exclude_mechanism=["LOGIN"],
    )
    controller.start()
    os.environ["BENCH_SMTP_PASSWORD"] = PASSWORD
    try:
        with tempfile.TemporaryDirectory() as folder:
            ca.cert_pem.write_to_path(f"{folder}/ca.pem")
            smtp = (
                'security = "starttls"\nusername = "bench"\npassword_env = "BENCH_SMTP_PASSWORD"\n'
                f'ca_file = "{folder}/ca.pem"\n'
            )
            sent, seconds, size = measure(make_letter(Path(folder), port, count, smtp))
    finally:
        controller.stop()
    assert sum(handler.received.values()) == sent
    print(
        f"STARTTLS + AUTH, server in the same process: {sent} messages of {size / 1024:.1f} KB"
        f" in {seconds:.2f} s = {sent / seconds:.0f} messages/s"
    )


def kill_check(count: int, kills: int, seed: int) -> bool:
    rng = random.Random(seed)
    handler = Counting(delay=0.004)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            config_path = make_letter(Path(folder), port, count)
            config = load_config(config_path)
            command = [sys.executable, "-m", "digest", "send", "-c", str(config_path)]
            in_flight: set[str] = set()
            points = sorted(rng.sample(range(5, count - 5), kills))
            for point in points:
                run = subprocess.Popen(
                    command, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
                )
                while sum(handler.received.values()) < point and run.poll() is None:
                    time.sleep(0.0005)
                time.sleep(rng.random() * 0.01)  # anywhere within a message, too
                run.send_signal(signal.SIGKILL)
                run.wait()
                with State(config.state_target) as state:
                    log = state.send_log("2026-11-26")
                flying = {a for a, status in log.items() if status == SENDING}
                in_flight |= flying
                print(
                    f"  killed after {sum(handler.received.values())} received;"
                    f" {len(flying)} message in flight"
                )
            final = subprocess.run(command, capture_output=True, text=True)
            with State(config.state_target) as state:
                log = state.send_log("2026-11-26")
    finally:
        controller.stop()
    received = handler.received
    everyone = {f"reader{n:05d}@example.org" for n in range(count)}
    twice = {a for a, n in received.items() if n > 1}
    ok = (
        final.returncode == 0
        and set(received) == everyone
        and twice <= in_flight
        and len(twice) <= kills
        and max(received.values()) <= 2
        and set(log) == everyone
        and set(log.values()) == {"sent"}
    )
    print(
        f"{count} subscribers, {kills} kills: {len(set(received) & everyone)} received the issue,"
        f" {len(twice)} twice (allowed: the {len(in_flight)} in flight at a kill),"
        f" send log agrees: {set(log) == set(received) and set(log.values()) == {'sent'}}"
        f" -> {'PASS' if ok else 'FAIL'}"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=500, help="messages for the rate figure")
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    os.environ["DIGEST_UNSUBSCRIBE_SECRET"] = SECRET
    os.environ.pop("DIGEST_STATE", None)
    rate_plain(args.count)
    rate_starttls(args.count)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    print(f"kill -9 check (seed {seed}):")
    if not kill_check(args.subscribers, args.kills, seed):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
