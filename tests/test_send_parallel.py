"""Many senders on one list: leased claims, dead and stuck senders, the shared rate, relays.

Each test runs on the engine DIGEST_TEST_ENGINE names; the ones about
PostgreSQL's row locks use `pg_state` whatever it says.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from typer.testing import CliRunner

from digest.cli import app
from digest.issues.message import personal_message_id
from digest.mail import subscribers
from digest.mail.send import send_issue
from digest.mail.worker import sender_lock
from digest.store import State
from tests.mailserver import Mailserver, log_of, run_send, setup_letter, start_server

pytestmark = pytest.mark.usefixtures("mail_secrets")

ISSUE = "2026-11-26"
NOW = "2026-11-26T08:00:00+00:00"


def _readers(state: State, count: int) -> list[int]:
    with state.transaction():
        state.import_rows(
            ((n, f"r{n:04d}@example.org", "") for n in range(count)), ("unsubscribed",), "test"
        )
    return [s.id for s in state.each_subscriber("active")]


def _claim_all(target: str, owner: str, size: int, taken: list[int]) -> None:
    with State(target) as state:
        while batch := state.claim(ISSUE, owner, size, 60, NOW):
            assert len(batch) <= size
            taken.extend(reader.id for reader, _, _ in batch)


def _claimers(target: str, count: int, size: int) -> Counter[int]:
    """`count` connections claiming at once until nothing is left; how often each row went."""
    taken: list[int] = []
    threads = [
        threading.Thread(target=_claim_all, args=(target, f"owner-{n}", size, taken))
        for n in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(taken)


def test_claims_never_take_more_than_asked_nor_a_row_twice() -> None:
    target = os.environ["DIGEST_STATE"]
    with State(target) as state:
        ids = _readers(state, 300)
        state.enqueue(ISSUE, everyone=True)
    taken = _claimers(target, 4, 7)
    assert taken == Counter(ids)  # every row once, by one of the four


def test_skip_locked_splits_the_list_on_postgresql(pg_state: str) -> None:
    with State(pg_state) as state:
        ids = _readers(state, 500)
        state.enqueue(ISSUE, everyone=True)
    taken = _claimers(pg_state, 6, 11)
    assert taken == Counter(ids)


def test_enqueue_follows_preferences_and_is_idempotent() -> None:
    with State(os.environ["DIGEST_STATE"]) as state:
        ids = _readers(state, 5)
        weekly = state.subscriber(ids[0])
        assert weekly is not None
        state.update_subscriber(weekly.id, "", '{"cadence": "weekly"}')
        state.enqueue(ISSUE, everyone=True)
        state.enqueue(ISSUE, everyone=True)
        assert dict((s, n) for s, n, _ in state.tally(ISSUE, NOW)) == {"pending": 4}
        state.enqueue(ISSUE, everyone=False, ids=[weekly.id])
        assert dict((s, n) for s, n, _ in state.tally(ISSUE, NOW)) == {"pending": 5}


@pytest.fixture
def second_server(tls_ca: tuple[trustme.CA, Path]) -> Iterator[Mailserver]:
    yield from start_server(*tls_ca)


def test_workers_and_relays_mail_everyone_once(
    tmp_path: Path, server: Mailserver, second_server: Mailserver
) -> None:
    letter = setup_letter(
        tmp_path, server, count=60, relays=[f"127.0.0.1:{second_server.port}"], workers=4
    )
    server.handler.delay = second_server.handler.delay = 0.02
    report = run_send(letter)
    assert (report.sent, report.complete) == (60, True)
    both = server.handler.count() + second_server.handler.count()
    assert both == Counter(letter.addresses)
    assert server.handler.messages and second_server.handler.messages  # both relays used
    assert len(server.handler.sessions) + len(second_server.handler.sessions) == 4
    assert set(log_of(letter).values()) == {"sent"}


def test_a_dead_senders_rows_are_taken_back_and_its_one_in_flight_resent(
    tmp_path: Path, server: Mailserver
) -> None:
    letter = setup_letter(tmp_path, server, count=6)
    with State(letter.config.state_target) as state:
        state.enqueue(ISSUE, everyone=True)
        batch = state.claim(ISSUE, "gone-host:1:dead/0", 3, 900, NOW)
        assert state.start(ISSUE, batch[0][0].id, "gone-host:1:dead/0", 900)
    # No process holds "gone-host"'s lock: it died with a row `sending` and two claimed.
    report = run_send(letter)
    assert (report.sent, report.resumed, report.unknown) == (6, 1, 0)
    assert server.handler.count() == Counter(letter.addresses)
    assert set(log_of(letter).values()) == {"sent"}


def test_a_living_sender_whose_lease_ran_out_leaves_an_unknown(
    tmp_path: Path, server: Mailserver
) -> None:
    letter = setup_letter(tmp_path, server, count=4)
    owner = "slow-host:2:alive"
    with State(letter.config.state_target) as holder, holder.lock(sender_lock(owner)):
        holder.enqueue(ISSUE, everyone=True)
        (stuck, _, _), (claimed, _, _) = holder.claim(ISSUE, f"{owner}/0", 2, -1, NOW)
        assert holder.start(ISSUE, stuck.id, f"{owner}/0", -1)  # already past its lease
        report = run_send(letter)
        # Its claimed row goes back to the queue; the one it was sending may have gone out.
        assert (report.sent, report.unknown, report.resumed) == (3, 1, 0)
        assert log_of(letter)[stuck.email] == "unknown"
        assert stuck.email not in server.handler.count()
        assert not holder.start(ISSUE, claimed.id, f"{owner}/0", 900)  # its claim is gone
    again = run_send(letter, retry_unknown=True)  # after checking the relay's log
    assert again.sent == 1 and server.handler.count() == Counter(letter.addresses)


def test_the_rate_limit_is_one_for_every_connection() -> None:
    target = os.environ["DIGEST_STATE"]
    with State(target) as one, State(target) as two:
        waits = [(one if n % 2 else two).next_slot("smtp", 0.5) for n in range(8)]
    # Each reservation is half a second after the one before, whoever asked.
    gaps = [b - a for a, b in itertools.pairwise(waits)]
    assert waits[0] < 0.5 and all(0.4 < gap <= 0.5 for gap in gaps), waits


def test_a_reader_who_leaves_after_the_claim_is_not_mailed(
    tmp_path: Path, server: Mailserver
) -> None:
    letter = setup_letter(tmp_path, server, count=3)
    with State(letter.config.state_target) as state:
        state.enqueue(ISSUE, everyone=True)
        (first, _, _), *_ = state.claim(ISSUE, "me", 3, 900, NOW)
        subscribers.remove(state, first.email)
        assert not state.start(ISSUE, first.id, "me", 900)


def test_a_stopped_run_gives_its_claims_back(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=30)
    with State(letter.config.state_target) as state:
        report = send_issue(
            letter.config, state, letter.loaded, stop=lambda: len(server.handler.messages) >= 5
        )
    assert report.stopped and report.sent == 5 and report.left == 25
    assert Counter(log_of(letter).values()) == {"sent": 5, "pending": 25}


def test_unknowns_are_settled_one_reader_at_a_time(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=3)
    first, second, third = letter.addresses
    with State(letter.config.state_target) as state:
        state.enqueue(ISSUE, everyone=True)
        for reader, _, _ in state.claim(ISSUE, "gone/0", 2, 900, NOW):
            state.record_outcome(ISSUE, reader.id, "unknown", "no reply to the end of DATA")
    runner = CliRunner()
    config = ["-c", str(letter.config_path)]
    listed = runner.invoke(app, ["unknown", ISSUE, *config])
    assert listed.exit_code == 0, listed.output
    ids = listed.output.split()
    assert ids == [personal_message_id(ISSUE, a, letter.config) for a in (first, second)]
    relay_log = tmp_path / "mail.log"
    relay_log.write_text(f"Nov 26 08:00:01 relay postfix/cleanup: 4Xq: message-id={ids[1]}\n")
    settled = runner.invoke(app, ["unknown", ISSUE, "--delivered", str(relay_log), *config])
    assert settled.exit_code == 0 and "1 unknown message(s) found" in settled.output
    assert log_of(letter) == {first: "unknown", second: "sent", third: "pending"}
    report = run_send(letter, retry_unknown=True)  # the one the relay never had, and the rest
    assert report.sent == 2 and server.handler.count() == Counter([first, third])
