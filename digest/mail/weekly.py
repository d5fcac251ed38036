"""The weekly digest's send: readers who chose "weekly" get last week's best, once.

Run after each `digest send` and each scheduled send: the digest of
the latest complete ISO week is rendered from that week's issues and mailed
to every weekly reader who does not have it yet. Its send-log rows carry the
week's id, so running this every day still mails each reader once a week.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from digest.config import Config
from digest.mail.send import SendReport, send_issue
from digest.mail.variants import last_week, weekly_issue
from digest.store import State

logger = logging.getLogger(__name__)


def send_weekly(
    config: Config,
    state: State,
    now: datetime,
    *,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], object] | None = None,
) -> SendReport | None:
    """Mail last week's digest to weekly readers; None when that week had no issue."""
    week = weekly_issue(config, config.output_dir, last_week(now))
    if week is None:
        return None
    if sleep is None:
        return send_issue(config, state, week, stop=stop)
    return send_issue(config, state, week, stop=stop, sleep=sleep)
