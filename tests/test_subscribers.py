"""The subscriber list: validation, unsubscribes that stick, CSV in and out, tokens."""

from __future__ import annotations

import csv
import io
import os
import tracemalloc
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
def state() -> State:
    """The test's own state on the engine DIGEST_TEST_ENGINE names."""
    return State(os.environ["DIGEST_STATE"])


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


def _import(state: State, text: str, skip_invalid: bool = False) -> subscribers.ImportResult:
    return subscribers.import_csv(state, io.StringIO(text), skip_invalid=skip_invalid)


def _everyone(state: State) -> list[tuple[str, str, str]]:
    return [(s.email, s.name, s.status) for s in state.subscribers(include_unsubscribed=True)]


def test_import_counts_each_address_once_whatever_its_case(state: State) -> None:
    subscribers.add(state, "old@example.org", "Old")
    subscribers.add(state, "gone@example.org")
    subscribers.remove(state, "gone@example.org")
    text = (
        "email,name\nnew@example.org,First\nNEW@Example.ORG,Second\nOld@EXAMPLE.org,Again\n"
        "GONE@example.org,Back\nx@Bücher.DE,Ü\nx@xn--bcher-kva.de,Punycode\nnew@example.org,\n"
    )
    result = _import(state, text)
    # Added: new and x@bücher.de; the later copies of them and Old count as already there.
    assert (result.added, result.already, result.unsubscribed) == (2, 4, 1)
    assert _everyone(state) == [
        ("old@example.org", "Old", "active"),
        ("gone@example.org", "", "unsubscribed"),
        ("new@example.org", "First", "active"),
        ("x@bücher.de", "Ü", "active"),
    ]
    new = state.subscriber("new@example.org")
    assert new is not None
    assert [(status, cause) for _, status, cause in state.subscriber_events(new.id)] == [
        ("active", subscribers.IMPORT_CAUSE)
    ]
    again = _import(state, text)
    assert (again.added, again.already, again.unsubscribed) == (0, 6, 1)
    assert len(state.subscriber_events()) == 5  # 2 adds, 1 removal, 2 imported: no more


def test_import_refusal_names_the_first_bad_line_and_counts_the_rest(state: State) -> None:
    good = "".join(f"reader{n}@example.org,R{n}\n" for n in range(300))
    bad = "".join(f"broken{n},B\n" for n in range(150))
    text = f"email,name\n{good}{bad}last@example.org,L\n"
    with pytest.raises(SubscriberError) as refused:
        _import(state, text)
    assert str(refused.value).startswith("line 302: 'broken0' is not an email address")
    assert "(and 149 more); nothing imported" in str(refused.value)
    assert _everyone(state) == [] and state.subscriber_events() == []
    result = _import(state, text, skip_invalid=True)
    assert (result.added, result.skipped) == (301, 150)
    assert len(result.invalid) == subscribers.KEPT_PROBLEMS and "line 302" in result.invalid[0]


def test_import_of_a_file_broken_half_way_leaves_nothing(state: State, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    rows = "".join(f"reader{n}@example.org,Zoë\n" for n in range(20000))
    path.write_bytes(f"email,name\n{rows}".encode() + b"late@example.org,Ren\xe9e\n")
    with (
        path.open(encoding="utf-8", newline="") as source,
        pytest.raises(
            SubscriberError, match=r"near line \d+: the CSV is not UTF-8.*nothing imported"
        ),
    ):
        subscribers.import_csv(state, source)
    assert _everyone(state) == []
    subscribers.add(state, "after@example.org")  # the state is usable afterwards
    assert len(state.subscribers()) == 1


def test_import_memory_does_not_grow_with_the_list(state: State, tmp_path: Path) -> None:
    """Streamed: the rows pass through, so five times the list takes no more memory."""
    peaks = []
    for count in (12000, 60000):
        path = tmp_path / f"list-{count}.csv"
        with path.open("w", encoding="utf-8") as target:
            target.write("email,name\n")
            target.writelines(f"r{count}.{n}@example.org,Reader {n}\n" for n in range(count))
        with path.open(encoding="utf-8", newline="") as source:
            tracemalloc.start()
            try:
                assert subscribers.import_csv(state, source).added == count
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
    assert peaks[1] < 1.5 * peaks[0], peaks


def test_a_name_with_a_nul_is_kept_without_it(state: State) -> None:
    """Either engine stores it (PostgreSQL takes no NUL in text), and it exports back as is."""
    assert _import(state, "email,name\nnul@example.org,A\x00nn\n").added == 1
    subscribers.add(state, "zero@example.org", "\x00")
    assert _everyone(state) == [
        ("nul@example.org", "Ann", "active"),
        ("zero@example.org", "", "active"),
    ]
    exported = io.StringIO()
    subscribers.export_csv(state.subscribers(), exported)
    with State(":memory:") as other:
        _import(other, exported.getvalue())
        assert _everyone(other) == _everyone(state)


def test_import_on_postgresql_copies_and_folds_case(pg_state: str) -> None:
    """COPY into the staging table, then one statement: duplicates in any case once."""
    with State(pg_state) as state:
        assert state.db.name == "postgresql"
        subscribers.add(state, "Kept@Example.org", "Kept")
        rows = "".join(
            f"{'READER' if n % 3 == 0 else 'reader'}{n % 5000}@example.org,R{n}\n"
            for n in range(12000)
        )
        result = _import(state, f"email,name\nkept@EXAMPLE.ORG,K\n{rows}")
        assert (result.added, result.already) == (5000, 7001)
        assert len(state.subscribers()) == 5001
        first = state.subscriber("Reader3@example.org")  # line 5 of the file: n = 3
        assert first is not None and (first.email, first.name) == ("READER3@example.org", "R3")
        ids = [s.id for s in state.subscribers()]
        assert ids == sorted(ids) and len(state.subscriber_events()) == 5001


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
