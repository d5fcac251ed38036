"""The commands that mail issues: `digest send`, `digest subscribers …`, `digest schedule`."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from digest.cli.common import (
    ConfigOption,
    Exit,
    VerboseOption,
    app,
    complain,
    guarded,
    out,
    say,
)
from digest.config import Config, load_config
from digest.errors import DigestError
from digest.issues.files import load_issue
from digest.mail import subscribers
from digest.mail.send import SendReport, send_issue, send_test
from digest.store import State

if TYPE_CHECKING:
    from digest.mail.schedule import CycleResult


def _stop_on_signals() -> threading.Event:
    """SIGTERM / SIGINT set the event; senders stop between messages."""
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop


@app.command()
def send(
    issue: Annotated[
        str | None, typer.Argument(help="Issue id, e.g. 2026-11-26 (default: the newest).")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Send one test copy to ADDR; record nothing.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Build every message, send none, report who is due.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=256,
            help="SMTP connections at once (default [smtp] workers). Several `digest send`"
            " processes sharing one PostgreSQL split the list between them.",
        ),
    ] = None,
    wait: Annotated[
        float, typer.Option("--wait", hidden=True, help="No effect: senders share the list.")
    ] = 0.0,
    retry_unknown: Annotated[
        bool,
        typer.Option(
            "--retry-unknown",
            help="Send again to readers whose message the server never confirmed"
            " (check the relay's log first: they may have it).",
        ),
    ] = False,
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Mail an issue to every active subscriber, each exactly once (rerun to resume)."""
    del wait  # senders no longer exclude each other: they claim rows
    guarded(verbose, lambda: _send(config_path, issue, to, dry_run, workers, retry_unknown))


def _send(
    config_path: Path,
    issue: str | None,
    to: str | None,
    dry_run: bool,
    workers: int | None,
    retry_unknown: bool = False,
) -> int:
    config = load_config(config_path)
    loaded = load_issue(config.output_dir, issue)
    if to:
        address = send_test(config, loaded, to)
        say(f"Test copy of issue {loaded.issue.id} sent to {address} (nothing recorded).")
        return Exit.WRITTEN
    stop = _stop_on_signals()
    with State(config.state_target) as state:
        if dry_run:
            report = send_issue(config, state, loaded, dry_run=True, retry_unknown=retry_unknown)
            say(
                f"Issue {report.issue_id}: {report.left} would be sent,"
                f" {report.already} already done; nothing sent."
            )
            return Exit.WRITTEN
        report = send_issue(
            config,
            state,
            loaded,
            stop=stop.is_set,
            sleep=stop.wait,
            retry_unknown=retry_unknown,
            workers=workers,
        )
        code = _send_report(report)
        if code in (Exit.WRITTEN, Exit.REFUSED) and not stop.is_set():
            code = max(code, _weekly(config, state, stop))
    return code


def _weekly(config: Config, state: State, stop: threading.Event) -> int:
    """Last week's digest for weekly readers (mail/weekly.py); 0 when none is due."""
    from digest.mail.weekly import send_weekly

    week = send_weekly(config, state, datetime.now(UTC), stop=stop.is_set, sleep=stop.wait)
    if week is None or week.total == 0:
        return 0
    return _send_report(week)


def _send_report(report: SendReport) -> int:
    say(
        f"Issue {report.issue_id}: {report.sent} sent now, {report.already} done before,"
        f" {len(report.failed)} refused, {report.deferred + report.left} still to send,"
        f" {report.waiting} deferred, {report.unknown} unknown."
        + (f" {report.elsewhere} in another sender's hands." if report.elsewhere else "")
    )
    for address, reply in report.failed:
        complain("refused", f"{subscribers.mask(address)}: {reply}")
    if report.resumed:
        complain("warning", f"{report.resumed} message(s) interrupted last time were sent again")
    if report.unknown:
        complain(
            "unknown",
            f"the server never confirmed {report.unknown} message(s): they may have arrived;"
            " check the relay's log, then `digest send --retry-unknown` sends them again",
        )
    if report.waiting:
        when = report.next_at.astimezone().strftime("%Y-%m-%d %H:%M %Z") if report.next_at else ""
        complain(
            "deferred",
            f"{report.waiting} reader(s) got a temporary refusal (4xx) for their address;"
            f" `digest send` tries them again from {when} (the scheduler does it by itself)",
        )
    if report.stopped:
        complain("stopped", "stopped on request; run `digest send` again to go on")
        return Exit.ERROR
    if report.deferred or report.left:
        complain(
            "error",
            f"the server kept failing ({report.last_error}); run `digest send` again to go on",
        )
        return Exit.ERROR
    if report.unknown:
        return Exit.UNKNOWN
    if report.waiting:
        return Exit.WAITING
    return Exit.REFUSED if report.failed else Exit.WRITTEN


EveryoneOption = Annotated[bool, typer.Option("--all", help="Include those who unsubscribed.")]
subscribers_app = typer.Typer(help="Manage who gets the newsletter.", no_args_is_help=True)
app.add_typer(subscribers_app, name="subscribers")


@subscribers_app.command("add")
def subscribers_add(
    address: Annotated[str, typer.Argument(help="Email address.")],
    name: Annotated[str, typer.Option("--name", help="The reader's name.")] = "",
    resubscribe: Annotated[
        bool, typer.Option("--resubscribe", help="Bring back someone who unsubscribed.")
    ] = False,
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Add one subscriber (the address is checked, no DNS lookup)."""

    def action() -> int:
        with State(load_config(config_path).state_target) as state:
            added = subscribers.add(state, address, name, resubscribe=resubscribe)
        say(f"Subscribed {added.email}")
        return 0

    guarded(verbose, action)


@subscribers_app.command("remove")
def subscribers_remove(
    who: Annotated[str, typer.Argument(help="Email address, or an unsubscribe token.")],
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Unsubscribe an address (or the holder of a token); they are never mailed again."""

    def action() -> int:
        config = load_config(config_path)
        with State(config.state_target) as state:
            if "@" in who:
                gone = subscribers.remove(state, who)
            else:
                holder = subscribers.check_token(state, subscribers.token_secret(config), who)
                gone = subscribers.unsubscribe(state, holder)
        say(f"Unsubscribed {gone.email}")
        return 0

    guarded(verbose, action)


StatusOption = Annotated[
    str | None,
    typer.Option(
        "--status", help="Only readers in this state: " + ", ".join(subscribers.STATES) + "."
    ),
]


@subscribers_app.command("list")
def subscribers_list(
    everyone: EveryoneOption = False,
    status: StatusOption = None,
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """List subscribers in the order they joined, with when and why their state last changed."""

    def action() -> int:
        _check_status(status)
        with State(load_config(config_path).state_target) as state:
            rows = state.subscribers(include_unsubscribed=everyone, status=status)
        table = Table(show_header=True, title_justify="left", title=f"{len(rows)} subscribers")
        for column in ("email", "name", "status", "since", "cause", "gets"):
            table.add_column(
                column, no_wrap=column in ("email", "status", "since"), overflow="fold"
            )
        for row in rows:
            gets = "weekly" if row.preferences.cadence == "weekly" else "every issue"
            if row.preferences.sources:
                gets += ": " + ", ".join(row.preferences.sources)
            table.add_row(
                escape(subscribers.printable(row.email)),
                escape(subscribers.printable(row.name)),
                row.status,
                (row.status_at or row.subscribed_at)[:16].replace("T", " "),
                escape(subscribers.printable(row.cause)),
                escape(subscribers.printable(gets)),
            )
        out.print(table)
        return 0

    guarded(verbose, action)


@subscribers_app.command("import")
def subscribers_import(
    file: Annotated[Path, typer.Argument(help="CSV with an 'email' column (and 'name').")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the good rows, skip bad addresses.")
    ] = False,
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Add every address in a CSV file; unsubscribed ones stay unsubscribed."""

    def action() -> int:
        config = load_config(config_path)
        if file.exists() and not file.is_file():  # a FIFO or a device would block
            raise DigestError(f"{file}: not a regular file")
        try:
            source = file.open(encoding="utf-8-sig", newline="")
        except OSError as e:
            raise DigestError(f"{file}: cannot read: {e.strerror}") from None
        with source, State(config.state_target) as state:
            result = subscribers.import_csv(state, source, skip_invalid=skip_invalid)
        say(
            f"Imported {result.added} new, {result.already} already subscribed,"
            f" {result.unsubscribed} left unsubscribed, {result.skipped} invalid skipped."
        )
        for problem in result.invalid:
            complain("skipped", problem)
        if result.skipped > len(result.invalid):
            complain(
                "skipped", f"{result.skipped - len(result.invalid)} more invalid rows, not listed"
            )
        return 0

    guarded(verbose, action)


@subscribers_app.command("export")
def subscribers_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    everyone: EveryoneOption = False,
    status: StatusOption = None,
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Write the list as CSV: address, name, state, when and why it last changed, choices."""

    def action() -> int:
        _check_status(status)
        which = status or (None if everyone else subscribers.ACTIVE)
        with State(load_config(config_path).state_target) as state:
            rows = state.each_subscriber(which)  # a page at a time: any size of list
            if output is None:
                subscribers.export_csv(rows, sys.stdout)
                return 0
            with output.open("w", encoding="utf-8", newline="") as target:
                count = subscribers.export_csv(rows, target)
        complain("exported", f"{count} subscribers to {output}")
        return 0

    guarded(verbose, action)


def _check_status(status: str | None) -> None:
    if status is not None and status not in subscribers.STATES:
        raise DigestError(f"--status {status!r}: use one of {', '.join(subscribers.STATES)}")


@app.command()
def schedule(
    once: Annotated[
        bool, typer.Option("--once", help="Run one due cycle and exit (for cron, systemd).")
    ] = False,
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Build and send at each due time of the cron schedule, only when there is news."""
    guarded(verbose, lambda: _schedule(config_path, once))


def _schedule(config_path: Path, once: bool) -> int:
    from digest.mail.schedule import (  # the whole pipeline: loaded when used
        Scheduler,
        build_and_send,
    )

    config = load_config(config_path)
    stop = _stop_on_signals()
    with State(config.state_target) as state:
        job = build_and_send(config, state, config.output_dir, stop=stop.is_set, sleep=stop.wait)
        scheduler = Scheduler(config, state, job)
        if once:
            result = scheduler.run_once(datetime.now(UTC))
            _cycle_report(result)
            return _CYCLE_EXIT[result.status]
        upcoming = [
            d.strftime("%a %Y-%m-%d %H:%M %Z")
            for d in scheduler.iter_upcoming(datetime.now(UTC), 3)
        ]
        say(f"Scheduled ({config.schedule.cron!r}); next: {', '.join(upcoming)}")
        scheduler.run(lambda: datetime.now(UTC), stop.wait, _cycle_report)
    say("Stopped.")
    return 0


_CYCLE_EXIT = {
    "not_due": 0, "missed": 0, "sent": 0, "nothing_new": Exit.NOTHING_NEW,
    "feeds_failed": Exit.ALL_FEEDS_FAILED, "incomplete": Exit.ERROR, "standby": 0,
}  # fmt: skip


def _cycle_report(result: CycleResult) -> None:
    when = result.due.strftime("%Y-%m-%d %H:%M %Z") if result.due else "now"
    messages = {
        "not_due": "nothing due",
        "missed": f"{when}: missed (down longer than the grace)",
        "nothing_new": f"{when}: nothing new, nothing sent",
        "feeds_failed": f"{when}: every feed failed, nothing sent",
        "sent": f"{when}: issue {result.issue_id} built and sent",
        "incomplete": f"{when}: issue {result.issue_id} not fully sent yet",
        "standby": "another scheduler leads on this state; nothing done here",
    }
    say(messages[result.status])
    if result.report is not None:
        _send_report(result.report)
