"""What the server's answer to one message means for the send log.

`deliver` sends one message, retrying server-wide trouble with backoff, and
names the outcome; `settle` turns a 4xx for the address into a deferral with
its next time (or gives up after `give_up_hours`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from digest.config import SmtpSettings
from digest.errors import PermanentError, RecipientDeferred, TransientError, UnknownOutcome
from digest.mail.smtp import SmtpTransport

logger = logging.getLogger(__name__)

SENDING, SENT, FAILED, DEFERRED, UNKNOWN = "sending", "sent", "failed", "deferred", "unknown"
# A server-wide failure leaves the reader due at once; a 4xx for the address, later.
WAITING = "waiting"
MAX_DEFER = timedelta(hours=6)

# (status, masked detail, next_attempt_at, deferred_since), times in UTC
Outcome = tuple[str, str, str | None, str | None]


class Recipient(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def email(self) -> str: ...


def settle(
    settings: SmtpSettings, outcome: str, detail: str, since: str | None, now: datetime
) -> Outcome:
    """The send-log row for one outcome: a deferral gets its next time, or gives up."""
    if outcome != WAITING:
        return (outcome, detail, None, None)
    now = now.astimezone(UTC)
    first = datetime.fromisoformat(since) if since else now
    waited = now - first
    if waited >= timedelta(hours=settings.give_up_hours):
        hours = waited.total_seconds() / 3600
        return (FAILED, f"gave up after {hours:.1f} h of 4xx: {detail}", None, None)
    delay = min(MAX_DEFER, max(timedelta(minutes=settings.defer_minutes), waited))
    stamp = (now + delay).isoformat(timespec="seconds")
    return (DEFERRED, detail, stamp, first.isoformat(timespec="seconds"))


def deliver(
    smtp: SmtpTransport,
    settings: SmtpSettings,
    sender: str,
    recipient: Recipient,
    raw: bytes,
    stop: Callable[[], bool],
    sleep: Callable[[float], object],
) -> tuple[str, str]:
    """(SENT | FAILED | UNKNOWN | WAITING | DEFERRED, masked server reply).

    Server-wide transient failures are retried here with backoff; a 4xx for
    the address is WAITING at once (greylisting lasts minutes, not seconds).
    """
    detail = ""
    for attempt in range(settings.retries + 1):
        try:
            return SENT, smtp.send(sender, recipient.email, raw)
        except PermanentError as e:
            return FAILED, str(e)
        except UnknownOutcome as e:
            return UNKNOWN, str(e)
        except RecipientDeferred as e:
            return WAITING, str(e)
        except TransientError as e:
            detail = str(e)
            if attempt == settings.retries or stop():
                break
            delay = settings.backoff * 2**attempt
            logger.info("transient failure (%s); retrying in %.1f s", detail, delay)
            sleep(delay)
    return DEFERRED, detail
