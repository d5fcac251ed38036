"""Sending figures on PostgreSQL: throughput per connection count, kill -9, the shared rate.

    python -m bench.send                          # everything, 20,000 readers
    python -m bench.send --readers 5000 --legs throughput
    python -m bench.send --legs kills --kills 5 --seed 7

Every leg runs the real `digest send` in subprocesses against a throwaway
PostgreSQL cluster (durable: fsync on, as in production) and an SMTP sink in
a process of its own (bench/sink.py) that takes `--delay` (20 ms) per
message and logs every (recipient, Message-ID) it accepted. The message is
~21 KB, built per reader (token, List-Unsubscribe, Message-ID). Each leg
has a database of its own.

1. throughput: one connection (`--workers 1`, on `--one-readers` readers:
   at ~40 messages/s the full list would take minutes) vs `--workers 8` in
   one process vs two `digest send --workers 4` at once, on `--readers`
   readers. Rates are the sink's: messages accepted from first to last.
   Targets: 8 workers >= 6x one connection, two processes x 4 the same.
   Peak RSS of each sender process (wait4) for two list sizes: memory
   should not grow with the list.
2. kills: two `digest send --workers 4`; `--kills` times one of them is
   killed with SIGKILL at a random moment (seeded) and started again. Rows
   it had `sending` are read from the send log right after each kill.
   Checks: every reader received the issue, duplicates <= in flight at the
   kills (and only those readers), every `sent` row was received, every
   address received is `sent`, one Message-ID per reader.
3. rate: `[smtp] rate = --rate` with two processes x 4 workers against a
   sink without delay: the aggregate rate the sink saw vs the limit.
4. sqlite: one connection vs `--workers 8` on an SQLite file, for comparison.
5. stall: a sender frozen (SIGSTOP) past its sending lease, then killed: its
   rows in flight become `unknown` and are settled against the sink's log
   (bench/send_stall.py). Takes a minute and more, mostly waiting.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.sink import Received, Sink
from digest.config import Config, load_config
from digest.issues.message import personal_message_id
from digest.issues.publish import publish
from digest.models import Comment, Issue, Story
from digest.store import State
from testkit.postgres import available, cluster, new_database

SECRET = "bench-secret-0123456789abcdef"
ISSUE = "2026-11-26"
LEFT = ("unsubscribed", "bounced", "complained")
LEGS = ("throughput", "kills", "rate", "sqlite", "stall")


def address(n: int) -> str:
    return f"reader{n:06d}@example.org"


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
    return Issue(id=ISSUE, title="Bench Insider", generated_at=now, stories=stories, feeds=())


@dataclass(frozen=True)
class Letter:
    """A newsletter set up for one leg: its folder, config.toml, state and readers."""

    config: Path
    state: str
    readers: int


def make_letter(
    folder: Path, port: int, state: str, readers: int, rate: float = 0, smtp: str = ""
) -> Letter:
    """config.toml, the published issue and `readers` active readers in `state`; `smtp`:
    more `[smtp]` settings."""
    folder.mkdir(parents=True)
    where = f'url = "{state}"' if state.startswith("postgresql://") else f'path = "{state}"'
    config = folder / "config.toml"
    config.write_text(
        "[newsletter]\n"
        'title = "Bench Insider"\n'
        'from = "Bench Insider <insider@news.example.com>"\n'
        'unsubscribe = "https://news.example.com/unsubscribe?t={token}"\n'
        'postal_address = "1 Main Street"\n'
        '[[feeds]]\nurl = "feed.xml"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nrate = {rate}\nbackoff = 0.05\n'
        'security = "none"\n' + smtp + f"[state]\n{where}\n",
        encoding="utf-8",
    )
    loaded = load_config(config)
    publish(make_issue(), loaded, loaded.output_dir)
    with State(loaded.state_target) as db, db.transaction():
        added, _, _ = db.import_rows(
            ((n + 1, address(n), "") for n in range(readers)), LEFT, "bench"
        )
    assert added == readers, (added, readers)
    return Letter(config, state, readers)


@dataclass
class Sender:
    """One `digest send` subprocess."""

    process: subprocess.Popen[bytes]
    output: Path
    code: int | None = None
    peak_rss_mb: float = 0.0

    def reap(self) -> int:
        """Wait for it; its exit code, and its peak RSS from the kernel (wait4)."""
        if self.code is None:
            _, status, usage = os.wait4(self.process.pid, 0)
            self.code = self.process.returncode = os.waitstatus_to_exitcode(status)
            self.peak_rss_mb = usage.ru_maxrss / 1024  # KB on Linux
        return self.code

    def running(self) -> bool:
        if self.code is not None:
            return False
        pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
        if pid == 0:
            return True
        self.code = self.process.returncode = os.waitstatus_to_exitcode(status)
        self.peak_rss_mb = usage.ru_maxrss / 1024
        return False

    def said(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace").strip()


def spawn(letter: Letter, workers: int, *extra: str) -> Sender:
    output = letter.config.parent / f"send-{time.monotonic_ns()}.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "digest", "send", "-c", str(letter.config),
             "--workers", str(workers), *extra],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Sender(process, output)


def run_senders(letter: Letter, workers: int, processes: int) -> tuple[list[Sender], float]:
    """`processes` senders started at once; (the senders, seconds until the last exited)."""
    started = time.perf_counter()
    senders = [spawn(letter, workers) for _ in range(processes)]
    for sender in senders:
        sender.reap()
    return senders, time.perf_counter() - started


def rate_of(records: list[Received]) -> float:
    """Messages per second the sink accepted, from the first to the last."""
    if len(records) < 2:
        return 0.0
    times = sorted(r.at for r in records)
    return (len(times) - 1) / (times[-1] - times[0])


@dataclass
class Leg:
    name: str
    readers: int
    rate: float
    seconds: float
    rss: list[float] = field(default_factory=list)


def measure(
    name: str, folder: Path, state: str, readers: int, workers: int, processes: int, delay: float
) -> Leg:
    """One send of a fresh list; checks every reader got one copy and is `sent`."""
    with Sink(folder, delay) as sink:
        letter = make_letter(folder / name.replace(" ", "-"), sink.port, state, readers)
        senders, seconds = run_senders(letter, workers, processes)
        records = sink.received()
    with State(letter.state) as db:
        log = db.send_log(ISSUE)
    for sender in senders:
        if sender.code != 0:
            raise SystemExit(f"{name}: digest send exited {sender.code}:\n{sender.said()}")
    got = Counter(r.address for r in records)
    if len(got) != readers or max(got.values()) != 1:
        raise SystemExit(
            f"{name}: {len(got)} of {readers} readers reached, max copies {max(got.values())}"
        )
    if set(log) != set(got) or set(log.values()) != {"sent"}:
        raise SystemExit(f"{name}: the send log disagrees: {Counter(log.values())}")
    leg = Leg(name, readers, rate_of(records), seconds, [s.peak_rss_mb for s in senders])
    print(
        f"  {name:<28} {readers:>6} readers: {leg.rate:6.1f} messages/s at the sink,"
        f" {leg.seconds:6.1f} s wall (process start to exit),"
        f" peak RSS {' + '.join(f'{m:.0f}' for m in leg.rss)} MB",
        flush=True,
    )
    return leg


def throughput(server: str, folder: Path, args: argparse.Namespace) -> None:
    print(
        f"1. Throughput on PostgreSQL (durable), sink {args.delay * 1000:.0f} ms per message:",
        flush=True,
    )
    one = measure("1 connection", folder, new_database(server), args.one_readers, 1, 1, args.delay)
    eight = measure("--workers 8", folder, new_database(server), args.readers, 8, 1, args.delay)
    two = measure(
        "2 processes x --workers 4", folder, new_database(server), args.readers, 4, 2, args.delay
    )
    small = measure(
        "--workers 8 (small list)", folder, new_database(server), args.one_readers, 8, 1, args.delay
    )
    ceiling = 1 / args.delay
    print(
        f"  ratios (one connection measured on {args.one_readers} readers, the others on"
        f" {args.readers}; a connection's ceiling is {ceiling:.0f}/s; one connection spends"
        f" {1000 / one.rate - args.delay * 1000:.1f} ms a message beyond the sink's"
        f" {args.delay * 1000:.0f} ms):\n"
        f"    --workers 8 / 1 connection = {eight.rate / one.rate:.2f}x"
        f" ({'meets' if eight.rate >= 6 * one.rate else 'BELOW'} the 6x target)\n"
        f"    2 x --workers 4 / 1 connection = {two.rate / one.rate:.2f}x"
        f" ({'meets' if two.rate >= 6 * one.rate else 'BELOW'} the 6x target)\n"
        f"  sender memory: --workers 8 peaks at {small.rss[0]:.0f} MB on {small.readers} readers"
        f" and {eight.rss[0]:.0f} MB on {eight.readers} ({eight.readers / small.readers:.0f}x the"
        f" list: {eight.rss[0] / small.rss[0]:.2f}x the memory)",
        flush=True,
    )


def sqlite_leg(folder: Path, args: argparse.Namespace) -> None:
    print(f"4. For comparison, SQLite (WAL), {args.sqlite_readers} readers:", flush=True)
    one = measure(
        "1 connection", folder, str(folder / "one.sqlite"), args.sqlite_readers, 1, 1, args.delay
    )
    eight = measure(
        "--workers 8", folder, str(folder / "eight.sqlite"), args.sqlite_readers, 8, 1, args.delay
    )
    print(f"  --workers 8 / 1 connection = {eight.rate / one.rate:.2f}x", flush=True)


def in_flight(state: State, pid: int, started: bool = False) -> set[str]:
    """Readers whose rows the sender `pid` has `sending` (unless `started`: also rows
    already `interrupted`, in case the other sender recovered them at once)."""
    also = "" if started else " OR l.status = 'interrupted'"
    rows = state.db.execute(
        "SELECT s.email FROM send_log l JOIN subscribers s ON s.id = l.subscriber_id"
        f" WHERE l.issue_id = ? AND ((l.status = 'sending' AND l.lease_owner LIKE ?){also})",
        (ISSUE, f"{socket.gethostname()}:{pid}:%"),
    )
    return {str(row[0]) for row in rows}


def kills(server: str, folder: Path, args: argparse.Namespace, seed: int) -> bool:
    readers = args.kill_readers
    rng = random.Random(seed)
    print(
        f"2. kill -9: {readers} readers, two `digest send --workers 4`, {args.kills} kills"
        f" (seed {seed}):",
        flush=True,
    )
    with Sink(folder, args.delay) as sink:
        letter = make_letter(folder / "kills", sink.port, new_database(server), readers)
        config = load_config(letter.config)
        senders = [spawn(letter, 4), spawn(letter, 4)]
        flying: set[str] = set()
        flying_count = 0
        points = sorted(rng.sample(range(readers // 20, readers * 4 // 5), args.kills))
        for point in points:
            while sink.count() < point and any(s.running() for s in senders):
                time.sleep(0.002)
            alive = [i for i, s in enumerate(senders) if s.running()]
            if not alive:
                print("  both senders finished before this kill point")
                break
            victim = rng.choice(alive)
            pid = senders[victim].process.pid
            with State(letter.state) as state:
                # mid-send: once it has a message out (not while it starts up)
                while not in_flight(state, pid, started=True) and senders[victim].running():
                    time.sleep(0.002)
                time.sleep(rng.random() * args.delay)  # anywhere within a message
                os.kill(pid, signal.SIGKILL)
                senders[victim].reap()
                caught = in_flight(state, pid)
            flying |= caught
            flying_count += len(caught)
            print(
                f"  killed sender {victim} (pid {pid}) with {sink.count()} received:"
                f" {len(caught)} message(s) in flight",
                flush=True,
            )
            senders[victim] = spawn(letter, 4)
        codes = [s.reap() for s in senders]
        final = spawn(letter, 1)
        final.reap()
        with State(letter.state) as state:
            log = state.send_log(ISSUE)
        unknown = sorted(a for a, status in log.items() if status == "unknown")
        records = sink.received()
        settled = settle_unknown(letter, unknown, sink.log)
        if settled:
            with State(letter.state) as state:
                log = state.send_log(ISSUE)
            records = sink.received()
    return verdict(config, readers, log, records, flying, flying_count, codes, final, unknown)


def settle_unknown(letter: Letter, unknown: list[str], relay_log: Path) -> bool:
    """As the README says: `digest unknown --delivered` with the relay's log marks `sent`
    the ones it has, then `digest send --retry-unknown` sends the others. True if it ran."""
    if not unknown:
        print("  unknown rows: none")
        return False
    command = [sys.executable, "-m", "digest", "unknown", "-c", str(letter.config)]
    found = subprocess.run(
        [*command, "--delivered", str(relay_log)], capture_output=True, text=True, check=False
    )
    said = " ".join((found.stdout + found.stderr).split())
    print(
        f"  unknown rows: {len(unknown)}; `digest unknown --delivered`: {found.returncode}, {said}"
    )
    retry = spawn(letter, 1, "--retry-unknown")
    print(f"  `digest send --retry-unknown` exited {retry.reap()}: {retry.said()}")
    return True


def verdict(
    config: Config,
    readers: int,
    log: dict[str, str],
    records: list[Received],
    flying: set[str],
    flying_count: int,
    codes: list[int],
    final: Sender,
    unknown: list[str],
) -> bool:
    everyone = {address(n) for n in range(readers)}
    copies = Counter(r.address for r in records)
    twice = {a for a, n in copies.items() if n > 1}
    extra = sum(n - 1 for n in copies.values())
    sent = {a for a, status in log.items() if status == "sent"}
    ids_ok = all(r.message_id == personal_message_id(ISSUE, r.address, config) for r in records)
    checks = {
        "every reader received the issue": set(copies) >= everyone,
        "nobody else received anything": set(copies) <= everyone,
        f"duplicates ({extra}) <= in flight at the kills ({flying_count})": extra <= flying_count,
        "every duplicate was in flight at a kill": twice <= flying,
        "every `sent` row was received": sent <= set(copies),
        "every received address is `sent` (or `unknown`, settled above)": set(copies)
        <= sent | set(unknown),
        "every row is `sent` or a settled `unknown`": set(log) == everyone
        and set(log.values()) <= {"sent", "unknown"},
        "one Message-ID per reader, the same on every copy": ids_ok,
    }
    print(
        f"  senders exited {codes}; a last `digest send` exited {final.code}: {final.said()}\n"
        f"  received: {len(copies)} readers, {len(records)} messages; {len(twice)} readers"
        f" twice ({extra} extra copies); in flight at the kills: {flying_count} rows"
        f" ({len(flying)} readers); send log: {dict(Counter(log.values()))}",
    )
    for check, ok in checks.items():
        print(f"    {'ok  ' if ok else 'FAIL'} {check}")
    return all(checks.values())


def rate_leg(server: str, folder: Path, args: argparse.Namespace) -> None:
    print(
        f"3. Shared rate limit: [smtp] rate = {args.rate:g}, two `digest send --workers 4`,"
        f" {args.rate_messages} readers, sink without delay:",
        flush=True,
    )
    with Sink(folder, 0.0) as sink:
        letter = make_letter(
            folder / "rate", sink.port, new_database(server), args.rate_messages, args.rate
        )
        senders, seconds = run_senders(letter, 4, 2)
        records = sink.received()
    assert all(s.code == 0 for s in senders), [s.said() for s in senders]
    measured = rate_of(records)
    times = sorted(r.at for r in records)
    busiest = max(
        sum(1 for t in times[i : i + int(args.rate * 2)] if t < start + 1.0)
        for i, start in enumerate(times)
    )
    deviation = (measured - args.rate) / args.rate * 100
    print(
        f"  {len(records)} messages in {times[-1] - times[0]:.1f} s at the sink:"
        f" {measured:.2f} messages/s, {deviation:+.2f} % from the limit"
        f" ({'within' if abs(deviation) <= 5 else 'OUTSIDE'} 5 %); busiest second {busiest};"
        f" {seconds:.1f} s wall",
        flush=True,
    )


@contextmanager
def postgres() -> Iterator[str]:
    why = available()
    if why:
        raise SystemExit(f"no PostgreSQL: {why}")
    with cluster(durable=True) as server:
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--one-readers", type=int, default=2_000, help="for one connection")
    parser.add_argument("--kill-readers", type=int, default=2_000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--rate-messages", type=int, default=1_500)
    parser.add_argument("--sqlite-readers", type=int, default=1_000)
    parser.add_argument("--stall-readers", type=int, default=400)
    parser.add_argument("--delay", type=float, default=0.02, help="sink seconds per message")
    parser.add_argument("--legs", default=",".join(LEGS), help=f"some of {','.join(LEGS)}")
    args = parser.parse_args()
    legs = set(args.legs.split(","))
    if legs - set(LEGS):
        parser.error(f"unknown legs: {', '.join(sorted(legs - set(LEGS)))}")
    os.environ["DIGEST_UNSUBSCRIBE_SECRET"] = SECRET
    os.environ.pop("DIGEST_STATE", None)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    ok = True
    with tempfile.TemporaryDirectory() as tmp, postgres() as server:
        folder = Path(tmp)
        if "throughput" in legs:
            throughput(server, folder, args)
        if "kills" in legs:
            ok = kills(server, folder, args, seed) and ok
        if "rate" in legs:
            rate_leg(server, folder, args)
        if "stall" in legs:
            from bench.send_stall import stall  # built on this module's helpers

            ok = stall(server, folder, args, seed) and ok
    if "sqlite" in legs:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite_leg(Path(tmp), args)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
