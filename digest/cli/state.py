"""`digest state copy`: move the state between engines (a file to PostgreSQL, or back)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from digest.cli.common import ConfigOption, Exit, VerboseOption, app, guarded, say
from digest.config import load_config
from digest.store import State
from digest.store.engine import hide_password, is_database_url

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
        where: Path | str = target if is_database_url(target) else Path(target)
        with State(config.state_target) as source, State(where) as destination:
            counts = source.copy_to(destination)
        rows = ", ".join(f"{n} {table}" for table, n in counts.items() if n)
        say(f"Copied into {hide_password(target)}: {rows or 'nothing (the state was empty)'}.")
        return Exit.WRITTEN

    guarded(verbose, action)
