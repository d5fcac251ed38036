"""SMTP outcomes against a real aiosmtpd relay: slow relays, deferred readers, mistakes.

A relay that answers the end of DATA late must never get a second copy; a
4xx for one address must not hold up the rest of the list; a setting that
cannot work must be one line and exit 2 at once, not a minute of retries;
server replies quoting the address must be masked wherever they go.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from digest.cli import app
from digest.errors import ConfigError
from digest.mail.outcomes import DEFERRED, FAILED, SENT, UNKNOWN
from digest.store import State
from testkit.net import free_port
from tests import mailserver as mail
from tests.mailserver import (
    ISSUE_ID,
    Mailserver,
    Recorder,
    run_send,
    setup_letter,
    write_mail_config,
)

pytestmark = pytest.mark.usefixtures("mail_secrets")


def details(letter: mail.Letter) -> dict[str, tuple[str, str | None, str | None]]:
    with State(letter.config.state_target) as state:
        rows = state.db.execute(
            "SELECT s.email, l.status, l.detail, l.next_attempt_at FROM send_log l"
            " JOIN subscribers s ON s.id = l.subscriber_id WHERE l.issue_id = ?",
            (ISSUE_ID,),
        )
        return {email: (status, detail, at) for email, status, detail, at in rows}


# A slow relay -------------------------------------------------------------------


@pytest.mark.slow
def test_a_relay_answering_after_the_timeout_gets_one_copy_per_reader(
    tmp_path: Path, server: Mailserver
) -> None:
    letter = setup_letter(tmp_path, server, count=3, timeout=1, data_timeout=1)
    server.handler.reply_delay = 2.0  # the 250 comes a second after the client stopped waiting
    report = run_send(letter)
    assert (report.sent, report.unknown, report.left) == (0, 3, 0)
    assert len(server.handler.messages) == 3  # the relay took each one
    assert {status for status, _, _ in details(letter).values()} == {UNKNOWN}
    again = run_send(letter)  # the next run does not resend them either
    assert (again.sent, again.unknown) == (0, 3)
    result = CliRunner().invoke(app, ["send", "-c", str(letter.config_path)])
    assert result.exit_code == 7, result.output
    assert "--retry-unknown" in result.stderr
    assert server.handler.count() == Counter(letter.addresses)  # one copy each
    server.handler.reply_delay = 0
    retried = run_send(letter, retry_unknown=True)  # on the operator's word only
    assert (retried.sent, retried.unknown) == (3, 0)


@pytest.mark.slow
def test_the_end_of_data_has_its_own_longer_timeout(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=3, timeout=1, data_timeout=10)
    server.handler.reply_delay = 2.0  # slower than any command may be, within the DATA wait
    report = run_send(letter)
    assert (report.sent, report.unknown, report.complete) == (3, 0, True)
    assert server.handler.count() == Counter(letter.addresses)


@pytest.mark.slow
def test_three_unanswered_in_a_row_stop_the_run(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=5, timeout=1, data_timeout=1)
    server.handler.reply_delay = 1.5
    report = run_send(letter)
    assert (report.unknown, report.left, report.complete) == (3, 2, False)
    server.handler.reply_delay = 0
    rest = run_send(letter)
    assert (rest.sent, rest.unknown, rest.complete) == (2, 3, True)
    assert server.handler.count() == Counter(letter.addresses)


# A reader whose address gets 4xx ----------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


def test_a_persistent_4xx_defers_one_reader_and_the_list_goes_on(
    tmp_path: Path, server: Mailserver
) -> None:
    letter = setup_letter(tmp_path, server, count=5, defer_minutes=10, give_up_hours=1)
    bad = letter.addresses[1]
    server.handler.refuse[bad] = f"450 4.2.2 <{bad.upper()}>: mailbox full"
    clock = Clock()
    first = run_send(letter, clock=clock)
    assert (first.sent, first.waiting, first.deferred, first.left) == (4, 1, 0, 0)
    assert not first.complete
    status, detail, due = details(letter)[bad]
    assert status == DEFERRED and detail is not None and due is not None
    assert bad.lower() not in detail.lower() and "r***@example.org" in detail
    assert datetime.fromisoformat(due) - clock.now == timedelta(minutes=10)
    assert server.handler.rcpts.count(bad) == 1  # no retries in the same run

    clock.now += timedelta(minutes=5)  # not due yet: not tried
    assert run_send(letter, clock=clock).waiting == 1
    assert server.handler.rcpts.count(bad) == 1

    clock.now += timedelta(minutes=6)
    second = run_send(letter, clock=clock)
    assert server.handler.rcpts.count(bad) == 2
    due = details(letter)[bad][2]
    assert due is not None  # waits about as long again as it has waited (11 min)
    assert datetime.fromisoformat(due) - clock.now == timedelta(minutes=11)
    assert second.waiting == 1

    clock.now += timedelta(minutes=50)  # 61 minutes since the first 4xx: give up
    last = run_send(letter, clock=clock)
    assert last.complete and [a for a, _ in last.failed] == [bad]
    status, detail, _ = details(letter)[bad]
    assert status == FAILED and detail is not None and detail.startswith("gave up after 1.0 h")
    others = [a for a in letter.addresses if a != bad]
    assert server.handler.count() == Counter(others)  # each once, the list never blocked
    assert {details(letter)[a][0] for a in others} == {SENT}


def test_a_greylisted_reader_gets_the_issue_once_the_server_relents(
    tmp_path: Path, server: Mailserver
) -> None:
    letter = setup_letter(tmp_path, server, count=3, defer_minutes=5)
    grey = letter.addresses[0]
    server.handler.refuse[grey] = "451 4.7.1 greylisted, try again in 5 minutes"
    clock = Clock()
    result = CliRunner().invoke(app, ["send", "-c", str(letter.config_path)])
    assert result.exit_code == 6, result.output  # the others are sent; one waits
    assert "tries them again from" in result.stderr
    assert grey not in result.output
    del server.handler.refuse[grey]
    clock.now += timedelta(minutes=6)
    report = run_send(letter, clock=clock)
    assert (report.sent, report.complete) == (1, True)
    assert server.handler.count() == Counter(letter.addresses)


# Replies quoting the address -------------------------------------------------------


def test_addresses_in_server_replies_are_masked_everywhere(
    tmp_path: Path, server: Mailserver, caplog: pytest.LogCaptureFixture
) -> None:
    letter = setup_letter(tmp_path, server, count=3)
    refused, deferred = letter.addresses[0], letter.addresses[2]
    server.handler.refuse[refused] = f"550 5.1.1 <{refused.upper()}> unknown; was {refused}"
    server.handler.refuse[deferred] = f"452 4.2.2 {deferred.title()} over quota (also x@y.example)"
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.WARNING, logger="mail.log")  # the test server's own log
    result = CliRunner().invoke(app, ["send", "-v", "-c", str(letter.config_path)])
    assert result.exit_code == 6, result.output
    stored = " ".join(str(v) for row in details(letter).values() for v in row)
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("digest"))
    everything = (stored + ours + result.output).lower()
    for address in (refused, deferred, "x@y.example"):
        assert address.lower() not in everything
    assert "r***@example.org" in stored and "x***@y.example" in stored


# Settings that cannot work ------------------------------------------------------------


def test_tls_against_a_plaintext_port_is_a_config_error_at_once(
    tmp_path: Path, server: Mailserver
) -> None:
    letter = setup_letter(tmp_path, server, count=2, security="tls", retries=5, backoff=2)
    started = time.monotonic()
    with pytest.raises(ConfigError, match="TLS handshake failed"):
        run_send(letter)
    assert time.monotonic() - started < 5  # not retried as if the server were down
    result = CliRunner().invoke(app, ["send", "-c", str(letter.config_path)])
    assert result.exit_code == 2 and "smtp.security" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_ca_file_is_a_config_error(tmp_path: Path, server: Mailserver) -> None:
    config_path = write_mail_config(tmp_path, server, ca_file="no-such-ca.pem")
    result = CliRunner().invoke(app, ["send", "-c", str(config_path)])
    assert result.exit_code == 2, result.output  # found when the config is read
    assert "ca_file" in result.stderr and "no-such-ca.pem" in result.stderr
    assert server.handler.messages == []


@pytest.fixture
def plain_server(tls_ca: tuple[trustme.CA, Path]) -> Iterator[Mailserver]:
    handler = Recorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Mailserver(handler, port, tls_ca[1])
    finally:
        controller.stop()


def test_starttls_not_offered_is_a_config_error(tmp_path: Path, plain_server: Mailserver) -> None:
    letter = setup_letter(tmp_path, plain_server, count=1, username="")
    with pytest.raises(ConfigError, match="does not offer STARTTLS"):
        run_send(letter)
    assert plain_server.handler.messages == []
    with State(letter.config.state_target) as state:  # nothing claimed for good
        assert set(state.send_log(ISSUE_ID).values()) <= {DEFERRED}
