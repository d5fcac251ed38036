"""Settling `unknown` outcomes against the relay's log, one reader at a time.

An unknown row's message may or may not have reached the relay. Its
Message-ID is the same on every try (issues/message.py), so the relay's log
says which: `digest send --unknown` lists the Message-IDs to look for, and
`digest send --delivered LOG` marks `sent` every unknown row whose Message-ID
the given text holds. `--retry-unknown` then resends only the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from digest.config import Config
from digest.issues.message import personal_message_id
from digest.mail.outcomes import SENT
from digest.store import State

_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")


def unknown_message_ids(config: Config, state: State, issue_id: str) -> dict[str, int]:
    """Message-ID → subscriber id of every unknown row of `issue_id`."""
    return {
        personal_message_id(issue_id, email, config): subscriber_id
        for subscriber_id, email in state.unknowns(issue_id)
    }


def settle_delivered(
    config: Config, state: State, issue_id: str, log: Iterable[str]
) -> tuple[int, int]:
    """Mark `sent` the unknown rows whose Message-ID appears in `log` (any text: a relay's
    log lines, or the IDs alone); returns (settled, still unknown)."""
    waiting = unknown_message_ids(config, state, issue_id)
    found = {match for line in log for match in _MESSAGE_ID.findall(line)}
    settled = [waiting.pop(message_id) for message_id in found & waiting.keys()]
    with state.transaction():
        for subscriber_id in settled:
            state.record_outcome(
                issue_id, subscriber_id, SENT, "unknown, then found in the relay's log"
            )
    return len(settled), len(waiting)
