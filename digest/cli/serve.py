"""The commands of the readers' side: `digest serve` (the web app) and `digest bounces`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from digest.cli.common import ConfigOption, VerboseOption, app, complain, guarded, say
from digest.config import load_config
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
        with State(config.state_path) as state:
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
