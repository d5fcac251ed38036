"""The `digest` command: options in, pipeline run, a report and an exit code out.

The commands live by what they do — `issues` (build, init, preview) and `mail`
(send, subscribers, schedule) — on the app of `common`. The pipeline is
imported only by the commands that run it, so `digest --help` answers at once.
"""

from digest.cli import issues, mail, serve, state  # noqa: F401  (importing them registers the commands)
from digest.cli.common import Exit, app

__all__ = ["Exit", "app"]
