"""The commands that make and show issues: `digest build`, `init` and `preview`."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from digest.cli.common import (
    ConfigOption,
    Exit,
    VerboseOption,
    app,
    complain,
    err,
    guarded,
    out,
    say,
)
from digest.config import STARTER_CONFIG, Config, load_config
from digest.errors import ConfigError, DigestError
from digest.issues.files import next_issue_id
from digest.models import FeedStatus
from digest.store import State

if TYPE_CHECKING:
    from digest.build import BuildResult


@app.command()
def build(
    config_path: ConfigOption = Path("config.toml"),
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
    wait: Annotated[
        float,
        typer.Option("--wait", help="Wait up to SECONDS for another build on this state."),
    ] = 0.0,
    verbose: VerboseOption = False,
) -> None:
    """Build one issue from the configured feeds into output/<issue-id>/."""
    guarded(verbose, lambda: _build(config_path, output, demo, strict, wait))


def _build(
    config_path: Path, output: Path | None, demo: bool, strict: bool, wait: float = 0.0
) -> Exit:
    from digest.build import Outcome, build  # the whole pipeline: loaded when used

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
        if not config.feeds:
            raise ConfigError(f"{config_path}: no [[feeds]] configured")
        state = State(config.state_target)
    output_dir = output if output is not None else config.output_dir
    # One build per state: the id is chosen and the stories recorded under the lock.
    with state, state.lock("build", wait), _progress() as progress:
        now = datetime.now().astimezone()
        result = build(
            config,
            state,
            output_dir,
            now=now,
            issue_id=(
                now.date().isoformat()
                if demo
                else next_issue_id(output_dir, now.date(), state.recorded_issues())
            ),
            transport=transport,
            progress=progress,
            local_images=local_images,
            strict=strict,
        )
    _report(result, config)
    return {
        Outcome.WRITTEN: Exit.WRITTEN,
        Outcome.NOTHING_NEW: Exit.NOTHING_NEW,
        Outcome.FEEDS_FAILED: Exit.ALL_FEEDS_FAILED,
    }[result.outcome]


def _report(result: BuildResult, config: Config) -> None:
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
            complain("feed failed", f"{report.url}: {report.error}")
    for warning in result.warnings:
        if not any(warning.startswith(f"{r.url}:") for r in result.feeds):
            complain("warning", warning)
    if result.folder is not None:
        out.print(f"Issue written: {result.folder / 'email.html'}", markup=False, highlight=False)
    elif result.outcome == "feeds_failed" and counts[FeedStatus.ERROR] < len(result.feeds):
        out.print("A feed failed and --strict is on: no issue written.")
    elif result.outcome == "feeds_failed":
        out.print("Every feed failed: no issue written.")
    else:
        out.print("Nothing new since the last issue: no issue written.")


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
    guarded(False, lambda: _init(directory, theme, force))


def _init(directory: Path, theme: bool, force: bool) -> Exit:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.toml"
    if config.exists() and not force:
        raise DigestError(f"{config} exists (use --force to overwrite)")
    config.write_text(STARTER_CONFIG, encoding="utf-8")
    say(f"Wrote {config}")
    if theme:
        target = directory / "templates"
        if target.exists() and not force:
            raise DigestError(f"{target} exists (use --force to overwrite)")
        from digest.render.environment import default_theme_dir  # only when used

        shutil.copytree(default_theme_dir(), target, dirs_exist_ok=True)
        say(f"Copied the default theme to {target}")
    return Exit.WRITTEN


@app.command()
def preview(
    config_path: ConfigOption = Path("config.toml"),
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
    guarded(verbose, lambda: _preview(config_path, output, port, host, open_browser, watch))


def _preview(
    config_path: Path, output: Path | None, port: int, host: str, open_browser: bool, watch: bool
) -> Exit:
    from digest.issues import preview as viewer

    config = load_config(config_path) if config_path.is_file() or watch else None
    output_dir = output or (config.output_dir if config else Path("output"))
    state = viewer.Preview(output_dir, config, watch)
    try:
        server = viewer.make_server(state, host, port)
    except OSError as e:
        raise DigestError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    url = f"http://{host}:{server.server_address[1]}/"
    watcher = None
    if watch and config is not None:
        watcher = viewer.Watcher(
            lambda: viewer.watched_files(config_path, state.config or config),
            lambda: state.rebuild(lambda: load_config(config_path)),
        )
        watcher.start()
    say(f"Serving {output_dir} at {url} (Ctrl-C stops)")
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
    return Exit.WRITTEN
