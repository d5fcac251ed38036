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
from digest.mail.bounces import process
from digest.store import State
from testkit.reports import BOUNCES, arf, dsn


def build(folder: Path, count: int) -> tuple[Path, dict[str, str]]:
    """The Maildir and, per address, what should become of it."""
    box = mailbox.Maildir(folder / "Maildir", create=True)
    expected: dict[str, str] = {}
    n = 0
    for reader in range(1, count + 1):
        address = f"reader{reader:05d}@example.org"
        share = reader % 20
        if share < 12:
            kind = [("failed", "5.1.1", 550, "user unknown")]
            expected[address] = "bounced"
        elif share < 17:
            times = 3 if share == 12 else 1
            kind = [("failed", "4.2.2", 452, "mailbox full")] * times
            expected[address] = "bounced" if times == 3 else "active"
        elif share < 19:
            kind = []
            box.add(arf(address, verp=reader, uid=str(n)))
            n += 1
            expected[address] = "complained"
        else:
            kind = [("delayed", "4.4.7", 421, "still trying")]
            expected[address] = "active"
        for action, status, code, text in kind:
            diagnostic = f"{code} {status} <{{address}}>: {text}"
            box.add(
                dsn(address, status, verp=reader, action=action, diagnostic=diagnostic, uid=str(n))
            )
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
