"""Bounce reports and complaints, written in the real formats, read from a Maildir and an mbox.

DSNs follow RFC 3464 (as Postfix writes them), complaints RFC 5965 ARF (as a
mailbox provider's feedback loop sends them), plus one qmail bounce for the
non-standard path. SMTP-time refusals go through a real aiosmtpd.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from digest.cli import app
from digest.config import load_config
from digest.errors import ConfigError
from digest.issues.files import load_issue
from digest.mail import subscribers
from digest.mail.bounces import Bounce, parse_report, refusal, verp_address, verp_id
from digest.mail.send import send_issue
from digest.store import State
from testkit.reports import BOUNCES, arf, dsn
from tests.readers import NOW, Catcher, make_issue, publish_issue, write_config

pytestmark = pytest.mark.usefixtures("reader_secret")


def qmail(address: str, verp: int, uid: str = "1") -> bytes:
    return f"""Return-Path: <>
Date: 2 Dec 2026 06:20:00 -0000
From: MAILER-DAEMON@mx.example.net
To: {verp_address(BOUNCES, verp)}
Subject: failure notice
Message-ID: <qmail-{uid}@mx.example.net>

Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{address}>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

Return-Path: <{verp_address(BOUNCES, verp)}>
From: Test Insider <insider@news.example.com>
To: {address}
Subject: Test Insider: Wagon news
""".encode()


@pytest.mark.parametrize(
    ("status", "action", "diagnostic", "kind"),
    [
        ("5.1.1", "failed", "550 5.1.1 user unknown", "hard"),
        ("5.1.2", "failed", "550 5.1.2 bad destination system", "hard"),
        ("5.2.2", "failed", "552 5.2.2 mailbox full", "soft"),
        ("4.2.2", "failed", "452 4.2.2 over quota", "soft"),
        ("5.7.26", "failed", "550 5.7.26 unauthenticated email is not accepted", "ours"),
        ("5.7.1", "failed", "550 5.7.515 Access denied, sending domain does not meet", "ours"),
        ("4.4.7", "delayed", "421 4.4.7 still trying", None),
        ("2.0.0", "delivered", "250 2.0.0 ok", None),
    ],
)
def test_dsn_status_decides(status: str, action: str, diagnostic: str, kind: str | None) -> None:
    found = parse_bytes(
        dsn("ann@example.org", status, verp=7, action=action, diagnostic=diagnostic), BOUNCES
    )
    assert [b.kind for b in found] == ([kind] if kind else [])
    for bounce in found:
        assert (bounce.subscriber_id, bounce.address) == (7, "ann@example.org")
        assert bounce.status == status


def test_arf_complaint_names_the_reader() -> None:
    (with_verp,) = parse_bytes(arf("redacted@example.org", verp=9), BOUNCES)
    assert (with_verp.kind, with_verp.subscriber_id) == ("complaint", 9)
    (by_address,) = parse_bytes(arf("bo@example.org"), BOUNCES)
    assert (by_address.subscriber_id, by_address.address) == (None, "bo@example.org")
    assert parse_bytes(arf("bo@example.org", kind="not-spam"), BOUNCES) == []


def test_verp_round_trip() -> None:
    assert verp_id(verp_address(BOUNCES, 42), BOUNCES) == 42
    assert verp_id("<BOUNCES+42@NEWS.EXAMPLE.COM>", BOUNCES) == 42
    for other in ("bounces+x@news.example.com", "bounces+4@evil.example", BOUNCES):
        assert verp_id(other, BOUNCES) is None
    assert refusal("550 5.1.1 <a@b>: no such user") == "hard"
    assert refusal("550 5.7.26 unauthenticated") == "ours"
    assert refusal("554 5.7.1 spam") is None


@given(
    status=st.text(max_size=30),
    diagnostic=st.text(max_size=200),
    address=st.text(max_size=60),
    action=st.sampled_from(["failed", "delayed", "FAILED", "", "x"]),
)
@settings(max_examples=150, deadline=None)
def test_hostile_reports_never_crash(
    status: str, diagnostic: str, address: str, action: str
) -> None:
    clean = [s.replace("\r", " ").replace("\n", " ") for s in (status, diagnostic, address)]
    raw = dsn(clean[2], clean[0], verp=3, action=action, diagnostic=clean[1])
    for bounce in parse_bytes(raw, BOUNCES):
        assert bounce.kind in ("hard", "soft", "ours")
        assert "\n" not in bounce.detail


def _readers(config_path: Path, names: list[str]) -> dict[str, int]:
    with State(load_config(config_path).state_target) as state:
        return {n: subscribers.add(state, f"{n}@example.org").id for n in names}


def _statuses(config_path: Path) -> dict[str, tuple[str, str]]:
    with State(load_config(config_path).state_target) as state:
        return {
            s.email.split("@")[0]: (s.status, s.cause)
            for s in state.subscribers(include_unsubscribed=True)
        }


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_digest_bounces_reads_a_mailbox_once(tmp_path: Path, kind: str) -> None:
    config_path = write_config(tmp_path, 25, 8080)
    ids = _readers(config_path, ["hard", "soft3", "soft2", "spam", "late", "auth", "qm", "gone"])
    reports = [
        dsn("hard@example.org", verp=ids["hard"], uid="h"),
        *(
            dsn("soft3@example.org", "4.2.2", verp=ids["soft3"], diagnostic="452 full", uid=f"s{n}")
            for n in range(3)
        ),
        *(dsn("soft2@example.org", "5.2.2", verp=ids["soft2"], uid=f"t{n}") for n in range(2)),
        arf("spam@example.org", verp=ids["spam"]),
        dsn("late@example.org", "4.4.7", verp=ids["late"], action="delayed", uid="d"),
        dsn("auth@example.org", "5.7.26", verp=ids["auth"], diagnostic="550 5.7.26 DMARC", uid="a"),
        qmail("qm@example.org", ids["qm"]),
        dsn("stranger@example.org", uid="x"),  # nobody on the list
        dsn("gone@example.org", uid="g"),  # no VERP: found by its address
    ]
    path = tmp_path / ("Maildir" if kind == "maildir" else "bounces.mbox")
    box: mailbox.Maildir | mailbox.mbox = (
        mailbox.Maildir(path, create=True) if kind == "maildir" else mailbox.mbox(path, create=True)
    )
    for raw in reports:
        box.add(raw)
    box.close()
    runner = CliRunner()
    result = runner.invoke(app, ["bounces", str(path), "-c", str(config_path)])
    assert result.exit_code == 1, result.output  # the 5.7.26 is ours to fix
    assert "5.7.26" in result.output and "12 reports read" in result.output
    states = _statuses(config_path)
    assert states["hard"][0] == "bounced" and "5.1.1" in states["hard"][1]
    assert states["soft3"][0] == "bounced" and states["soft3"][1].startswith("3 soft bounces")
    assert states["soft2"][0] == "active"
    assert states["spam"][0] == "complained" and "abuse" in states["spam"][1]
    assert states["late"][0] == states["auth"][0] == "active"
    assert states["qm"][0] == "bounced"
    assert states["gone"][0] == "bounced"

    again = runner.invoke(app, ["bounces", str(path), "-c", str(config_path)])
    assert "12 seen before" in again.output
    assert _statuses(config_path)["soft2"][0] == "active"  # two soft bounces, counted once
    missing = runner.invoke(app, ["bounces", str(tmp_path / "none"), "-c", str(config_path)])
    assert missing.exit_code == 1 and "no such Maildir or mbox" in missing.output


def test_refusals_at_send_time(tmp_path: Path, smtp: tuple[Catcher, int]) -> None:
    catcher, port = smtp
    config_path = write_config(tmp_path, port, 8080)
    config = load_config(config_path)
    publish_issue(config, make_issue("2026-12-01", NOW))
    ids = _readers(config_path, ["dead", "full", "fine"])
    catcher.refuse = {
        "dead@example.org": "550 5.1.1 <dead@example.org>: user unknown",
        "full@example.org": "552 5.2.2 mailbox full",
    }
    with State(config.state_target) as state:
        report = send_issue(config, state, load_issue(config.output_dir))
    assert (report.sent, len(report.failed)) == (1, 2)
    states = _statuses(config_path)
    assert states["dead"][0] == "bounced" and "5.1.1" in states["dead"][1]
    assert states["full"][0] == "active"  # refused this once, not suppressed
    assert catcher.messages[0].sender == verp_address(BOUNCES, ids["fine"])

    # An authentication refusal stops the send: the operator must fix SPF/DKIM/DMARC.
    publish_issue(config, make_issue("2026-12-02", NOW))
    catcher.refuse = {"full@example.org": "550 5.7.26 This mail is unauthenticated"}
    with State(config.state_target) as state, pytest.raises(ConfigError, match=r"5\.7\.26"):
        send_issue(config, state, load_issue(config.output_dir, "2026-12-02"))
    with State(config.state_target) as state:
        log = state.send_log("2026-12-02")
    assert log == {"full@example.org": "deferred", "fine@example.org": "pending"}  # not tried
    assert _statuses(config_path)["full"][0] == "active"


def parse_bytes(raw: bytes, bounce_address: str = "") -> list[Bounce]:
    """`parse_report` of one message's bytes."""
    return parse_report(email.message_from_bytes(raw, policy=email.policy.compat32), bounce_address)
