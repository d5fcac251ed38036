"""What every `digest` command shares: the app, exit codes, consoles, options, errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from digest import __version__
from digest.errors import ConfigError, DigestError


class Exit(IntEnum):
    """Exit codes of every command: the one table in the README ("Exit codes")."""

    WRITTEN = 0  # done: an issue written, a send finished, a list changed
    ERROR = 1  # an error stopped the command (one line says which); a rerun goes on
    BAD_CONFIG = 2  # config.toml, a theme or an environment variable is wrong
    NOTHING_NEW = 3  # build/schedule: nothing new since the last issue, nothing written
    ALL_FEEDS_FAILED = 4  # build/schedule: every feed failed (with --strict: any)
    REFUSED = 5  # send: finished, but some recipients were refused for good
    WAITING = 6  # send: some readers got a 4xx; a later run tries them again
    UNKNOWN = 7  # send: some ends of DATA went unanswered (see --retry-unknown)


app = typer.Typer(
    help="Turn news feeds into a reader newsletter: summaries, top comments, an HTML email.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# soft_wrap: messages stay one line however narrow the terminal (scripts grep them).
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The newsletter's config.toml.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")]


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


def guarded(verbose: bool, action: Callable[[], int]) -> None:
    """Run a command: one-line errors, exit 2 for configuration, 1 for the rest.

    Every command goes through here, so an error is one line whatever raised
    it; an OSError that no stage wrapped (a full disk, a folder where a file
    should be) is still a message, not a traceback.
    """
    setup_logging(verbose)
    try:
        code = action()
    except ConfigError as e:
        complain("error", str(e))
        raise typer.Exit(Exit.BAD_CONFIG) from None
    except (DigestError, OSError) as e:
        if verbose:
            err.print_exception()
        complain("error", _one_line(e))
        raise typer.Exit(Exit.ERROR) from None
    raise typer.Exit(code)


def _one_line(error: Exception) -> str:
    if isinstance(error, OSError) and not isinstance(error, DigestError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror}"
    return " ".join(str(error).split()) or type(error).__name__


def say(text: str) -> None:
    """One line on stdout, shown as is."""
    out.print(text, markup=False, highlight=False)


def complain(label: str, message: str) -> None:
    """One line on stderr; the message is shown as is, never read as rich markup."""
    colour = "red" if label == "error" else "yellow"
    err.print(f"[{colour}]{label}:[/] {escape(message)}", highlight=False)


def setup_logging(verbose: bool) -> None:
    """Errors only, or everything with --verbose, on stderr."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
        force=True,
    )
    # trafilatura and cssutils log every oddity of every page at WARNING.
    for noisy in ("trafilatura", "cssutils", "htmldate", "courlan", "readability"):
        logging.getLogger(noisy).setLevel(logging.ERROR if not verbose else logging.WARNING)
