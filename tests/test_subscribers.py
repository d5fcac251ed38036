"""The subscriber list: validation, unsubscribes that stick, CSV in and out, tokens."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.config import Config, NewsletterSettings
from digest.errors import ConfigError, SubscriberError
from digest.mail import subscribers
from digest.store import State

SECRET = b"a-secret-of-enough-length-123456"


@pytest.fixture
def state(tmp_path: Path) -> State:
    return State(tmp_path / "state.sqlite")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("reader@example.org", "reader@example.org"),
        ("  Reader@EXAMPLE.org ", "Reader@example.org"),
        ("zoë@exämple.de", "zoë@exämple.de"),
    ],
)
def test_add_normalises(state: State, given: str, stored: str) -> None:
    assert subscribers.add(state, given).email == stored


@pytest.mark.parametrize(
    "bad", ["", "no-at-sign", "two@@example.org", "a@b", "x@example..org", "a b@example.org"]
)
def test_add_rejects_what_is_not_an_address(state: State, bad: str) -> None:
    with pytest.raises(SubscriberError, match="not an email address"):
        subscribers.add(state, bad)
    assert state.subscribers(include_unsubscribed=True) == []


def test_same_address_any_case_is_one_subscriber(state: State) -> None:
    first = subscribers.add(state, "reader@example.org", "Reader")
    again = subscribers.add(state, "READER@example.org")
    assert first.id == again.id and again.name == "Reader"
    assert len(state.subscribers()) == 1


def test_unsubscribed_stay_unsubscribed(state: State) -> None:
    subscribers.add(state, "gone@example.org")
    left = subscribers.remove(state, "Gone@example.org")
    assert left.status == "unsubscribed" and left.unsubscribed_at
    assert state.subscribers() == []
    with pytest.raises(SubscriberError, match="--resubscribe"):
        subscribers.add(state, "gone@example.org")
    result = subscribers.import_csv(state, io.StringIO("email\ngone@example.org\n"))
    assert (result.added, result.unsubscribed) == (0, 1)
    assert state.subscribers() == []
    back = subscribers.add(state, "gone@example.org", resubscribe=True)
    assert back.status == "active" and back.unsubscribed_at is None


def test_remove_unknown(state: State) -> None:
    with pytest.raises(SubscriberError, match="not on the list"):
        subscribers.remove(state, "nobody@example.org")


def test_import_csv_with_bom_names_and_blank_lines(state: State) -> None:
    text = "\ufeffName,EMAIL\nZoë  Ångström,zoe@example.org\n\n,bob@example.org\n"
    subscribers.add(state, "bob@example.org")
    result = subscribers.import_csv(state, io.StringIO(text))
    assert (result.added, result.already, result.invalid) == (1, 1, ())
    rows = {s.email: s.name for s in state.subscribers()}
    assert rows == {"bob@example.org": "", "zoe@example.org": "Zoë Ångström"}


def test_import_is_all_or_nothing_unless_told(state: State) -> None:
    text = "email,name\nok@example.org,A\nbroken-address,B\nfine@example.org,C\n"
    with pytest.raises(SubscriberError, match=r"line 3: 'broken-address'.*nothing imported"):
        subscribers.import_csv(state, io.StringIO(text))
    assert state.subscribers() == []
    result = subscribers.import_csv(state, io.StringIO(text), skip_invalid=True)
    assert result.added == 2 and len(result.invalid) == 1 and "line 3" in result.invalid[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("address,name\nx@example.org,X\n", "no 'email' column")],
)
def test_import_needs_an_email_column(state: State, text: str, message: str) -> None:
    with pytest.raises(SubscriberError, match=message):
        subscribers.import_csv(state, io.StringIO(text))


def test_export_round_trips(state: State, tmp_path: Path) -> None:
    subscribers.add(state, "a@example.org", "Ann, the first")
    subscribers.add(state, "b@example.org")
    subscribers.remove(state, "b@example.org")
    target = io.StringIO()
    assert subscribers.export_csv(state.subscribers(include_unsubscribed=True), target) == 2
    rows = list(csv.DictReader(io.StringIO(target.getvalue())))
    assert [(r["email"], r["name"], r["status"]) for r in rows] == [
        ("a@example.org", "Ann, the first", "active"),
        ("b@example.org", "", "unsubscribed"),
    ]
    other = State(tmp_path / "other.sqlite")
    result = subscribers.import_csv(other, io.StringIO(target.getvalue()))
    assert result.added == 2  # the status column is informational on import


def test_tokens(state: State) -> None:
    ann = subscribers.add(state, "ann@example.org")
    bob = subscribers.add(state, "bob@example.org")
    token = subscribers.make_token(SECRET, ann.id, ann.email)
    assert token.startswith(f"{ann.id}-") and token.replace("-", "").replace("_", "").isalnum()
    assert subscribers.check_token(state, SECRET, token).email == "ann@example.org"
    assert token != subscribers.make_token(SECRET, bob.id, bob.email)
    assert token != subscribers.make_token(b"another-secret-of-enough-length", ann.id, ann.email)
    forged = f"{bob.id}-{token.partition('-')[2]}"
    for bad in (forged, token[:-1], "", "x-y", "99-abc"):
        with pytest.raises(SubscriberError, match="matches no subscriber"):
            subscribers.check_token(state, SECRET, bad)


def test_token_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = Config(newsletter=NewsletterSettings(unsubscribe_secret_env="MY_SECRET"))
    monkeypatch.delenv("MY_SECRET", raising=False)
    with pytest.raises(ConfigError, match="MY_SECRET"):
        subscribers.token_secret(config)
    monkeypatch.setenv("MY_SECRET", "short")
    with pytest.raises(ConfigError, match="at least 16"):
        subscribers.token_secret(config)
    monkeypatch.setenv("MY_SECRET", "long-enough-secret-value")
    assert subscribers.token_secret(config) == b"long-enough-secret-value"


def test_mask() -> None:
    assert subscribers.mask("reader@example.org") == "r***@example.org"


def test_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET.decode())
    config = tmp_path / "config.toml"
    config.write_text('[newsletter]\ntitle = "T"\n', encoding="utf-8")
    people = tmp_path / "people.csv"
    people.write_text("email,name\nann@example.org,Ann\nbob@example.org,Bob\n", encoding="utf-8")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["subscribers", *args, "-c", str(config)])
        assert result.exit_code == 0, result.output
        return result.output

    assert "Subscribed cy@example.org" in run("add", "cy@example.org", "--name", "Cy")
    assert "Imported 2 new" in run("import", str(people))
    assert "3 subscribers" in run("list")
    assert "Unsubscribed bob@example.org" in run("remove", "bob@example.org")
    with State(os.environ["DIGEST_STATE"]) as state:
        ann = state.subscriber("ann@example.org")
        assert ann is not None
        token = subscribers.make_token(SECRET, ann.id, ann.email)
    assert "Unsubscribed ann@example.org" in run("remove", token)
    listed = run("list", "--all")
    assert "unsubscribed" in listed and "cy@example.org" in listed
    exported = tmp_path / "out.csv"
    run("export", "--output", str(exported))
    since = _since("cy@example.org")
    assert exported.read_text(encoding="utf-8").splitlines()[1:] == [
        f"cy@example.org,Cy,active,{since},,{since},added by the operator,,issue"
    ]
    bad = runner.invoke(app, ["subscribers", "add", "nope", "-c", str(config)])
    assert bad.exit_code == 1 and "not an email address" in bad.output
    missing = runner.invoke(app, ["subscribers", "import", "no.csv", "-c", str(config)])
    assert missing.exit_code == 1 and "cannot read" in missing.output
    forged = runner.invoke(app, ["subscribers", "remove", "3-AAAA", "-c", str(config)])
    assert forged.exit_code == 1 and "matches no subscriber" in forged.output


def _since(email: str) -> str:
    with State(os.environ["DIGEST_STATE"]) as state:
        found = state.subscriber(email)
        assert found is not None
        return found.subscribed_at


def test_every_mail_command_has_help() -> None:
    runner = CliRunner()
    for command in (
        ["send"],
        ["schedule"],
        ["subscribers"],
        *(["subscribers", c] for c in ("add", "remove", "list", "import", "export")),
    ):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and len(result.output) > 100, command
