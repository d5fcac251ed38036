"""digest serve over real HTTP: uvicorn on loopback, aiosmtpd catching every mail.

Subscribe → confirmation mail → confirm → `digest send` reaches the reader →
one-click POST → never mailed again; GETs change nothing; known and unknown
addresses get the same answer; tokens forged, replayed and expired; the form
hammered from one address and for one address.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.config import load_config
from digest.mail import subscribers
from digest.mail.weekly import send_weekly
from digest.store import State
from testkit.net import free_port
from tests.readers import (
    NOW,
    SECRET,
    Catcher,
    Running,
    confirm_link,
    make_issue,
    publish_issue,
    run_app,
    story,
    write_config,
)

pytestmark = pytest.mark.usefixtures("reader_secret")


def client(site: Running, forwarded: str | None = None) -> httpx.Client:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return httpx.Client(base_url=site.url, headers=headers, timeout=30, trust_env=False)


def subscribe(web: httpx.Client, address: str, **fields: str | list[str]) -> httpx.Response:
    form = web.get("/subscribe")
    assert form.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf
    return web.post("/subscribe", data={"email": address, "csrf": csrf.group(1), **fields})


def status_of(site: Running, address: str) -> str:
    with State(site.config.state_target) as state:
        found = state.subscriber(address)
        return found.status if found else "absent"


def reader_token(site: Running, address: str) -> str:
    with State(site.config.state_target) as state:
        found = state.subscriber(address)
        assert found is not None
        return subscribers.make_token(SECRET.encode(), found.id, found.email)


def send(site: Running, *args: str) -> str:
    config_path = site.config.base_dir / "config.toml"
    result = CliRunner().invoke(app, ["send", *args, "-c", str(config_path)])
    assert result.exit_code == 0, result.output
    return result.output


def test_subscribe_confirm_send_one_click_never_again(
    site: Running, smtp: tuple[Catcher, int]
) -> None:
    catcher = smtp[0]
    reader = "ann@example.org"
    with client(site) as web:
        answer = subscribe(web, reader, name="Ann")
        assert answer.status_code == 200 and "Check your inbox" in answer.text
        assert status_of(site, reader) == "pending"
        (mail,) = catcher.wait_for(reader)
        assert mail.sender == f"bounces+{_id(site, reader)}@news.example.com"  # VERP
        link = confirm_link(mail.message)
        assert link.startswith(site.url + "/confirm/")
        send(site)  # a pending reader gets no issue
        assert len(catcher.to(reader)) == 1
        for _ in range(3):  # a mail scanner following the link confirms nobody
            shown = web.get(link)
            assert shown.status_code == 200 and "<button" in shown.text
        assert status_of(site, reader) == "pending"
        confirmed = web.post(link)
        assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
        assert status_of(site, reader) == "active"

    publish_issue(site.config, make_issue("2026-12-01", NOW))
    assert "1 sent now" in send(site, "2026-12-01")
    issue = catcher.wait_for(reader, 2)[-1]
    assert issue.sender == f"bounces+{_id(site, reader)}@news.example.com"
    unsubscribe = f"{site.url}/unsubscribe/{reader_token(site, reader)}"
    assert f"<{unsubscribe}>" in issue.message["List-Unsubscribe"]
    assert issue.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = issue.message.get_body(("html",))
    assert html is not None and unsubscribe in html.get_content()

    # What a mail provider does for RFC 8058: a POST, no cookie, no page.
    one_click = httpx.post(
        unsubscribe,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        trust_env=False,
    )
    assert one_click.status_code == 200
    assert status_of(site, reader) == "unsubscribed"
    with State(site.config.state_target) as state:
        found = state.subscriber(reader)
        assert found is not None and found.cause == "one-click unsubscribe (RFC 8058)"
        events = [status for _, status, _ in state.subscriber_events(found.id)]
    assert events == ["pending", "active", "unsubscribed"]

    publish_issue(site.config, make_issue("2026-12-02", NOW + timedelta(hours=1)))
    send(site, "2026-12-02")
    assert len(catcher.to(reader)) == 2  # never mailed again
    config_path = str(site.config.base_dir / "config.toml")
    listed = CliRunner().invoke(
        app, ["subscribers", "list", "--status", "unsubscribed", "-c", config_path]
    )
    assert "1 subscribers" in listed.output and "ann@example.org" in listed.output
    exported = CliRunner().invoke(app, ["subscribers", "export", "--all", "-c", config_path])
    assert exported.exit_code == 0
    (row,) = exported.output.splitlines()[1:]
    assert row.startswith("ann@example.org,Ann,unsubscribed,")
    assert ",one-click unsubscribe (RFC 8058),,issue" in row
    history = CliRunner().invoke(app, ["subscribers", "history", "-c", config_path])
    assert [line.split(",")[2:] for line in history.output.splitlines()[1:]] == [
        ["pending", "asked on the web"],
        ["active", "confirmed by the reader"],
        ["unsubscribed", "one-click unsubscribe (RFC 8058)"],
    ]
    one = CliRunner().invoke(app, ["subscribers", "history", "ANN@example.org", "-c", config_path])
    assert one.exit_code == 0 and "confirmed by the reader" in one.output


def _id(site: Running, address: str) -> int:
    with State(site.config.state_target) as state:
        found = state.subscriber(address)
        assert found is not None
        return found.id


def test_the_answer_is_the_same_for_every_address(site: Running) -> None:
    with State(site.config.state_target) as state:
        subscribers.add(state, "active@example.org")
        subscribers.add(state, "gone@example.org")
        subscribers.remove(state, "gone@example.org")
        state.insert_subscriber("waiting@example.org", "", "pending", "asked on the web")
    answers = []
    for address in ("new@example.org", "active@example.org", "gone@example.org",
                    "waiting@example.org", "ACTIVE@example.org"):  # fmt: skip
        with client(site) as web:
            answer = subscribe(web, address)
        headers = {k: v for k, v in answer.headers.items() if k not in ("date",)}
        answers.append((answer.status_code, headers, answer.content))
    assert all(a == answers[0] for a in answers[1:])
    assert answers[0][0] == 200


def test_gets_change_nothing_and_tokens_must_be_genuine(
    site: Running, smtp: tuple[Catcher, int]
) -> None:
    reader = "bo@example.org"
    with client(site) as web:
        subscribe(web, reader)
        link = confirm_link(smtp[0].wait_for(reader)[0].message)
        token = link.rsplit("/", 1)[1]
        number, expires, signature = token.split("-", 2)
        forged = [
            f"{number}-{expires}-{'A' * len(signature)}",
            f"{number}-{int(expires) + 3600}-{signature}",  # a longer life, same signature
            f"{int(number) + 1}-{expires}-{signature}",
            reader_token(site, reader),  # the lasting token is not a confirmation
            "../../etc/passwd",
        ]
        for bad in forged:
            for method in ("GET", "POST"):
                assert web.request(method, f"/confirm/{bad}").status_code in (404, 405)
        assert status_of(site, reader) == "pending"

        with State(site.config.state_target) as state:
            found = state.subscriber(reader)
            assert found is not None
            old = subscribers.confirm_token(SECRET.encode(), found, time.time() - 49 * 3600, 48)
        expired = web.post(f"/confirm/{old}")
        assert expired.status_code == 410 and "expired" in expired.text
        assert status_of(site, reader) == "pending"

        assert web.post(link).status_code == 200
        unsubscribe = f"/unsubscribe/{reader_token(site, reader)}"
        for _ in range(3):
            assert web.get(unsubscribe).status_code == 200
            assert web.get(f"/preferences/{reader_token(site, reader)}").status_code == 200
        assert status_of(site, reader) == "active"
        assert web.post(unsubscribe[:-2] + "xx").status_code == 404
        assert status_of(site, reader) == "active"
        assert web.post(unsubscribe).status_code == 200
        replay = web.post(link)  # the used confirmation link cannot bring them back
        assert replay.status_code == 404
        assert status_of(site, reader) == "unsubscribed"


def test_csrf_and_honeypot(site: Running, smtp: tuple[Catcher, int]) -> None:
    with client(site) as web:
        no_token = web.post("/subscribe", data={"email": "x@example.org"})
        assert no_token.status_code == 400
        trapped = subscribe(web, "bot@example.org", website="http://spam.example")
        assert trapped.status_code == 200 and "Check your inbox" in trapped.text
    with client(site) as other:  # a token from one browser is no good with another's cookie
        form = other.get("/subscribe")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
    with client(site) as web:
        web.get("/subscribe")
        stolen = web.post("/subscribe", data={"email": "y@example.org", "csrf": token.group(1)})
        assert stolen.status_code == 400
    time.sleep(0.5)
    assert status_of(site, "x@example.org") == "absent"
    assert status_of(site, "y@example.org") == "absent"
    assert status_of(site, "bot@example.org") == "absent"
    assert smtp[0].messages == []


def test_rate_limits_hold(site: Running, smtp: tuple[Catcher, int]) -> None:
    per_ip = site.config.server.subscribe_per_ip
    with client(site, forwarded="203.0.113.7") as web:
        codes = [subscribe(web, f"r{n}@example.org").status_code for n in range(per_ip + 15)]
        assert codes[:per_ip] == [200] * per_ip
        assert set(codes[per_ip:]) == {429}
        # Other pages and other clients are not slowed by it.
        assert web.get("/").status_code == 200
    with client(site, forwarded="203.0.113.8") as web:
        assert subscribe(web, "fresh@example.org").status_code == 200
    # One address, asked for from many networks: three confirmation mails a day at most.
    per_address = site.config.server.subscribe_per_address
    for n in range(per_address + 4):
        with client(site, forwarded=f"198.51.100.{n + 1}") as web:
            assert subscribe(web, "target@example.org").status_code == 200
    smtp[0].wait_for("target@example.org", per_address)
    time.sleep(1.0)
    assert len(smtp[0].to("target@example.org")) == per_address


def test_pages_archive_issue_feed(site: Running) -> None:
    with client(site) as web:
        archive = web.get("/")
        assert archive.status_code == 200 and "Wagon news of 2026-11-30" in archive.text
        assert archive.headers["referrer-policy"] == "no-referrer"
        assert web.get("/2026-11-30/").status_code == 200
        assert "Back roads" in web.get("/2026-11-30/web.html").text
        assert web.get("/feed.xml").headers["content-type"].startswith("application/atom+xml")
        for bad in ("/..%2f..%2fetc/", "/2026-11-30/issue.json", "/nope/", "/.hidden/"):
            assert web.get(bad).status_code == 404
        big = web.post("/subscribe", content=b"a" * 100_000)
        assert big.status_code in (400, 413)


def test_preferences_choose_sources_and_weekly(site: Running, smtp: tuple[Catcher, int]) -> None:
    catcher = smtp[0]
    with State(site.config.state_target) as state:
        for address in ("all@example.org", "roads@example.org", "weekly@example.org"):
            subscribers.add(state, address)
    with client(site) as web:
        roads = web.post(
            f"/preferences/{reader_token(site, 'roads@example.org')}",
            data={"sources": ["Road Notes", "Not a source"], "cadence": "issue", "name": "Ro"},
        )
        assert roads.status_code == 200 and "Saved" in roads.text
        page = web.post(
            f"/preferences/{reader_token(site, 'weekly@example.org')}",
            data={"cadence": "weekly"},
        )
        assert 'value="weekly" checked' in page.text
    with State(site.config.state_target) as state:
        found = state.subscriber("roads@example.org")
        assert found is not None and found.preferences.sources == ("Road Notes",)

    send(site)
    (everything,) = catcher.to("all@example.org")
    (only_roads,) = catcher.to("roads@example.org")
    assert "Wagon news" in _text(everything) and "Back roads" in _text(everything)
    assert "Back roads" in _text(only_roads) and "Wagon news" not in _text(only_roads)
    assert catcher.to("weekly@example.org") == []

    # A week of issues; the weekly reader gets one mail with the most discussed first.
    monday = (NOW - timedelta(days=NOW.weekday() + 7)).replace(hour=7)
    for day in range(3):
        when = monday + timedelta(days=day)
        publish_issue(
            site.config,
            make_issue(
                when.date().isoformat(),
                when,
                story(f"Quiet story {day}", "Auto Wire", day),
                story(f"Hot thread {day}", "Road Notes", 50 + day),
            ),
        )
    config = load_config(site.config.base_dir / "config.toml")
    for _ in range(2):  # run twice: still one mail
        with State(config.state_target) as state:
            report = send_weekly(config, state, datetime.now(UTC))
        assert report is not None
    (weekly,) = catcher.to("weekly@example.org")
    text = _text(weekly)
    assert text.index("Hot thread 2") < text.index("Hot thread 0") < text.index("Quiet story 2")
    assert len(catcher.to("all@example.org")) == 1  # every-issue readers get no weekly


def _text(caught: object) -> str:
    message = caught.message  # type: ignore[attr-defined]
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_welcome_mail_is_the_newest_issue_once(tmp_path: Path, smtp: tuple[Catcher, int]) -> None:
    path = write_config(tmp_path, smtp[1], free_port(), welcome=True)
    publish_issue(load_config(path), make_issue("2026-11-30", NOW - timedelta(days=1)))
    publish_issue(load_config(path), make_issue("2026-12-01", NOW))
    for site in run_app(path):
        with client(site) as web:
            subscribe(web, "dee@example.org")
            link = confirm_link(smtp[0].wait_for("dee@example.org")[0].message)
            assert web.post(link).status_code == 200
        welcome = smtp[0].wait_for("dee@example.org", 2)[1]
        assert "Wagon news of 2026-12-01" in _text(welcome)
        send(site, "2026-12-01")  # the send log knows they have it
        assert len(smtp[0].to("dee@example.org")) == 2
