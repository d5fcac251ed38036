"""SIGKILL at each point of a build and of a scheduled cycle; two builds at once.

Each kill runs `digest build` or `digest schedule --once` in a subprocess
that replaces one function of the pipeline with one that kills the process
(SIGKILL, no cleanup) when called, then runs the command again normally. No
story may be lost or mailed twice, the archive must never be cut, and the
next cycle must find nothing new.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.config import load_config
from digest.mail.schedule import Scheduler, build_and_send
from digest.store import State
from digest.store.schema import MIGRATIONS
from tests.mailserver import Mailserver, rss, schedule_letter

pytestmark = pytest.mark.usefixtures("mail_secrets")

TITLES = ["Brakes fail", "Wagons return"]

# Runs the digest CLI with one function replaced: it kills the process on its
# `nth` call ("kill"), or sleeps SECONDS before going on ("sleep:SECONDS").
HARNESS = """
import importlib, os, signal, sys, time
module_name, attribute, nth, mode, *argv = sys.argv[1:]
owner = importlib.import_module(module_name)
*path, name = attribute.split(".")
for part in path:
    owner = getattr(owner, part)
original = getattr(owner, name)
calls = 0
def replacement(*args, **kwargs):
    global calls
    calls += 1
    if calls >= int(nth):
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(float(mode.split(":")[1]))
    return original(*args, **kwargs)
setattr(owner, name, replacement)
from digest.cli import app
sys.argv = ["digest", *argv]
app()
"""


def digest_with(point: str, nth: int, mode: str, *args: str) -> subprocess.Popen[str]:
    module, _, attribute = point.partition(":")
    command = [sys.executable, "-c", HARNESS, module, attribute, str(nth), mode, *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def digest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *args], capture_output=True, text=True, timeout=120
    )


def killed(point: str, nth: int, *args: str) -> None:
    run = digest_with(point, nth, "kill", *args)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == -signal.SIGKILL, f"{point} was never reached: {stderr}"


def issues_on_disk(output: Path) -> dict[str, list[str]]:
    found = {}
    for path in sorted(output.glob("*/issue.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        found[record["id"]] = [s["title"] for s in record["stories"]]
    return found


def check_archive(output: Path) -> None:
    for name in ("index.html", "feed.xml"):
        if (output / name).exists():
            assert (output / name).stat().st_size > 0, f"{name} was cut"
    assert not list(output.glob(".*.tmp")), "a temporary file was left behind"


BUILD_POINTS = [
    ("digest.build:story", 1),  # while fetching stories
    ("digest.issues.publish:write_issue", 1),  # before the folder
    ("digest.store:State.record_issue", 1),  # between the folder and the record
    ("digest.issues.publish:write_archive", 1),  # between the record and the archive
    ("digest.issues.publish:write_atomic", 2),  # between feed.xml and index.html
]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "nth"), BUILD_POINTS, ids=[p for p, _ in BUILD_POINTS])
def test_kill_9_at_each_point_of_a_build(
    tmp_path: Path, server: Mailserver, point: str, nth: int
) -> None:
    path = schedule_letter(tmp_path, server, count=0)
    output = tmp_path / "output"
    killed(point, nth, "build", "-c", str(path))
    check_archive(output)
    again = CliRunner().invoke(app, ["build", "-c", str(path)])  # in-process: cheaper
    assert again.exit_code in (0, 3), again.output
    check_archive(output)
    stories = [t for titles in issues_on_disk(output).values() for t in titles]
    assert Counter(stories) == Counter(TITLES)  # each story in exactly one issue
    assert CliRunner().invoke(app, ["build", "-c", str(path)]).exit_code == 3  # nothing new
    with State(load_config(path).state_target) as state:
        assert state.recorded_issues() == set(issues_on_disk(output))
    index = (output / "index.html").read_text(encoding="utf-8")
    assert all(issue_id in index for issue_id in issues_on_disk(output))


SCHEDULE_POINTS = [
    ("digest.mail.schedule:build", 1),  # cycle recorded as pending, nothing built
    ("digest.store:State.record_issue", 1),  # between the folder and the record
    ("digest.issues.publish:write_archive", 1),  # recorded, archive not yet written
    ("digest.mail.schedule:send_issue", 1),  # built, nothing sent
    ("digest.mail.smtp:SmtpTransport.send", 3),  # mid-list
    ("digest.mail.smtp:SmtpTransport.close", 1),  # all sent, the cycle not yet closed
]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "nth"), SCHEDULE_POINTS, ids=[p for p, _ in SCHEDULE_POINTS])
def test_kill_9_at_each_point_of_a_scheduled_cycle(
    tmp_path: Path, server: Mailserver, point: str, nth: int
) -> None:
    path = schedule_letter(tmp_path, server, count=4)
    output = tmp_path / "output"
    killed(point, nth, "schedule", "--once", "-c", str(path))
    again = digest("schedule", "--once", "-c", str(path))
    assert again.returncode == 0, again.stdout + again.stderr
    check_archive(output)
    config = load_config(path)
    with State(config.state_target) as state:  # the next due time: nothing new to send
        job = build_and_send(config, state, config.output_dir)
        later = Scheduler(config, state, job).run_due(datetime.now(UTC) + timedelta(minutes=1))
        assert later.status == "nothing_new"
    assert len(issues_on_disk(output)) == 1
    per_reader: Counter[tuple[str, str]] = Counter()
    for message in server.handler.messages:
        text = message_from_bytes(message.raw).as_string()
        for title in TITLES:
            per_reader.update((r, title) for r in message.recipients if title in text)
    readers = [f"reader{n:03d}@example.org" for n in range(4)]
    assert per_reader == Counter((r, t) for r in readers for t in TITLES)  # once each


@pytest.mark.slow
def test_two_builds_at_once_one_waits_or_refuses_and_no_story_is_lost(
    tmp_path: Path, server: Mailserver
) -> None:
    path = schedule_letter(tmp_path, server, count=0)
    first = digest_with("digest.build:select", 1, "sleep:4", "build", "-c", str(path))
    deadline = time.monotonic() + 60
    with State(load_config(path).state_target) as state:
        while not state.held_elsewhere("build"):  # the first holds the lock
            assert time.monotonic() < deadline
            time.sleep(0.05)
    refused = digest("build", "-c", str(path))
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "another digest build" in refused.stderr
    waited = digest("build", "--wait", "60", "-c", str(path))
    assert first.wait(timeout=60) == 0, first.communicate()
    assert waited.returncode == 3, waited.stderr  # after the first: nothing new
    assert Counter(t for ts in issues_on_disk(tmp_path / "output").values() for t in ts) == (
        Counter(TITLES)
    )
    (tmp_path / "feed.xml").write_text(rss([*TITLES, "Sedans vanish"]), encoding="utf-8")
    both = [
        digest_with("digest.build:select", 1, "sleep:1", "build", "--wait", "60", "-c", str(path))
        for _ in range(2)
    ]
    assert sorted(run.wait(timeout=120) for run in both) == [0, 3]
    stories = Counter(t for ts in issues_on_disk(tmp_path / "output").values() for t in ts)
    assert stories == Counter([*TITLES, "Sedans vanish"])


OPENER = """
import sys, time
from digest.store import State
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
with State(sys.argv[1]) as state:
    state.seen(["x"])
"""


@pytest.mark.slow
def test_concurrent_first_use_creates_the_schema_once(tmp_path: Path) -> None:
    for attempt in range(3):
        path = tmp_path / f"fresh-{attempt}.sqlite"
        start = time.time() + 2.0  # every process opens the new file at the same moment
        runs = [
            subprocess.Popen(
                [sys.executable, "-c", OPENER, str(path), str(start)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        for run in runs:
            _, stderr = run.communicate(timeout=60)
            assert run.returncode == 0, stderr
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
