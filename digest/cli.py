"""The `digest` command: options in, pipeline run, a report and an exit code out."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from datetime import datetime
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

from digest import __version__
from digest.config import STARTER_CONFIG, Config, load_config
from digest.errors import ConfigError, DigestError
from digest.models import FeedStatus
from digest.output import next_issue_id
from digest.pipeline import Build, build_issue
from digest.publish import publish
from digest.render import default_theme_dir
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
        result = build_issue(
            config,
            state,
            now=now,
            issue_id=now.date().isoformat() if demo else next_issue_id(output_dir, now.date()),
            transport=transport,
            progress=progress,
        )
        failed = [r for r in result.feeds if r.status is FeedStatus.ERROR]
        if len(failed) == len(result.feeds) or (strict and failed):
            _report(result, None, config)
            return Exit.ALL_FEEDS_FAILED
        if result.issue is None:
            _report(result, None, config)
            return Exit.NOTHING_NEW
        folder, _ = publish(result.issue, config, output_dir, local_images)
        state.record_issue(result.issue.id, ((s.key, s.title, s.url) for s in result.issue.stories))
    _report(result, folder, config)
    return Exit.WRITTEN


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


# --- mail commands (digest send, subscribers, schedule) ---


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
