"""digest schedule: due times across DST, catch-up after downtime, restarts, SIGTERM.

The timing tests drive the scheduler with a fake clock and a job that records
when it ran; the end-to-end ones build from a local feed and send to a real
aiosmtpd server, in-process and as a `digest schedule` subprocess.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.config import Config, ScheduleSettings, load_config
from digest.errors import ConfigError
from digest.mail.schedule import (
    LEADER,
    Cron,
    CycleResult,
    Due,
    Scheduler,
    Status,
    build_and_send,
)
from digest.store import State
from tests.mailserver import Mailserver, rss, schedule_letter, wait_for

# The SMTP server and secrets fixtures of the sender's tests.
pytestmark = pytest.mark.usefixtures("mail_secrets")

DETROIT = ZoneInfo("America/Detroit")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=DETROIT)  # type: ignore[misc,arg-type]


def utc_hours(times: list[datetime]) -> list[tuple[int, int, int]]:
    return [(t.astimezone(UTC).month, t.astimezone(UTC).day, t.astimezone(UTC).hour) for t in times]


# Due times ------------------------------------------------------------------


def test_fixed_hour_stays_local_across_the_autumn_change() -> None:
    cron = Cron("0 7 * * 1-5", "America/Detroit")
    upcoming = cron.upcoming(local(2026, 10, 29, 8, 0), 4)
    assert [(t.month, t.day, t.hour, t.minute) for t in upcoming] == [
        (10, 30, 7, 0), (11, 2, 7, 0), (11, 3, 7, 0), (11, 4, 7, 0),
    ]  # fmt: skip
    assert utc_hours(upcoming) == [(10, 30, 11), (11, 2, 12), (11, 3, 12), (11, 4, 12)]


def test_spring_forward_runs_a_skipped_time_once() -> None:
    cron = Cron("30 2 * * *", "America/Detroit")  # 2:30 does not exist on 8 March 2026
    upcoming = cron.upcoming(local(2026, 3, 7, 0, 0), 3)
    assert utc_hours(upcoming) == [(3, 7, 7), (3, 8, 7), (3, 9, 6)]
    assert [t.astimezone(DETROIT).strftime("%d %H:%M") for t in upcoming] == [
        "07 02:30", "08 03:00", "09 02:30",
    ]  # fmt: skip


def test_fall_back_runs_a_repeated_fixed_time_once_but_every_real_hour() -> None:
    daily = Cron("30 1 * * *", "America/Detroit")  # 1:30 happens twice on 1 November 2026
    assert utc_hours(daily.upcoming(local(2026, 10, 31, 12, 0), 3)) == [
        (11, 1, 5), (11, 2, 6), (11, 3, 6),
    ]  # fmt: skip
    latest = daily.at_or_before(datetime(2026, 11, 1, 7, 0, tzinfo=UTC))
    assert latest.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # the first pass
    hourly = Cron("0 * * * *", "America/Detroit")
    assert utc_hours(hourly.upcoming(local(2026, 11, 1, 0, 30), 3)) == [
        (11, 1, 5), (11, 1, 6), (11, 1, 7),
    ]  # fmt: skip


def test_at_or_before() -> None:
    cron = Cron("0 7 * * 1-5", "America/Detroit")
    due = local(2026, 11, 26, 7, 0)
    assert cron.at_or_before(due) == due
    assert cron.at_or_before(due - timedelta(seconds=1)) == local(2026, 11, 25, 7, 0)
    assert cron.at_or_before(local(2026, 11, 30, 6, 0)) == local(2026, 11, 27, 7, 0)


@pytest.mark.parametrize(
    ("cron", "zone", "message"),
    [
        ("0 7 * *", "UTC", "five fields"),
        ("61 7 * * *", "UTC", "not a cron"),
        ("0 7 * * 1-5 2027", "UTC", "five fields"),
        ("0 7 * * *", "America/Nowhere", "schedule.timezone"),
    ],
)
def test_bad_schedule_is_a_config_error(cron: str, zone: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Cron(cron, zone)


# The scheduler with a fake clock --------------------------------------------


@dataclass
class FakeClock:
    now: datetime
    end: datetime

    def __call__(self) -> datetime:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.now += timedelta(seconds=seconds)
        return self.now >= self.end


@dataclass
class RecordingJob:
    clock: Callable[[], datetime]
    statuses: list[Status] = field(default_factory=list)  # returned in turn, then "sent"
    calls: list[tuple[Due, datetime]] = field(default_factory=list)

    def __call__(self, due: Due) -> CycleResult:
        self.calls.append((due, self.clock()))
        status = self.statuses.pop(0) if self.statuses else "sent"
        return CycleResult(status, due.at, due.issue_id)


def make_config(tmp_path: Path, grace_minutes: int = 720) -> Config:
    settings = ScheduleSettings(
        cron="0 7 * * 1-5", timezone="America/Detroit", grace_minutes=grace_minutes
    )
    return Config(schedule=settings, base_dir=tmp_path)


def scheduler(config: Config, job: RecordingJob) -> Scheduler:
    return Scheduler(config, State(config.state_target), job, lock_wait=5)


def test_loop_runs_each_due_time_once_across_dst(tmp_path: Path) -> None:
    clock = FakeClock(local(2026, 10, 29, 6, 59), end=local(2026, 11, 3, 7, 30))
    job = RecordingJob(clock)
    scheduler(make_config(tmp_path), job).run(clock, clock.wait)
    dues = [due.at for due, _ in job.calls]
    assert utc_hours(dues) == [(10, 29, 11), (10, 30, 11), (11, 2, 12), (11, 3, 12)]
    assert all(timedelta(0) <= ran - due.at < timedelta(seconds=1) for due, ran in job.calls)
    assert [due.issue_id for due, _ in job.calls] == [
        "2026-10-29", "2026-10-30", "2026-11-02", "2026-11-03",
    ]  # fmt: skip


def test_a_restart_after_a_run_does_not_run_again(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock = FakeClock(local(2026, 11, 26, 7, 0, 30), end=local(2026, 11, 26, 7, 10))
    job = RecordingJob(clock)
    assert scheduler(config, job).run_due(clock()).status == "sent"
    clock.now = local(2026, 11, 26, 7, 5)
    assert scheduler(config, job).run_due(clock()).status == "not_due"  # a new process
    assert len(job.calls) == 1


def test_downtime_within_grace_catches_up_once(tmp_path: Path) -> None:
    config = make_config(tmp_path, grace_minutes=720)
    clock = FakeClock(local(2026, 11, 2, 7, 0), end=local(2026, 11, 4, 10, 0))
    job = RecordingJob(clock)
    scheduler(config, job).run_due(clock())
    clock.now = local(2026, 11, 4, 9, 0)  # down across Tuesday's and Wednesday's 7:00
    sched = scheduler(config, job)
    assert sched.run_due(clock()).status == "sent"
    assert sched.run_due(clock()).status == "not_due"
    assert [due.at for due, _ in job.calls] == [local(2026, 11, 2, 7, 0), local(2026, 11, 4, 7, 0)]
    assert sched.last_due() == local(2026, 11, 4, 7, 0)


def test_downtime_beyond_grace_skips_to_the_next_due_time(tmp_path: Path) -> None:
    config = make_config(tmp_path, grace_minutes=60)
    clock = FakeClock(local(2026, 11, 4, 20, 0), end=local(2026, 11, 5, 8, 0))
    job = RecordingJob(clock)
    sched = scheduler(config, job)
    assert sched.run_due(clock()).status == "missed"
    assert job.calls == []
    sched.run(clock, clock.wait)
    assert [due.at for due, _ in job.calls] == [local(2026, 11, 5, 7, 0)]


def test_an_unfinished_cycle_is_finished_with_the_same_issue(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock = FakeClock(local(2026, 11, 26, 7, 0), end=local(2026, 11, 26, 12, 0))
    job = RecordingJob(clock, statuses=["incomplete", "incomplete"])
    assert scheduler(config, job).run_due(clock()).status == "incomplete"
    clock.now += timedelta(minutes=20)
    assert scheduler(config, job).run_due(clock()).status == "incomplete"  # after a restart
    clock.now += timedelta(minutes=20)
    assert scheduler(config, job).run_due(clock()).status == "sent"
    assert scheduler(config, job).run_due(clock()).status == "not_due"
    assert {(due.at, due.issue_id) for due, _ in job.calls} == {
        (local(2026, 11, 26, 7, 0), "2026-11-26")
    }
    assert len(job.calls) == 3


def test_the_loop_retries_an_unfinished_cycle_within_minutes(tmp_path: Path) -> None:
    clock = FakeClock(local(2026, 11, 26, 7, 0), end=local(2026, 11, 26, 7, 30))
    job = RecordingJob(clock, statuses=["incomplete"])
    scheduler(make_config(tmp_path), job).run(clock, clock.wait)
    assert [ran - local(2026, 11, 26, 7, 0) for _, ran in job.calls] == [
        timedelta(0),
        timedelta(minutes=5),
    ]


def test_an_unfinished_cycle_past_the_grace_is_left(tmp_path: Path) -> None:
    config = make_config(tmp_path, grace_minutes=60)
    clock = FakeClock(local(2026, 11, 26, 7, 0), end=local(2026, 11, 28, 0, 0))
    job = RecordingJob(clock, statuses=["incomplete"])
    scheduler(config, job).run_due(clock())
    clock.now = local(2026, 11, 26, 9, 0)
    assert scheduler(config, job).run_due(clock()).status == "not_due"
    assert len(job.calls) == 1


# The real job: a local feed, a real SMTP server -------------------------------


def test_build_and_send_only_when_there_is_news(tmp_path: Path, server: Mailserver) -> None:
    config = load_config(schedule_letter(tmp_path, server, count=2))
    with State(config.state_target) as state:
        sched = Scheduler(config, state, build_and_send(config, state, config.output_dir))
        now = datetime.now(UTC)
        first = sched.run_due(now)
        assert first.status == "sent" and first.report is not None and first.report.sent == 2
        assert (config.output_dir / str(first.issue_id) / "email.html").exists()
        assert sched.run_due(now).status == "not_due"
        assert sched.run_due(now + timedelta(minutes=1)).status == "nothing_new"
        assert len(server.handler.messages) == 2
        (tmp_path / "feed.xml").write_text(
            rss(["Brakes fail", "Wagons return", "Sedans vanish"]), encoding="utf-8"
        )
        third = sched.run_due(now + timedelta(minutes=2))
        assert third.status == "sent" and third.issue_id != first.issue_id
    counts = Counter(r for m in server.handler.messages for r in m.recipients)
    assert counts == {"reader000@example.org": 2, "reader001@example.org": 2}
    assert "Sedans vanish" in server.handler.messages[-1].raw.decode("ascii")


def digest_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "digest", *args]


@pytest.mark.slow
def test_sigterm_mid_send_stops_between_messages_and_once_finishes(
    tmp_path: Path, server: Mailserver
) -> None:
    path = schedule_letter(tmp_path, server, count=10)
    server.handler.delay = 0.15
    run = subprocess.Popen(
        digest_cmd("schedule", "--once", "-c", str(path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: len(server.handler.messages) >= 3)
    run.send_signal(signal.SIGTERM)
    stdout, stderr = run.communicate(timeout=30)
    assert run.returncode == 1, stderr
    assert "stopped on request" in stderr and "not fully sent" in stdout
    sent_first = len(server.handler.messages)
    assert 3 <= sent_first < 10
    again = subprocess.run(
        digest_cmd("schedule", "--once", "-c", str(path)), capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    counts = Counter(r for m in server.handler.messages for r in m.recipients)
    assert counts == Counter(f"reader{n:03d}@example.org" for n in range(10))
    assert len(list((tmp_path / "output").glob("*/issue.json"))) == 1  # built once


@pytest.mark.slow
def test_foreground_schedule_prints_next_times_and_stops_on_sigterm(
    tmp_path: Path, server: Mailserver
) -> None:
    path = schedule_letter(tmp_path, server, count=1, cron="0 7 * * 1-5")
    text = path.read_text(encoding="utf-8").replace("grace_minutes = 60", "grace_minutes = 0")
    path.write_text(text, encoding="utf-8")
    run = subprocess.Popen(
        digest_cmd("schedule", "-c", str(path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert run.stdout is not None
    line = run.stdout.readline()
    assert line.startswith("Scheduled ('0 7 * * 1-5'); next: ") and line.count("07:00") == 3
    time.sleep(0.3)
    run.send_signal(signal.SIGTERM)
    stdout, stderr = run.communicate(timeout=30)
    assert run.returncode == 0, stderr
    assert "Stopped." in stdout
    assert server.handler.messages == []


def test_one_scheduler_leads_and_a_standby_takes_over_when_it_stops(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    start = local(2026, 10, 29, 6, 59)
    leader_clock = FakeClock(start, end=local(2026, 10, 30, 7, 30))
    leader_job = RecordingJob(leader_clock)
    with State(config.state_target) as other:
        standby = Scheduler(config, other, RecordingJob(leader_clock), lock_wait=5)
        leading = scheduler(config, leader_job)
        with leading.state.lock(LEADER):  # while one leads, a second does nothing
            assert standby.run_once(start + timedelta(minutes=5)).status == "standby"
            standby_clock = FakeClock(start, end=start + timedelta(minutes=1))
            standby.run(standby_clock, standby_clock.wait, standby=5)
            assert standby.job.calls == []  # type: ignore[attr-defined]
        leading.run(leader_clock, leader_clock.wait)  # leads: both due times, once each
        assert [due.issue_id for due, _ in leader_job.calls] == ["2026-10-29", "2026-10-30"]
        # The leader stopped (or died: its lock went with it); the standby takes over
        # and finds those due times done.
        later = FakeClock(local(2026, 10, 30, 7, 30), end=local(2026, 11, 2, 7, 30))
        standby.run(later, later.wait, standby=5)
        assert [due.issue_id for due, _ in standby.job.calls] == ["2026-11-02"]  # type: ignore[attr-defined]


def test_an_issue_built_on_another_machine_is_never_built_again_here(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    due = Due(local(2026, 10, 29, 7, 0), "2026-10-29")
    with State(config.state_target) as state:
        state.record_issue(due.issue_id, [("k", "Told elsewhere", "https://example.org/1")])
        result = build_and_send(config, state, tmp_path / "output")(due)
    assert (result.status, result.issue_id) == ("incomplete", "2026-10-29")
    assert not (tmp_path / "output").exists()


def _schedule(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "schedule", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_schedulers_on_several_machines_build_and_send_once(
    tmp_path: Path, server: Mailserver
) -> None:
    path = schedule_letter(tmp_path, server, count=5)
    runs = [_schedule("--once", "-c", str(path)) for _ in range(3)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert sum("built and sent" in out for out in outputs) == 1, outputs
    assert server.handler.count() == Counter(f"reader{n:03d}@example.org" for n in range(5))
    assert [p.name for p in (tmp_path / "output").iterdir() if p.is_dir()] != []


@pytest.mark.slow
def test_a_standby_scheduler_leads_when_the_leader_dies(tmp_path: Path, server: Mailserver) -> None:
    path = schedule_letter(tmp_path, server, count=1, cron="0 7 1 1 *")
    lines: dict[int, list[str]] = {}

    def follow(run: subprocess.Popen[str]) -> None:
        assert run.stdout is not None
        for line in run.stdout:
            lines.setdefault(run.pid, []).append(line)

    def said(run: subprocess.Popen[str], text: str) -> bool:
        return any(text in line for line in lines.get(run.pid, []))

    leader = _schedule("-v", "-c", str(path))
    threading.Thread(target=follow, args=(leader,), daemon=True).start()
    wait_for(lambda: said(leader, "leading"), timeout=60)
    standby = _schedule("-v", "-c", str(path))
    threading.Thread(target=follow, args=(standby,), daemon=True).start()
    try:
        wait_for(lambda: said(standby, "standing by"), timeout=60)
        assert not said(standby, "leading")
        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=30)
        wait_for(lambda: said(standby, "leading"), timeout=60)  # within one standby poll
    finally:
        for run in (leader, standby):
            if run.poll() is None:
                run.send_signal(signal.SIGTERM)
                run.wait(timeout=30)
    assert standby.returncode == 0
