"""digest send: a real aiosmtpd server on 127.0.0.1, STARTTLS with a fresh CA, AUTH.

Messages are parsed back with the `email` package; the send log is checked
against what the server received, after failures, kills and races.
"""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
from typer.testing import CliRunner

from digest.cli import app
from digest.errors import ConfigError, DigestError, LockedError
from digest.mail import subscribers
from digest.mail.outcomes import SENDING
from digest.mail.send import send_test
from digest.store import State
from tests.mailserver import (
    PASSWORD,
    SECRET,
    Mailserver,
    log_of,
    run_send,
    setup_letter,
    start_server,
    wait_for,
    write_mail_config,
)

pytestmark = pytest.mark.usefixtures("mail_secrets")


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


# Tests ----------------------------------------------------------------------


def test_starttls_auth_one_connection_and_headers(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server)
    report = run_send(letter)
    assert (report.sent, report.failed, report.complete) == (3, [], True)
    received = server.handler.messages
    assert [m.recipients for m in received] == [[a] for a in letter.addresses]
    assert all(m.tls and m.authenticated for m in received)
    assert len(server.handler.sessions) == 1  # one connection reused
    with State(letter.config.state_target) as state:
        rows = {s.email: s for s in state.subscribers()}
        for message in received:
            parsed = parse(message.raw)
            (address,) = message.recipients
            assert message.sender == "insider@news.example.com"
            assert parsed["From"] == "Test Insider <insider@news.example.com>"
            assert parsed["To"].addresses[0].addr_spec == address
            assert len(parsed["To"].addresses) == 1 and "Cc" not in parsed
            assert parsed["Subject"] == letter.loaded.rendered.subject
            assert abs(parsedate_to_datetime(parsed["Date"]) - datetime.now(UTC)) < timedelta(
                minutes=5
            )
            assert parsed["Message-ID"].endswith("@news.example.com>")
            assert parsed["List-Id"] == '"Test Insider" <test-insider.news.example.com>'
            assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            mailto, url = (t.strip(" <>") for t in parsed["List-Unsubscribe"].split(","))
            token = url.rpartition("t=")[2]
            assert url == f"https://news.example.com/unsubscribe?t={token}"
            assert mailto == f"mailto:insider@news.example.com?subject=unsubscribe%20{token}"
            holder = subscribers.check_token(state, SECRET.encode(), token)
            assert holder.email == address == rows[address].email
            assert parsed.get_content_type() == "multipart/alternative"
            parts = list(parsed.iter_parts())
            assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
            assert all(p.get_content_charset() == "utf-8" for p in parts)
            assert "Déjà vu: the Citroën returns" in parts[0].get_content()
            assert "Déjà vu: the Citroën returns" in parts[1].get_content()
            for part in parts:  # the footer's unsubscribe link is this reader's
                assert f"https://news.example.com/unsubscribe?t={token}" in part.get_content()
                assert "token}" not in part.get_content() and "%7Btoken" not in part.get_content()
    first = parse(received[0].raw)
    assert str(first["To"]) == "Zoë Ångström <reader000@example.org>"
    assert len({parse(m.raw)["Message-ID"] for m in received}) == 3
    assert set(log_of(letter).values()) == {"sent"}
    again = run_send(letter)  # a rerun mails no one
    assert (again.sent, again.already) == (0, 3)
    assert len(server.handler.messages) == 3


def test_implicit_tls(tmp_path: Path, tls_ca: tuple[trustme.CA, Path]) -> None:
    for server in start_server(*tls_ca, implicit_tls=True):
        letter = setup_letter(tmp_path, server, count=2, security="tls", port=server.port)
        assert run_send(letter).sent == 2
        assert all(m.tls and m.authenticated for m in server.handler.messages)


def test_421_and_451_for_a_while_are_retried(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=4, retries=4)
    server.handler.data_replies = ["421 4.3.2 shutting down", "451 4.3.0 busy", "451 4.3.0 busy"]
    report = run_send(letter)
    assert report.sent == 4 and report.complete
    assert server.handler.count() == Counter(letter.addresses)
    assert len(server.handler.peers) >= 2  # 421 closed the first connection
    with State(letter.config.state_target) as state:
        attempts = dict(state.db.execute("SELECT subscriber_id, attempts FROM send_log"))
    assert sum(attempts.values()) == 4  # retries are within one claim


def test_server_down_too_long_defers_then_rerun_finishes(
    tmp_path: Path, server: Mailserver
) -> None:
    letter = setup_letter(tmp_path, server, count=5, retries=2)
    run_send(letter, stop=lambda: len(server.handler.messages) >= 2)
    server.handler.data_replies = ["451 4.3.0 busy"] * 3  # more than 1 + 2 retries
    report = run_send(letter)
    assert (report.sent, report.deferred, report.left, report.complete) == (0, 1, 2, False)
    assert "451" in report.last_error
    assert log_of(letter)[letter.addresses[2]] == "deferred"
    report = run_send(letter)
    assert (report.sent, report.already, report.complete) == (3, 2, True)
    assert server.handler.count() == Counter(letter.addresses)


def test_550_for_one_recipient_is_recorded_and_not_retried(
    tmp_path: Path, server: Mailserver
) -> None:
    letter = setup_letter(tmp_path, server, count=3)
    bad = letter.addresses[1]
    server.handler.refuse[bad] = "550 5.1.1 <reader001@example.org>: no such user"
    report = run_send(letter)
    assert report.sent == 2 and report.complete
    assert report.failed == [(bad, "550 5.1.1 <r***@example.org>: no such user")]
    assert log_of(letter)[bad] == "failed"
    tries = server.handler.rcpts.count(bad)
    assert tries == 1
    assert run_send(letter).sent == 0
    assert server.handler.rcpts.count(bad) == 1  # never tried again
    result = CliRunner().invoke(app, ["send", "-c", str(letter.config_path)])
    assert result.exit_code == 0, result.output  # nothing left: the refusal was reported before


def test_dropped_connection_is_retried(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=3)
    server.handler.drops = 2
    assert run_send(letter).sent == 3
    assert server.handler.count() == Counter(letter.addresses)


def test_stop_between_messages(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=5)
    report = run_send(letter, stop=lambda: len(server.handler.messages) >= 2)
    assert (report.sent, report.left, report.stopped) == (2, 3, True)
    assert Counter(log_of(letter).values()) == {"sent": 2, "pending": 3}
    assert run_send(letter).sent == 3
    assert server.handler.count() == Counter(letter.addresses)


def test_unsubscribed_are_never_mailed(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=3)
    with State(letter.config.state_target) as state:
        subscribers.remove(state, letter.addresses[0])
        subscribers.import_csv(state, __import__("io").StringIO(f"email\n{letter.addresses[0]}\n"))
    assert run_send(letter).total == 2
    assert letter.addresses[0] not in server.handler.count()


def test_rate_limit(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=4, rate=20)
    started = time.monotonic()
    assert run_send(letter).sent == 4
    assert time.monotonic() - started >= 3 / 20 * 0.9


def test_test_copy_records_nothing(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=2)
    result = CliRunner().invoke(
        app, ["send", "--to", "Editor@Example.COM", "-c", str(letter.config_path)]
    )
    assert result.exit_code == 0, result.output
    assert "sent to Editor@example.com" in result.output
    assert [m.recipients for m in server.handler.messages] == [["Editor@example.com"]]
    assert log_of(letter) == {}
    assert run_send(letter).sent == 2


def test_dry_run_sends_nothing(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=2)
    result = CliRunner().invoke(app, ["send", "--dry-run", "-c", str(letter.config_path)])
    assert result.exit_code == 0, result.output
    assert "2 would be sent" in result.output
    assert server.handler.messages == [] and log_of(letter) == {}


def test_configuration_errors(tmp_path: Path, server: Mailserver, monkeypatch: Any) -> None:
    letter = setup_letter(tmp_path, server, count=1)
    monkeypatch.delenv("TEST_SMTP_PASSWORD")
    with pytest.raises(ConfigError, match="TEST_SMTP_PASSWORD"):
        run_send(letter)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong-password-xyz")
    with pytest.raises(ConfigError, match="refused the login") as info:
        run_send(letter)
    assert "wrong-password-xyz" not in str(info.value)
    monkeypatch.delenv("DIGEST_UNSUBSCRIBE_SECRET")
    result = CliRunner().invoke(app, ["send", "-c", str(letter.config_path)])
    assert result.exit_code == 2 and "DIGEST_UNSUBSCRIBE_SECRET" in result.output
    assert server.handler.messages == []


def test_untrusted_certificate_is_a_clear_error(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=1, ca_file="")
    with pytest.raises(ConfigError, match="certificate is not trusted"):
        run_send(letter)


def test_no_secret_or_address_in_any_log_line(
    tmp_path: Path, server: Mailserver, caplog: pytest.LogCaptureFixture
) -> None:
    letter = setup_letter(tmp_path, server, count=4, retries=1)
    server.handler.refuse[letter.addresses[1]] = "550 5.1.1 <reader001@example.org>: unknown"
    server.handler.data_replies = ["451 4.3.0 busy"]
    server.handler.drops = 1
    caplog.set_level(logging.DEBUG)
    with State(letter.config.state_target) as state:
        subscribers.add(state, "late@example.net")
        subscribers.remove(state, "late@example.net")
    run_send(letter)
    run_send(letter)
    result = CliRunner().invoke(app, ["send", "-v", "-c", str(letter.config_path)])
    assert result.exit_code == 0
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("digest")]
    assert len(ours) >= 5, "the sender logs what it does"
    lines = "\n".join(ours) + result.stderr
    for secret in (PASSWORD, SECRET, *letter.addresses, "late@example.net"):
        assert secret not in lines


def test_dkim_signature_verifies(tmp_path: Path, server: Mailserver) -> None:
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    (tmp_path / "dkim.pem").write_bytes(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    letter = setup_letter(tmp_path, server, count=1, dkim_key="dkim.pem", dkim_selector="mail")
    run_send(letter)
    (message,) = server.handler.messages
    assert message.raw.startswith(b"DKIM-Signature:")
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mail._domainkey.news.example.com."
        return record

    assert dkim.verify(message.raw, dnsfunc=dns)
    tampered = message.raw.replace(b"Subject: ", b"Subject: Re: ", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    target = os.environ["DIGEST_STATE"]
    with State(target) as one, State(target) as two:
        with (
            one.lock("build"),
            pytest.raises(LockedError, match="another digest build"),
            two.lock("build"),
        ):
            pass
        assert not two.held_elsewhere("build")
        with two.lock("build"):  # released
            assert one.held_elsewhere("build")


# Processes: kill -9 and two senders ----------------------------------------


def digest_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "digest", *args]


@pytest.mark.slow
def test_kill_9_mid_list_then_rerun_sends_everyone_once(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=30)
    server.handler.delay = 0.02
    env = dict(os.environ)
    sender = subprocess.Popen(
        digest_cmd("send", "-c", str(letter.config_path)), env=env, stderr=subprocess.PIPE
    )
    wait_for(lambda: len(server.handler.messages) >= 8)
    sender.send_signal(signal.SIGKILL)
    sender.wait()
    assert sender.returncode == -signal.SIGKILL
    before = Counter(server.handler.count())
    log = log_of(letter)
    in_flight = {a for a, status in log.items() if status == SENDING}
    assert len(in_flight) <= 1
    assert {a for a, s in log.items() if s == "sent"} <= set(before)
    done = subprocess.run(
        digest_cmd("send", "-c", str(letter.config_path)), env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    counts = server.handler.count()
    assert set(counts) == set(letter.addresses)
    twice = {a for a, n in counts.items() if n > 1}
    assert twice <= in_flight and all(n <= 2 for n in counts.values())
    assert set(log_of(letter).values()) == {"sent"}


@pytest.mark.slow
def test_two_senders_at_once_split_the_list(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=80)
    server.handler.delay = 0.03
    command = digest_cmd("send", "-c", str(letter.config_path))
    senders = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [sender.communicate(timeout=120)[0] for sender in senders]
    assert [sender.returncode for sender in senders] == [0, 0]
    sent = [int(re.search(r"(\d+) sent now", out).group(1)) for out in outputs]  # type: ignore[union-attr]
    assert sum(sent) == 80 and min(sent) > 0, outputs
    assert server.handler.count() == Counter(letter.addresses)


def test_send_test_helper_validates_the_address(tmp_path: Path, server: Mailserver) -> None:
    letter = setup_letter(tmp_path, server, count=1)
    with pytest.raises(DigestError, match="not an email address"):
        send_test(letter.config, letter.loaded, "not-an-address")
    assert server.handler.messages == []


def test_send_without_any_issue(tmp_path: Path, server: Mailserver) -> None:
    config_path = write_mail_config(tmp_path, server)
    result = CliRunner().invoke(app, ["send", "-c", str(config_path)])
    assert result.exit_code == 1 and "run `digest build` first" in result.output
