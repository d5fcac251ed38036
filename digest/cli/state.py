"""Looking after the state: `digest state copy` moves it between engines (a file to
PostgreSQL, or back); `digest unknown` settles messages the relay never confirmed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from digest.cli.common import ConfigOption, Exit, VerboseOption, app, complain, guarded, say
from digest.config import load_config
from digest.store import State
from digest.store.engine import hide_password

state_app = typer.Typer(
    help="The state: what was sent, to whom, and the list.", no_args_is_help=True
)
app.add_typer(state_app, name="state")


@state_app.command("copy")
def copy(
    target: Annotated[
        str,
        typer.Argument(help="An empty PostgreSQL database (postgresql://…) or a new SQLite file."),
    ],
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Copy every table of this config's state into TARGET, then point [state] url at it."""

    def action() -> int:
        config = load_config(config_path)
        with State(config.state_target) as source, State(target) as destination:
            counts = source.copy_to(destination)
        rows = ", ".join(f"{n} {table}" for table, n in counts.items() if n)
        say(f"Copied into {hide_password(target)}: {rows or 'nothing (the state was empty)'}.")
        return Exit.WRITTEN

    guarded(verbose, action)


@app.command()
def unknown(
    issue: Annotated[
        str | None, typer.Argument(help="Issue id, e.g. 2026-11-26 (default: the newest).")
    ] = None,
    delivered: Annotated[
        Path | None,
        typer.Option(
            "--delivered",
            help="The relay's log (or Message-IDs, one a line; - for stdin): unknown"
            " messages found in it are marked sent.",
        ),
    ] = None,
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """List the Message-IDs the relay never confirmed, to look for in its log; with
    --delivered, mark the ones it has as sent (then `send --retry-unknown` sends the rest)."""

    def action() -> int:
        from digest.issues.files import load_issue
        from digest.mail.unknowns import settle_delivered, unknown_message_ids

        config = load_config(config_path)
        issue_id = load_issue(config.output_dir, issue).issue.id
        with State(config.state_target) as state:
            if delivered is None:
                for message_id in unknown_message_ids(config, state, issue_id):
                    sys.stdout.write(f"{message_id}\n")  # for grep -F -f - in the relay's log
                return Exit.WRITTEN
            if str(delivered) == "-":
                settled, left = settle_delivered(config, state, issue_id, sys.stdin)
            else:
                with delivered.open(encoding="utf-8", errors="replace") as log:
                    settled, left = settle_delivered(config, state, issue_id, log)
        say(f"Issue {issue_id}: {settled} unknown message(s) found in the log, marked sent.")
        if left:
            complain(
                "unknown",
                f"{left} still unknown: not in that log; `digest send {issue_id}"
                " --retry-unknown` sends them again",
            )
        return Exit.WRITTEN

    guarded(verbose, action)
