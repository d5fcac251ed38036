"""Run the newsletter on a cron schedule: build at each due time, send when there is news.

Due times come from `[schedule] cron` read in `[schedule] timezone`, so
"0 7 * * 1-5" stays 7:00 local across DST changes. When a clock change makes
a time happen twice (the autumn's repeated hour) a job with a fixed hour runs
once; when it skips a time (spring) croniter runs it at the first minute that
exists, as cron does.

What the scheduler remembers lives in the state file (`schedule_state`):
`last_due`, the latest due time dealt with, and `pending`, the due time and
issue id of a cycle not yet finished. A cycle records `pending` before it
builds, so after a crash the next start finishes that cycle (sends the issue
already written, or builds it if it never was) instead of building a second
one. After downtime across several due times only the latest is caught up,
and only when it is at most `grace_minutes` old.

Schedulers on several machines sharing one state elect a leader: the one
holding the `scheduler` lock (an advisory lock on PostgreSQL, dropped by the
server when its holder dies) builds and sends; the others stand by and ask
again every few seconds, so one takes over within seconds of a crash.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from croniter import croniter

from digest.build import Outcome, build
from digest.build.mend import mend
from digest.config import Config
from digest.config import checks as config_checks
from digest.errors import ConfigError, LockedError
from digest.issues.files import load_issue, next_issue_id
from digest.mail.send import SendReport, send_issue
from digest.mail.weekly import send_weekly
from digest.store import State

logger = logging.getLogger(__name__)

Status = Literal[
    "not_due", "missed", "nothing_new", "feeds_failed", "sent", "incomplete", "standby"
]
# The longest single sleep: the clock is read again after it, so a suspended
# machine or a changed system clock is noticed within a minute.
MAX_NAP = 60.0
LEADER = "scheduler"  # the lock whose holder builds and sends; the others stand by


@dataclass(frozen=True)
class Due:
    at: datetime  # aware, in the schedule's timezone
    issue_id: str


@dataclass(frozen=True)
class CycleResult:
    status: Status
    due: datetime | None = None
    issue_id: str | None = None
    report: SendReport | None = None


Job = Callable[[Due], CycleResult]


class Cron:
    """A cron expression in a timezone, giving due times either side of an instant."""

    def __init__(self, expression: str, timezone: str = "") -> None:
        # load_config has run the same checks; a Cron made in code gets them too.
        for key, value, check in (
            ("cron", expression, config_checks.cron),
            ("timezone", timezone, config_checks.timezone),
        ):
            try:
                check(value)
            except ValueError as e:
                raise ConfigError(f"schedule.{key} {value!r} {e}") from None
        self.expression = expression
        self.tz: tzinfo = ZoneInfo(timezone) if timezone else _local_zone()
        # A fixed hour runs once in the autumn's repeated hour; "*" runs every real hour.
        self._once_per_wall_time = expression.split()[1] != "*"

    def after(self, moment: datetime) -> datetime:
        """The first due time strictly after `moment`."""
        times = croniter(self.expression, moment.astimezone(self.tz))
        while True:
            due: datetime = times.get_next(datetime)
            if not self._repeat(due):
                return due

    def at_or_before(self, moment: datetime) -> datetime:
        """The latest due time at or before `moment`."""
        local = moment.astimezone(self.tz)
        times = croniter(self.expression, local + timedelta(seconds=1))
        while True:
            due: datetime = times.get_prev(datetime)
            if due <= local and not self._repeat(due):
                return due

    def upcoming(self, moment: datetime, count: int) -> list[datetime]:
        result: list[datetime] = []
        for _ in range(count):
            moment = self.after(moment)
            result.append(moment)
        return result

    def _repeat(self, due: datetime) -> bool:
        """Whether `due` is the second pass of a wall time the clock went back over."""
        if not self._once_per_wall_time:
            return False
        first = due.replace(tzinfo=None).replace(tzinfo=self.tz, fold=0)
        return first.utcoffset() != due.utcoffset()


def _local_zone() -> tzinfo:
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


class Scheduler:
    """Decides when a cycle is due and remembers what it did; `job` does the work."""

    def __init__(
        self,
        config: Config,
        state: State,
        job: Job,
        *,
        output_dir: Path | None = None,
        lock_wait: float = 600.0,
    ) -> None:
        self.config = config
        self.state = state
        self.job = job
        self.cron = Cron(config.schedule.cron, config.schedule.timezone)
        self.grace = timedelta(minutes=config.schedule.grace_minutes)
        self.output_dir = output_dir or config.output_dir
        self.lock_wait = lock_wait

    def run_due(self, now: datetime) -> CycleResult:
        """One cycle: finish an interrupted one, or run the latest due time if not yet run."""
        with self.state.lock("build", self.lock_wait):
            # A cycle killed between writing its folder and recording its stories.
            for warning in mend(self.state, self.config, self.output_dir):
                logger.warning("%s", warning)
        pending = self._pending()
        if pending is not None:
            if now - pending.at <= self.grace:
                logger.info("finishing the cycle due %s", pending.at.isoformat())
                return self._run(pending)
            logger.warning(
                "the cycle due %s (issue %s) was interrupted and is past the grace;"
                " `digest send %s` finishes it",
                pending.at.isoformat(),
                pending.issue_id,
                pending.issue_id,
            )
            self._set("pending", None)
        due = self.cron.at_or_before(now)
        last = self._last_due()
        if last is not None and due <= last:
            return CycleResult("not_due")
        self._set("last_due", due.astimezone(UTC).isoformat())
        if now - due > self.grace:
            logger.warning(
                "missed the issue due %s (down for longer than the %d-minute grace)",
                due.isoformat(),
                self.config.schedule.grace_minutes,
            )
            return CycleResult("missed", due)
        issue_id = next_issue_id(self.output_dir, due.date(), self.state.recorded_issues())
        cycle = Due(due, issue_id)
        self._set("pending", json.dumps({"due": due.isoformat(), "issue": issue_id}))
        return self._run(cycle)

    def _run(self, due: Due) -> CycleResult:
        result = self.job(due)
        if result.status != "incomplete":
            self._set("pending", None)
        return result

    def run_once(self, now: datetime) -> CycleResult:
        """One cycle if this scheduler leads; "standby" while another one does."""
        with ExitStack() as leading:
            try:
                leading.enter_context(self.state.lock(LEADER))
            except LockedError:
                return CycleResult("standby")
            return self.run_due(now)
        raise AssertionError("unreachable")  # pragma: no cover

    def run(
        self,
        clock: Callable[[], datetime],
        wait: Callable[[float], bool],
        report: Callable[[CycleResult], None] = lambda result: None,
        standby: float = 10.0,
    ) -> None:
        """Lead and run cycles until `wait` returns True (stop requested); `wait` sleeps up
        to N s. While another scheduler leads this one asks again every `standby` s, and
        takes over when that one stops or dies (its lock goes with it)."""
        waiting = False
        while True:
            with ExitStack() as leading:
                try:
                    leading.enter_context(self.state.lock(LEADER))
                except LockedError:
                    if not waiting:
                        logger.info("standing by: another scheduler leads on this state")
                    waiting = True
                    if wait(standby):
                        return
                    continue
                logger.info("leading: this scheduler builds and sends")
                self._cycles(clock, wait, report)
                return

    def _cycles(
        self,
        clock: Callable[[], datetime],
        wait: Callable[[float], bool],
        report: Callable[[CycleResult], None],
    ) -> None:
        while True:
            result = self.run_due(clock())
            if result.status != "not_due":
                report(result)
            now = clock()
            # An unfinished cycle (server down) is tried again in a while.
            target = self.cron.after(now)
            if result.status == "incomplete":
                target = min(target, now + timedelta(minutes=5))
            while (remaining := (target - clock()).total_seconds()) > 0:
                if wait(min(remaining, MAX_NAP)):
                    return

    def iter_upcoming(self, now: datetime, count: int = 3) -> Iterator[datetime]:
        yield from self.cron.upcoming(now, count)

    def last_due(self) -> datetime | None:
        return self._last_due()

    def _last_due(self) -> datetime | None:
        value = self._get("last_due")
        return datetime.fromisoformat(value) if value else None

    def _pending(self) -> Due | None:
        value = self._get("pending")
        if not value:
            return None
        record = json.loads(value)
        return Due(datetime.fromisoformat(record["due"]), str(record["issue"]))

    def _get(self, key: str) -> str | None:
        return self.state.schedule_value(key)

    def _set(self, key: str, value: str | None) -> None:
        self.state.set_schedule_value(key, value)


def build_and_send(
    config: Config,
    state: State,
    output_dir: Path,
    *,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], object] = time.sleep,
    lock_wait: float = 600.0,
) -> Job:
    """The real job: build the issue for a due time (unless already built) and send it."""

    def job(due: Due) -> CycleResult:
        folder = output_dir / due.issue_id
        with state.lock("build", lock_wait):
            built = (folder / "issue.json").exists()
            run = None
            if not built and due.issue_id in state.recorded_issues():
                # Built by another machine, whose folder this one cannot see: building
                # it again would mail different stories under the same id.
                logger.error(
                    "issue %s was built on another machine but %s is not here: give every"
                    " scheduler the same output.dir (a shared folder)", due.issue_id, folder,
                )  # fmt: skip
                return CycleResult("incomplete", due.at, due.issue_id)
            if not built:
                run = build(
                    config,
                    state,
                    output_dir,
                    now=datetime.now(UTC).astimezone(),
                    issue_id=due.issue_id,
                )
        if run is not None:
            if run.outcome is Outcome.NOTHING_NEW:
                logger.info("due %s: nothing new, nothing sent", due.at.isoformat())
                return CycleResult("nothing_new", due.at)
            if run.outcome is Outcome.FEEDS_FAILED:
                logger.warning("due %s: every feed failed, nothing sent", due.at.isoformat())
                return CycleResult("feeds_failed", due.at)
        loaded = load_issue(output_dir, due.issue_id)
        report = send_issue(config, state, loaded, stop=stop, sleep=sleep)
        if report.complete and not stop():  # and last week's digest to weekly readers, once
            send_weekly(config, state, datetime.now(UTC), stop=stop, sleep=sleep)
        status: Status = "sent" if report.complete else "incomplete"
        return CycleResult(status, due.at, due.issue_id, report)

    return job
