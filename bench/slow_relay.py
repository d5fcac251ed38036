"""Copies per reader when the relay answers the end of DATA after the command timeout.

    python -m bench.slow_relay                    # 10 readers, reply 3 s late, timeout 1 s
    python -m bench.slow_relay --readers 20 --late 2 --timeout 1

The relay (aiosmtpd on 127.0.0.1) takes each message into its queue at once
and says so `--late` seconds later, as a relay with a slow content filter
does. `digest send` runs with `[smtp] timeout = --timeout` until it reports
nothing left to send, or at most `--runs` times (an operator or a
scheduler trying again). Two settings: `data_timeout` longer than the
delay (the default, 600 s) and shorter than it (every message `unknown`).
Without `data_timeout` (older digest), the second setting is what every
run does: each timed-out message was resent as if it had failed.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from digest.config import SmtpSettings, load_config
from digest.issues.files import load_issue
from digest.issues.publish import publish
from digest.mail import subscribers
from digest.mail.send import send_issue
from digest.models import Issue, Story
from digest.store import State
from testkit.net import free_port

SECRET = "bench-secret-0123456789abcdef"


def make_issue() -> Issue:
    now = datetime.now(UTC)
    story = Story(
        title="What the wagon taught us about winter",
        url="https://news.example.com/wagon",
        source="Bench Wire",
        author="A. Writer",
        published=now - timedelta(hours=2),
        image=None,
        summary=("The long-term test car went back this week.",),
        comment_count=0,
    )
    return Issue(id="2026-11-26", title="Bench", generated_at=now, stories=(story,), feeds=())


class LateRelay:
    """Queues each message at once; answers `late` seconds afterwards."""

    def __init__(self, late: float) -> None:
        self.late = late
        self.received: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.received.update(envelope.rcpt_tos)
        await asyncio.sleep(self.late)
        return "250 2.0.0 queued"


def letter(folder: Path, port: int, readers: int, smtp: str) -> Path:
    config = folder / "config.toml"
    config.write_text(
        '[newsletter]\ntitle = "Bench"\nfrom = "Bench <b@news.example.com>"\n'
        'unsubscribe = "mailto:leave@news.example.com"\n[[feeds]]\nurl = "feed.xml"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nrate = 0\n'
        f'backoff = 0.05\nretries = 5\n{smtp}[state]\npath = "state.sqlite"\n',
        encoding="utf-8",
    )
    loaded = load_config(config)
    publish(make_issue(), loaded, loaded.output_dir)
    with State(loaded.state_target) as state:
        rows = "".join(f"reader{n:04d}@example.org\n" for n in range(readers))
        subscribers.import_csv(state, io.StringIO("email\n" + rows))
    return config


def trial(readers: int, late: float, timeout: float, data_timeout: float | None, runs: int) -> str:
    relay = LateRelay(late)
    port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    smtp = f"timeout = {timeout}\n"
    if data_timeout is not None:
        smtp += f"data_timeout = {data_timeout}\n"
    statuses: Counter[str] = Counter()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as folder:
            config = load_config(letter(Path(folder), port, readers, smtp))
            loaded = load_issue(config.output_dir)
            done = 0
            while done < runs:
                done += 1
                with State(config.state_target) as state:
                    report = send_issue(config, state, loaded)
                if report.complete:
                    break
            time.sleep(late + 0.5)  # anything still in the relay's hands has landed
            with State(config.state_target) as state:
                statuses.update(state.send_log(loaded.issue.id).values())
    finally:
        controller.stop()
    copies = Counter(relay.received.values())
    most = max(relay.received.values(), default=0)
    return (
        f"data_timeout {data_timeout if data_timeout is not None else 'absent'}: {done} run(s),"
        f" {time.monotonic() - started:.1f} s; {len(relay.received)}/{readers} readers reached,"
        f" copies per reader {dict(sorted(copies.items()))} (at most {most});"
        f" send log {dict(statuses)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=10)
    parser.add_argument("--late", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["DIGEST_UNSUBSCRIBE_SECRET"] = SECRET
    os.environ.pop("DIGEST_STATE", None)
    print(
        f"relay answers {args.late:g} s after taking each message; command timeout"
        f" {args.timeout:g} s; {args.readers} readers; up to {args.runs} runs"
    )
    if "data_timeout" in SmtpSettings.__dataclass_fields__:
        print(trial(args.readers, args.late, args.timeout, 600.0, args.runs))
        print(trial(args.readers, args.late, args.timeout, args.timeout, args.runs))
    else:  # an older digest: one timeout for every command
        print(trial(args.readers, args.late, args.timeout, None, args.runs))


if __name__ == "__main__":
    main()
