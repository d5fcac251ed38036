"""The pieces of `digest serve` that take hostile input: tokens, CSRF, forms, limits, config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from digest.cli import app
from digest.config import load_config, parse_config
from digest.errors import ConfigError, ExpiredTokenError, SubscriberError
from digest.mail import subscribers
from digest.models import Preferences
from digest.serve import forms
from digest.store import State

SECRET = b"unit-secret-0123456789abcdef"


def test_request_limits_are_shared_by_every_process_on_the_state() -> None:
    target = os.environ["DIGEST_STATE"]
    with State(target) as one, State(target) as two:
        tries = [(one if n % 2 else two).hit("ip", "192.0.2.1", 3, 60) for n in range(5)]
        assert tries == [True, True, True, False, False]
        assert one.hit("ip", "192.0.2.2", 3, 60) and one.hit("other", "192.0.2.1", 3, 60)
        one.db.execute("UPDATE request_hits SET at = at - 61")  # an hour later, say
        assert two.hit("ip", "192.0.2.1", 3, 60)
        (left,) = one.db.execute("SELECT count(*) FROM request_hits WHERE name = 'ip'").fetchone()
        assert left == 1  # the old ones are gone


def test_csrf_tokens() -> None:
    token = forms.csrf_token(SECRET, "nonce-1", 1000)
    assert forms.csrf_ok(SECRET, "nonce-1", token, 1000 + 60)
    assert not forms.csrf_ok(SECRET, "nonce-2", token, 1060)  # another browser's cookie
    assert not forms.csrf_ok(SECRET, None, token, 1060)
    assert not forms.csrf_ok(SECRET, "nonce-1", token, 1000 + forms.CSRF_MAX_AGE + 1)
    assert not forms.csrf_ok(b"another-secret-0123456", "nonce-1", token, 1060)


@given(token=st.text(max_size=80), nonce=st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_csrf_garbage_is_refused(token: str, nonce: str) -> None:
    assert not forms.csrf_ok(SECRET, nonce, token, 10_000)


def test_form_choices() -> None:
    offered = ["Auto Wire", "Road Notes"]
    picked = forms.choices({"sources": ["Road Notes", "Evil <b>"], "cadence": ["weekly"]}, offered)
    assert picked == Preferences(("Road Notes",), "weekly")
    assert forms.choices({"sources": offered}, offered) == Preferences((), "issue")
    assert forms.choices({"cadence": ["hourly"]}, offered).cadence == "issue"
    form = forms.subscribe_form({"email": [" a@b.org "], "website": ["x"]}, offered)
    assert form.email == "a@b.org" and form.trapped


@pytest.fixture
def state(tmp_path: Path) -> State:
    return State(tmp_path / "state.sqlite")


@given(token=st.text(max_size=60))
@settings(max_examples=200, deadline=None)
def test_forged_tokens_name_nobody(tmp_path_factory: pytest.TempPathFactory, token: str) -> None:
    with State(tmp_path_factory.mktemp("s") / "state.sqlite") as state:
        state.insert_subscriber("ann@example.org", "", "pending", "asked on the web")
        with pytest.raises(SubscriberError):
            subscribers.check_token(state, SECRET, token)
        with pytest.raises(SubscriberError):
            subscribers.check_confirm_token(state, SECRET, token, 0)


def test_confirm_token_life(state: State) -> None:
    number = state.insert_subscriber("ann@example.org", "", "pending", "asked on the web")
    ann = state.subscriber(number)
    assert ann is not None
    token = subscribers.confirm_token(SECRET, ann, 1_000_000, 48)
    assert subscribers.check_confirm_token(state, SECRET, token, 1_000_000 + 47 * 3600).id == number
    with pytest.raises(ExpiredTokenError):
        subscribers.check_confirm_token(state, SECRET, token, 1_000_000 + 49 * 3600)
    subscribers.confirm(state, ann)
    with pytest.raises(SubscriberError, match="used already"):
        subscribers.check_confirm_token(state, SECRET, token, 1_000_001)
    lasting = subscribers.make_token(SECRET, number, "ann@example.org")
    with pytest.raises(SubscriberError):  # the reader's lasting token confirms nothing
        subscribers.check_confirm_token(state, SECRET, lasting, 1_000_001)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[server]\nbase_url = "http://news.example.org"', "must use https"),
        ('[server]\nbase_url = "https://news.example.org/?x=1"', "must be an http(s) URL"),
        ('[server]\nbase_url = "javascript:alert(1)"', "must be an http(s) URL"),
        ("[server]\nsubscribe_per_ip = 0", "between 1 and"),
        ("[server]\nport = 0", "between 1 and"),
        ("[server]\nwelcome = 1", "true or false"),
        ("[server]\nbase = 1", "unknown key 'server.base'"),
        ('[smtp]\nbounce_address = "bounces+x@example.org"', 'without "+"'),
    ],
)
def test_server_settings_are_checked(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match="line 2") as caught:
        parse_config(text, base_dir=tmp_path)
    assert problem in str(caught.value)


def test_server_settings_accepted(tmp_path: Path) -> None:
    for url in ("https://news.example.org", "http://127.0.0.1:8080", "http://localhost:8080/"):
        config = parse_config(f'[server]\nbase_url = "{url}"', base_dir=tmp_path)
        assert config.unsubscribe_url == url.rstrip("/") + "/unsubscribe/{token}"


def test_reader_commands_have_help() -> None:
    for command in (["serve"], ["bounces"], ["subscribers", "list"], ["subscribers", "export"]):
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and len(result.output) > 100, command
    assert "pending" in CliRunner().invoke(app, ["subscribers", "list", "--help"]).output


def test_serve_refuses_to_start_without_the_token_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIGEST_UNSUBSCRIBE_SECRET", raising=False)
    config = tmp_path / "config.toml"
    config.write_text('[server]\nbase_url = "https://news.example.org"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["serve", "-c", str(config)])
    assert result.exit_code == 2 and "DIGEST_UNSUBSCRIBE_SECRET" in result.output


def test_one_render_per_distinct_choice(tmp_path: Path) -> None:
    from digest.issues.files import load_issue
    from digest.mail.variants import Variants
    from tests.readers import NOW, make_issue, publish_issue, write_config

    config = load_config(write_config(tmp_path, 25, 8080))
    publish_issue(config, make_issue("2026-12-01", NOW))
    variants = Variants(config, load_issue(config.output_dir))
    roads, wire = Preferences(("Road Notes",)), Preferences(("Auto Wire",))
    everything = Preferences(("Auto Wire", "Road Notes"))
    for preferences in (roads, wire, roads, Preferences(), everything, wire, roads):
        variants.factory(preferences)
    assert variants.renders == 2  # "all" and "both sources" are the issue as built
    assert not variants.wants(Preferences(("Elsewhere",)))
    assert not variants.wants(Preferences(cadence="weekly"))
    assert variants.wants(Preferences(cadence="weekly"), any_cadence=True)
