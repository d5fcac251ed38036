"""Bounce processing: a Maildir of RFC 3464 reports read by `digest bounces` logic.

    python bench/bounces.py                # 1,000 reports
    python bench/bounces.py --count 5000

Of the readers the reports name, 60 % hard-bounced (5.1.1), 25 % soft-bounced
(4.2.2; three times for a fifth of them, once for the rest), 10 % complained
(ARF) and 5 % were delayed; reports are written until there are `--count`.
The figure is the time of `process()` (read, parse, update the state file);
the check is that every hard bounce and complaint was suppressed, every
delay left alone, and a second run changes nothing.
Target: 1,000 reports in under 5 s.
"""

from __future__ import annotations

import argparse
import mailbox
import os
import tempfile
import time
from pathlib import Path

from digest.config import parse_config
from digest.mail.bounces import process, verp_address
from digest.store import State

BOUNCES = "bounces@news.example.com"

DSN = """Return-Path: <>
Date: Wed,  2 Dec 2026 06:00:01 +0000 (UTC)
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B{n}"
Message-Id: <dsn-{n}@mx.example.net>

--B{n}
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net. Your message could not be delivered.

--B{n}
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Wed,  2 Dec 2026 06:00:00 +0000 (UTC)

Final-Recipient: rfc822; {address}
Original-Recipient: rfc822;{address}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; {code} {status} <{address}>: {text}

--B{n}
Content-Type: text/rfc822-headers

Return-Path: <{to}>
From: Test Insider <insider@news.example.com>
To: {address}
Subject: Test Insider: Wagon news

--B{n}--
"""

ARF = """From: <staff@fbl.example.net>
Subject: complaint
To: <fbl@news.example.com>
Message-ID: <arf-{n}@fbl.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="P{n}"

--P{n}
Content-Type: text/plain

An abuse report.

--P{n}
Content-Type: message/feedback-report

Feedback-Type: abuse
Version: 1
Original-Mail-From: <{to}>
Original-Rcpt-To: <{address}>

--P{n}
Content-Type: text/rfc822-headers

From: Test Insider <insider@news.example.com>
To: {address}

--P{n}--
"""


def build(folder: Path, count: int) -> tuple[Path, dict[str, str]]:
    """The Maildir and, per address, what should become of it."""
    box = mailbox.Maildir(folder / "Maildir", create=True)
    expected: dict[str, str] = {}
    n = 0
    for reader in range(1, count + 1):
        address = f"reader{reader:05d}@example.org"
        share = reader % 20
        to = verp_address(BOUNCES, reader)
        values = {"to": to, "address": address}
        if share < 12:
            kind = [("failed", "5.1.1", 550, "user unknown")]
            expected[address] = "bounced"
        elif share < 17:
            times = 3 if share == 12 else 1
            kind = [("failed", "4.2.2", 452, "mailbox full")] * times
            expected[address] = "bounced" if times == 3 else "active"
        elif share < 19:
            kind = []
            box.add(ARF.format(n=n, **values))
            n += 1
            expected[address] = "complained"
        else:
            kind = [("delayed", "4.4.7", 421, "still trying")]
            expected[address] = "active"
        for action, status, code, text in kind:
            box.add(DSN.format(n=n, action=action, status=status, code=code, text=text, **values))
            n += 1
        if n >= count:
            break
    box.close()
    return folder / "Maildir", expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="reports in the Maildir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["DIGEST_STATE"] = str(folder / "state.sqlite")
        config = parse_config(f'[smtp]\nbounce_address = "{BOUNCES}"\n', base_dir=folder)
        maildir, expected = build(folder, args.count)
        with State(config.state_target) as state, state.transaction():
            for address in expected:
                state.insert_subscriber(address, "", "active")
        reports = len(list((maildir / "new").iterdir()))
        with State(config.state_target) as state:
            started = time.perf_counter()
            report = process(config, state, maildir)
            elapsed = time.perf_counter() - started
            again = process(config, state, maildir)
            actual = {s.email: s.status for s in state.subscribers(include_unsubscribed=True)}
        wrong = {a: (e, actual.get(a)) for a, e in expected.items() if actual.get(a) != e}
        hard = sum(1 for e in expected.values() if e == "bounced")
        print(f"reports in the Maildir:   {reports}")
        print(f"processed in:             {elapsed:.2f} s ({reports / elapsed:,.0f} reports/s)")
        print(
            f"suppressed:               {report.hard} hard, {report.soft_suppressed} after 3 soft,"
            f" {report.complaints} complaints; {report.soft} soft counted"
        )
        print(f"readers expected bounced: {hard}; wrong outcomes: {len(wrong)}")
        print(f"second run:               {again.repeated} seen before, {again.hard} suppressed")
        print(f"target < 5 s:             {'met' if elapsed < 5 else 'MISSED'} ({elapsed / 5:.0%})")
        if wrong:
            raise SystemExit(f"wrong outcomes, e.g. {list(wrong.items())[:3]}")


if __name__ == "__main__":
    main()
