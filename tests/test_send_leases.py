"""Leases under any interleaving: senders claim, start, finish, die and settle each other
in whatever order hypothesis picks; no reader is ever started twice except once per
death of the sender that had them in flight, and in the end everyone is sent.
"""

from __future__ import annotations

import os
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.mail.worker import sender_lock
from digest.store import State

ISSUE = "2026-11-26"
NOW = "2026-11-26T08:00:00+00:00"
READERS = 12


@dataclass
class Sender:
    name: str
    state: State
    alive: ExitStack = field(default_factory=ExitStack)
    claimed: list[int] = field(default_factory=list)  # claimed, not started
    sending: list[int] = field(default_factory=list)  # started, not finished


def _settle_others(state: State, me: str, interrupted: set[int]) -> None:
    """What a sender does when it runs out of rows (worker.recover), recording which rows
    a dead sender had in flight."""
    for owner in state.lease_owners(ISSUE):
        process = owner.partition("/")[0]
        if process == me:
            continue
        gone = not state.held_elsewhere(sender_lock(process))
        rows = state.db.execute(
            "SELECT subscriber_id FROM send_log WHERE issue_id = ? AND lease_owner = ?"
            " AND status = 'sending'",
            (ISSUE, owner),
        ).fetchall()
        state.recover(ISSUE, owner, gone)
        if gone:
            interrupted.update(row[0] for row in rows)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 2), st.sampled_from(["claim", "start", "finish", "die", "settle"])
        ),
        max_size=60,
    )
)
def test_no_reader_is_started_twice_but_for_a_dead_senders_one_in_flight(
    steps: list[tuple[int, str]],
) -> None:
    target = os.environ["DIGEST_STATE"]
    started: Counter[int] = Counter()
    interrupted: set[int] = set()  # rows a dead sender had `sending`, once each death
    deaths_in_flight: Counter[int] = Counter()
    generation = [0, 0, 0]
    with ExitStack() as stack:
        seed = stack.enter_context(State(target))
        seed.db.execute("DELETE FROM send_log")
        seed.db.execute("DELETE FROM subscriber_events")
        seed.db.execute("DELETE FROM subscribers")
        with seed.transaction():
            seed.import_rows(
                ((n, f"r{n}@example.org", "") for n in range(READERS)), ("unsubscribed",), "t"
            )
        seed.enqueue(ISSUE, everyone=True)

        def spawn(index: int) -> Sender:
            generation[index] += 1
            sender = Sender(f"host:{index}:{generation[index]}", stack.enter_context(State(target)))
            sender.alive.enter_context(sender.state.lock(sender_lock(sender.name)))
            return sender

        senders = [spawn(n) for n in range(3)]
        for index, action in steps:
            sender = senders[index]
            state, owner = sender.state, f"{sender.name}/0"
            if action == "claim" and not sender.claimed:
                sender.claimed = [r.id for r, _, _ in state.claim(ISSUE, owner, 3, 900, NOW)]
            elif action == "start" and sender.claimed:
                row = sender.claimed.pop(0)
                if state.start(ISSUE, row, owner, 900):
                    started[row] += 1
                    sender.sending.append(row)
            elif action == "finish" and sender.sending:
                state.record_outcome(ISSUE, sender.sending.pop(0), "sent", "250")
            elif action == "die":
                deaths_in_flight.update(sender.sending)
                sender.alive.close()  # kill -9: the lock goes, nothing else is tidied
                senders[index] = spawn(index)
            elif action == "settle":
                _settle_others(state, sender.name, interrupted)
            # Two living senders never hold one row.
            held = [r for s in senders for r in (*s.claimed, *s.sending)]
            assert len(held) == len(set(held))
        # Everyone dies; a last sender settles and sends what is left.
        for sender in senders:
            deaths_in_flight.update(sender.sending)
            sender.alive.close()
        last = spawn(0)
        _settle_others(last.state, last.name, interrupted)
        while batch := last.state.claim(ISSUE, f"{last.name}/0", 5, 900, NOW):
            for reader, _, _ in batch:
                assert last.state.start(ISSUE, reader.id, f"{last.name}/0", 900)
                started[reader.id] += 1
                last.state.record_outcome(ISSUE, reader.id, "sent", "250")
        statuses = Counter(last.state.send_log(ISSUE).values())
        everyone = {s.id for s in last.state.each_subscriber()}
    assert statuses == {"sent": READERS}
    assert set(started) == everyone
    for row, times in started.items():
        assert times <= 1 + deaths_in_flight[row], (row, times, deaths_in_flight[row])
