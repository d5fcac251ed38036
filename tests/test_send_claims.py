"""Workers of one process: one that finishes its batch early leaves the others' alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.store import State
from tests.mailserver import Mailserver, log_of, run_send, setup_letter

pytestmark = pytest.mark.usefixtures("mail_secrets")


def test_a_worker_done_early_leaves_the_others_batches_alone(
    tmp_path: Path, server: Mailserver
) -> None:
    """One worker's batch is refused at RCPT (fast) while the other's is slow. Were the
    fast one to give back every claim of its process, the slow one would lose its rows
    midway: messages built and rate slots spent for rows it may no longer start."""
    letter = setup_letter(
        tmp_path, server, count=80
    )  # batches of 20 (a quarter of the list per worker)
    for address in letter.addresses[:20]:  # the first batch claimed, whoever claims it
        server.handler.refuse[address] = "550 5.1.1 no such user"
    server.handler.delay = 0.05
    report = run_send(letter, workers=2)
    assert report.already == 0, report
    assert report.sent == 60 and len(report.failed) == 20
    assert sorted(server.handler.rcpts) == sorted(letter.addresses)  # each tried once
    with State(letter.config.state_target) as state:
        attempts = dict(state.db.execute("SELECT subscriber_id, attempts FROM send_log"))
    assert set(attempts.values()) == {1}
    assert set(log_of(letter).values()) == {"sent", "failed"}
