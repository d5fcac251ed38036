"""A sender that stalls past its lease, then dies: its messages in flight become `unknown`.

Part of `python -m bench.send` (the "stall" leg). Two `digest send --workers 4`;
one is frozen with SIGSTOP while it has messages out (a hung machine: alive,
its lock held). The other finishes what it can and leaves the frozen one's
claims alone. Once the frozen sender's sending lease has run out (`[smtp]
timeout = 1`, `data_timeout = 1`, `retries = 0`: about a minute), a third
`digest send` records its rows in flight as `unknown`. Then the frozen one
is killed, a fourth `digest send` takes back its claims and sends them, and
the unknowns are settled as the README says: `digest unknown --delivered`
with the relay's log marks `sent` those it has, and `--retry-unknown` sends
the others, so no reader gets a second copy.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

from bench.send import ISSUE, Sender, address, in_flight, make_letter, settle_unknown, spawn
from bench.sink import Sink
from digest.store import State
from testkit.postgres import new_database

TIMEOUTS = "timeout = 1\ndata_timeout = 1\nretries = 0\n"  # a sending lease of 65 s


def expired(state: State, rows: set[str]) -> bool:
    """Whether the sending leases of every one of `rows` have run out (the database's clock)."""
    (left,) = state.db.execute(
        "SELECT count(*) FROM send_log l JOIN subscribers s ON s.id = l.subscriber_id"
        " WHERE l.issue_id = ? AND l.status = 'sending' AND l.lease_until >= {epoch}"
        f" AND s.email IN ({', '.join('?' * len(rows))})",
        (ISSUE, *rows),
    ).fetchone()
    return int(left) == 0


def said(step: str, sender: Sender) -> None:
    print(f"  {step}: exited {sender.reap()}: {sender.said().splitlines()[0]}", flush=True)


def stall(server: str, folder: Path, args: argparse.Namespace, seed: int) -> bool:
    readers = args.stall_readers
    rng = random.Random(seed)
    print(
        f"5. A sender frozen past its lease, then killed: {readers} readers, two"
        f" `digest send --workers 4` (seed {seed}):",
        flush=True,
    )
    with Sink(folder, args.delay) as sink:
        letter = make_letter(
            folder / "stall", sink.port, new_database(server), readers, smtp=TIMEOUTS
        )
        frozen, other = spawn(letter, 4), spawn(letter, 4)
        pid = frozen.process.pid
        while sink.count() < readers // 5 and frozen.running():
            time.sleep(0.002)
        with State(letter.state) as state:
            while not in_flight(state, pid, started=True) and frozen.running():
                time.sleep(0.002)
            time.sleep(rng.random() * args.delay)
            os.kill(pid, signal.SIGSTOP)
            stopped = time.monotonic()
            flying = in_flight(state, pid, started=True)
            (held,) = state.db.execute(
                "SELECT count(*) FROM send_log WHERE status = 'claimed' AND lease_owner LIKE ?",
                (f"%:{pid}:%",),
            ).fetchone()
            print(
                f"  froze pid {pid} with {sink.count()} received: {len(flying)} message(s)"
                f" in flight, {held} more rows claimed",
                flush=True,
            )
            said("the other sender", other)
            while flying and not expired(state, flying):
                time.sleep(0.5)
            print(
                f"  its sending leases ran out {time.monotonic() - stopped:.0f} s after the freeze"
            )
        said("a third sender, while it is still frozen", spawn(letter, 4))
        os.kill(pid, signal.SIGKILL)
        frozen.reap()
        said("a fourth, once it was killed", spawn(letter, 4))
        with State(letter.state) as state:
            log = state.send_log(ISSUE)
        unknown = sorted(a for a, status in log.items() if status == "unknown")
        settle_unknown(letter, unknown, sink.log)
        records = sink.received()
        with State(letter.state) as state:
            log = state.send_log(ISSUE)
    copies = Counter(r.address for r in records)
    twice = {a for a, n in copies.items() if n > 1}
    extra = sum(n - 1 for n in copies.values())
    statuses = Counter(log.values())
    checks = {
        "the rows in flight at the freeze, and only those, became `unknown`": set(unknown)
        == flying,
        "every reader received the issue": set(copies) == {address(n) for n in range(readers)},
        f"duplicates ({extra}) <= in flight at the freeze ({len(flying)}), all among them": (
            extra <= len(flying) and twice <= flying
        ),
        "every row is `sent`, the unknowns settled against the relay's log": statuses.keys()
        == {"sent"},
    }
    print(
        f"  received: {len(copies)} readers, {len(records)} messages ({len(twice)} twice);"
        f" send log: {dict(statuses)}"
    )
    for check, ok in checks.items():
        print(f"    {'ok  ' if ok else 'FAIL'} {check}")
    return all(checks.values())
