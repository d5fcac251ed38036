"""The readers' side: `digest serve` (the web app), `digest bounces`, `subscribers history`."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from digest.cli.common import ConfigOption, VerboseOption, app, complain, guarded, out, say
from digest.cli.mail import subscribers_app
from digest.config import load_config
from digest.errors import SubscriberError
from digest.store import State


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Interface to listen on ([server] host).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port ([server] port).")] = None,
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Run the readers' web app: archive, subscribe, confirm, preferences, unsubscribe."""

    def action() -> int:
        import uvicorn

        from digest.serve.app import create_app

        config = load_config(config_path)
        application = create_app(config)
        where = f"http://{host or config.server.host}:{port or config.server.port}"
        public = config.server.base_url or where
        say(f"Serving {config.newsletter.title} on {where} (public address: {public})")
        uvicorn.run(
            application,
            host=host or config.server.host,
            port=port or config.server.port,
            proxy_headers=True,
            forwarded_allow_ips=config.server.trusted_proxies,
            # Paths carry readers' tokens: no access log unless asked for.
            access_log=verbose,
            log_level="info" if verbose else "warning",
            server_header=False,
        )
        return 0

    guarded(verbose, action)


@app.command()
def bounces(
    path: Annotated[Path, typer.Argument(help="A Maildir folder or an mbox file of bounces.")],
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Read bounce reports (RFC 3464) and complaints (ARF); stop mailing who they name."""

    def action() -> int:
        from digest.mail.bounces import process

        config = load_config(config_path)
        with State(config.state_target) as state:
            report = process(config, state, path)
        say(
            f"{report.reports} reports read ({report.repeated} seen before):"
            f" {report.hard} hard bounces and {report.complaints} complaints suppressed,"
            f" {report.soft} soft bounces counted ({report.soft_suppressed} past the limit),"
            f" {report.unknown} naming nobody on the list."
        )
        for problem in report.unreadable:
            complain("unreadable", problem)
        for detail in sorted(set(report.ours)):
            complain("error", f"our authentication was refused: {detail} (check SPF/DKIM/DMARC)")
        return 1 if report.ours else 0

    guarded(verbose, action)


@subscribers_app.command("history")
def subscribers_history(
    address: Annotated[
        str | None, typer.Argument(help="One reader's address (default: every reader).")
    ] = None,
    config_path: ConfigOption = Path("config.toml"),
    verbose: VerboseOption = False,
) -> None:
    """Every change of state with its time and cause: one reader's as a table, or all as CSV."""

    def action() -> int:
        from digest.mail.subscribers import normalise

        with State(load_config(config_path).state_target) as state:
            if address is None:
                writer = csv.writer(sys.stdout, lineterminator="\n")
                writer.writerow(["email", "at", "status", "cause"])
                for at, status, cause, email in state.subscriber_events():
                    writer.writerow([email, at, status, cause])
                return 0
            reader = state.subscriber(normalise(address))
            if reader is None:
                raise SubscriberError(f"{address.strip()} is not on the list")
            events = state.subscriber_events(reader.id)
        table = Table(title=f"{reader.email}: {reader.status}", title_justify="left")
        for column in ("at", "status", "cause"):
            table.add_column(column, no_wrap=column != "cause")
        for at, status, cause in events:
            table.add_row(at.replace("T", " "), status, escape(cause))
        out.print(table)
        return 0

    guarded(verbose, action)
