"""The `digest` command: options in, pipeline run, a report and an exit code out."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from digest import __version__, subscribers
from digest.config import STARTER_CONFIG, Config, load_config
from digest.errors import ConfigError, DigestError
from digest.models import FeedStatus
from digest.output import next_issue_id
from digest.pipeline import Build
from digest.render import default_theme_dir
from digest.runner import Outcome, build_and_publish
from digest.schedule import CycleResult, Scheduler, build_and_send
from digest.send import SendReport, load_issue, send_issue, send_lock, send_test
from digest.state import State


class Exit(IntEnum):
    """Exit codes of `digest build` (documented in the README)."""

    WRITTEN = 0
    ERROR = 1
    BAD_CONFIG = 2
    NOTHING_NEW = 3
    ALL_FEEDS_FAILED = 4


app = typer.Typer(
    help="Turn news feeds into a reader newsletter: summaries, top comments, an HTML email.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# soft_wrap: messages stay one line however narrow the terminal (scripts grep them).
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"digest {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """digest: news feeds in, a reader newsletter out."""


@app.command()
def build(
    config_path: Annotated[
        Path, typer.Option("--config", "-c", help="The newsletter's config.toml.")
    ] = Path("config.toml"),
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write issues here instead of [output] dir."),
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Build from the bundled sample newsroom, offline.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 4) when any feed fails.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    """Build one issue from the configured feeds into output/<issue-id>/."""
    _logging(verbose)
    try:
        code = _build(config_path, output, demo, strict)
    except ConfigError as e:
        _complain("error", str(e))
        raise typer.Exit(Exit.BAD_CONFIG) from None
    except DigestError as e:
        if verbose:
            err.print_exception()
        _complain("error", str(e))
        raise typer.Exit(Exit.ERROR) from None
    raise typer.Exit(code)


def _build(config_path: Path, output: Path | None, demo: bool, strict: bool) -> Exit:
    transport = None
    local_images = None
    if demo:
        from digest import demo as newsroom

        config = dataclasses.replace(load_config(newsroom.CONFIG_PATH), base_dir=Path.cwd())
        transport = newsroom.demo_transport()
        local_images = newsroom.demo_image_files()
        state = State(":memory:")  # the demo builds a fresh issue every time
    else:
        config = load_config(config_path)
        state = State(config.state_path)
    output_dir = output if output is not None else config.output_dir
    if not config.feeds:
        raise ConfigError(f"{config_path}: no [[feeds]] configured")
    now = datetime.now().astimezone()
    with state, _progress() as progress:
        run = build_and_publish(
            config,
            state,
            output_dir,
            now=now,
            issue_id=now.date().isoformat() if demo else next_issue_id(output_dir, now.date()),
            transport=transport,
            progress=progress,
            local_images=local_images,
            strict=strict,
        )
    _report(run.result, run.folder, config)
    return {
        Outcome.WRITTEN: Exit.WRITTEN,
        Outcome.NOTHING_NEW: Exit.NOTHING_NEW,
        Outcome.FEEDS_FAILED: Exit.ALL_FEEDS_FAILED,
    }[run.outcome]


def _report(result: Build, folder: Path | None, config: Config) -> None:
    counts = {status: 0 for status in FeedStatus}
    for report in result.feeds:
        counts[report.status] += 1
    table = Table(title=config.newsletter.title, show_header=False, title_justify="left")
    table.add_row("feeds ok", str(counts[FeedStatus.OK]))
    table.add_row("not modified", str(counts[FeedStatus.NOT_MODIFIED]))
    table.add_row("failed", str(counts[FeedStatus.ERROR]))
    table.add_row("stories", str(len(result.issue.stories) if result.issue else 0))
    table.add_row("time", f"{result.seconds:.1f} s")
    out.print(table)
    for report in result.feeds:
        if report.status is FeedStatus.ERROR:
            _complain("feed failed", f"{report.url}: {report.error}")
    for warning in result.warnings:
        if not any(warning.startswith(f"{r.url}:") for r in result.feeds):
            _complain("warning", warning)
    if folder is not None:
        out.print(f"Issue written: {folder / 'email.html'}", markup=False, highlight=False)
    elif result.feeds and all(r.status is FeedStatus.ERROR for r in result.feeds):
        out.print("Every feed failed: no issue written.")
    else:
        out.print("Nothing new since the last issue: no issue written.")


def _complain(label: str, message: str) -> None:
    """One line on stderr; the message is shown as is, never read as rich markup."""
    colour = "red" if label == "error" else "yellow"
    err.print(f"[{colour}]{label}:[/] {escape(message)}", highlight=False)


class _RichProgress:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def start(self, stage: str, total: int) -> None:
        self.tasks[stage] = self.progress.add_task(stage, total=total)

    def advance(self, stage: str) -> None:
        self.progress.advance(self.tasks[stage])


class _progress:
    """A rich progress bar on stderr for the build's stages."""

    def __enter__(self) -> _RichProgress:
        self.bar = Progress(
            TextColumn("{task.description:>8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self.bar.__enter__()
        return _RichProgress(self.bar)

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new newsletter.")] = Path("."),
    theme: Annotated[
        bool, typer.Option("--theme", help="Also copy the default templates to DIR/templates/.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Write a starter config.toml (and, with --theme, the templates) into DIR."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.toml"
    if config.exists() and not force:
        _complain("error", f"{config} exists (use --force to overwrite)")
        raise typer.Exit(Exit.ERROR)
    config.write_text(STARTER_CONFIG, encoding="utf-8")
    out.print(f"Wrote {config}", markup=False, highlight=False)
    if theme:
        target = directory / "templates"
        if target.exists() and not force:
            _complain("error", f"{target} exists (use --force to overwrite)")
            raise typer.Exit(Exit.ERROR)
        shutil.copytree(default_theme_dir(), target, dirs_exist_ok=True)
        out.print(f"Copied the default theme to {target}", markup=False, highlight=False)


# --- preview commands (digest preview) ---


@app.command()
def preview(
    config_path: Annotated[
        Path, typer.Option("--config", "-c", help="The newsletter's config.toml.")
    ] = Path("config.toml"),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Serve this folder instead.")
    ] = None,
    port: Annotated[int, typer.Option("--port", "-p", help="Port (0: any free one).")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    open_browser: Annotated[bool, typer.Option("--open", help="Open a browser on it.")] = False,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Re-render when config or templates change.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log requests.")] = False,
) -> None:
    """Serve output/ on localhost: the archive, each issue at desktop and phone width."""
    from digest import preview as viewer

    _logging(verbose)
    try:
        config = load_config(config_path) if config_path.is_file() or watch else None
    except ConfigError as e:
        _complain("error", str(e))
        raise typer.Exit(Exit.BAD_CONFIG) from None
    output_dir = output or (config.output_dir if config else Path("output"))
    state = viewer.Preview(output_dir, config, watch)
    try:
        server = viewer.make_server(state, host, port)
    except OSError as e:
        _complain("error", f"cannot listen on {host}:{port}: {e.strerror or e}")
        raise typer.Exit(Exit.ERROR) from None
    url = f"http://{host}:{server.server_address[1]}/"
    watcher = None
    if watch and config is not None:
        watcher = viewer.Watcher(
            lambda: viewer.watched_files(config_path, state.config or config),
            lambda: state.rebuild(lambda: load_config(config_path)),
        )
        watcher.start()
    out.print(f"Serving {output_dir} at {url} (Ctrl-C stops)", markup=False, highlight=False)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if watcher:
            watcher.stop()
        server.server_close()


# --- mail commands (digest send, subscribers, schedule) ---

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The newsletter's config.toml.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")]
# Exit codes of `digest send` and `digest schedule` beyond 0/1/2 (README: "Sending").
SEND_REFUSED = 5


def _mail(verbose: bool, action: Callable[[], int]) -> None:
    """Run a mail command: one-line errors, exit 2 for configuration, 1 for the rest."""
    _logging(verbose)
    try:
        code = action()
    except ConfigError as e:
        _complain("error", str(e))
        raise typer.Exit(Exit.BAD_CONFIG) from None
    except DigestError as e:
        if verbose:
            err.print_exception()
        _complain("error", str(e))
        raise typer.Exit(Exit.ERROR) from None
    raise typer.Exit(code)


def _stop_on_signals() -> threading.Event:
    """SIGTERM / SIGINT set the event; senders stop between messages."""
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop


def _say(text: str) -> None:
    out.print(text, markup=False, highlight=False)


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
    wait: Annotated[
        float, typer.Option("--wait", help="Wait up to SECONDS for another sender to finish.")
    ] = 0.0,
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Mail an issue to every active subscriber, each exactly once (rerun to resume)."""
    _mail(verbose, lambda: _send(config_path, issue, to, dry_run, wait))


def _send(config_path: Path, issue: str | None, to: str | None, dry_run: bool, wait: float) -> int:
    config = load_config(config_path)
    loaded = load_issue(config.output_dir, issue)
    if to:
        address = send_test(config, loaded, to)
        _say(f"Test copy of issue {loaded.issue.id} sent to {address} (nothing recorded).")
        return Exit.WRITTEN
    stop = _stop_on_signals()
    with State(config.state_path) as state:
        if dry_run:
            report = send_issue(config, state, loaded, dry_run=True)
            _say(
                f"Issue {report.issue_id}: {report.left} would be sent,"
                f" {report.already} already done; nothing sent."
            )
            return Exit.WRITTEN
        with send_lock(config.state_path, wait=wait):
            report = send_issue(config, state, loaded, stop=stop.is_set, sleep=stop.wait)
    return _send_report(report)


def _send_report(report: SendReport) -> int:
    _say(
        f"Issue {report.issue_id}: {report.sent} sent now, {report.already} done before,"
        f" {len(report.failed)} refused, {report.deferred + report.left} still to send."
    )
    for address, reply in report.failed:
        _complain("refused", f"{address}: {reply}")
    if report.resumed:
        _complain("warning", f"{report.resumed} message(s) interrupted last time were sent again")
    if report.stopped:
        _complain("stopped", "stopped on request; run `digest send` again to go on")
        return Exit.ERROR
    if not report.complete:
        _complain(
            "error",
            f"the server kept failing ({report.last_error}); run `digest send` again to go on",
        )
        return Exit.ERROR
    return SEND_REFUSED if report.failed else Exit.WRITTEN


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
        with State(load_config(config_path).state_path) as state:
            added = subscribers.add(state, address, name, resubscribe=resubscribe)
        _say(f"Subscribed {added.email}")
        return 0

    _mail(verbose, action)


@subscribers_app.command("remove")
def subscribers_remove(
    who: Annotated[str, typer.Argument(help="Email address, or an unsubscribe token.")],
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Unsubscribe an address (or the holder of a token); they are never mailed again."""

    def action() -> int:
        config = load_config(config_path)
        with State(config.state_path) as state:
            if "@" in who:
                gone = subscribers.remove(state, who)
            else:
                holder = subscribers.check_token(state, subscribers.token_secret(config), who)
                gone = subscribers.unsubscribe(state, holder)
        _say(f"Unsubscribed {gone.email}")
        return 0

    _mail(verbose, action)


@subscribers_app.command("list")
def subscribers_list(
    everyone: Annotated[
        bool, typer.Option("--all", help="Include those who unsubscribed.")
    ] = False,
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """List subscribers in the order they joined."""

    def action() -> int:
        with State(load_config(config_path).state_path) as state:
            rows = subscribers.listing(state, include_unsubscribed=everyone)
        table = Table(show_header=True, title_justify="left", title=f"{len(rows)} subscribers")
        for column in ("email", "name", "status", "since"):
            table.add_column(column)
        for row in rows:
            table.add_row(escape(row.email), escape(row.name), row.status, row.subscribed_at[:10])
        out.print(table)
        return 0

    _mail(verbose, action)


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
        try:
            source = file.open(encoding="utf-8-sig", newline="")
        except OSError as e:
            raise DigestError(f"{file}: cannot read: {e.strerror}") from None
        with source, State(config.state_path) as state:
            result = subscribers.import_csv(state, source, skip_invalid=skip_invalid)
        _say(
            f"Imported {result.added} new, {result.already} already subscribed,"
            f" {result.unsubscribed} left unsubscribed, {len(result.invalid)} invalid skipped."
        )
        for problem in result.invalid:
            _complain("skipped", problem)
        return 0

    _mail(verbose, action)


@subscribers_app.command("export")
def subscribers_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    everyone: Annotated[
        bool, typer.Option("--all", help="Include those who unsubscribed.")
    ] = False,
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Write the list as CSV (email,name,status,subscribed_at,unsubscribed_at)."""

    def action() -> int:
        with State(load_config(config_path).state_path) as state:
            rows = subscribers.listing(state, include_unsubscribed=everyone)
        if output is None:
            subscribers.export_csv(rows, sys.stdout)
            return 0
        with output.open("w", encoding="utf-8", newline="") as target:
            count = subscribers.export_csv(rows, target)
        _complain("exported", f"{count} subscribers to {output}")
        return 0

    _mail(verbose, action)


@app.command()
def schedule(
    once: Annotated[
        bool, typer.Option("--once", help="Run one due cycle and exit (for cron, systemd).")
    ] = False,
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Build and send at each due time of the cron schedule, only when there is news."""
    _mail(verbose, lambda: _schedule(config_path, once))


def _schedule(config_path: Path, once: bool) -> int:
    config = load_config(config_path)
    stop = _stop_on_signals()
    with State(config.state_path) as state:
        job = build_and_send(config, state, config.output_dir, stop=stop.is_set, sleep=stop.wait)
        scheduler = Scheduler(config, state, job)
        if once:
            result = scheduler.run_due(datetime.now(UTC))
            _cycle_report(result)
            return _CYCLE_EXIT[result.status]
        upcoming = [
            d.strftime("%a %Y-%m-%d %H:%M %Z")
            for d in scheduler.iter_upcoming(datetime.now(UTC), 3)
        ]
        _say(f"Scheduled ({config.schedule.cron!r}); next: {', '.join(upcoming)}")
        scheduler.run(lambda: datetime.now(UTC), stop.wait, _cycle_report)
    _say("Stopped.")
    return 0


_CYCLE_EXIT = {
    "not_due": 0, "missed": 0, "sent": 0, "nothing_new": Exit.NOTHING_NEW,
    "feeds_failed": Exit.ALL_FEEDS_FAILED, "incomplete": Exit.ERROR,
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
    }
    _say(messages[result.status])
    if result.report is not None:
        _send_report(result.report)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
        force=True,
    )
    # trafilatura and cssutils log every oddity of every page at WARNING.
    for noisy in ("trafilatura", "cssutils", "htmldate", "courlan", "readability"):
        logging.getLogger(noisy).setLevel(logging.ERROR if not verbose else logging.WARNING)
