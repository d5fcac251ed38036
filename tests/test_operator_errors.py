"""A careless operator's mistakes: one line each, the README's exit code, nothing lost.

Also what reaches a spreadsheet or a terminal from the subscriber list:
formulas neutralised on export (and restored on import), control characters
and terminal escapes never printed by `subscribers list`.
"""

from __future__ import annotations

import io
import os
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from digest.build import select
from digest.cli import app
from digest.config import Config, NewsletterSettings
from digest.errors import StateError, SubscriberError
from digest.mail import subscribers
from digest.models import Entry, Feed, FeedStatus
from digest.store import State, engine
from testkit.net import free_port
from tests.conftest import ConfigWriter

SECRET = b"a-secret-of-enough-length-123456"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(__import__("digest.cli", fromlist=["app"]).app, list(args))
    return result.exit_code, result.output


def one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


# Configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("newsletter", "lookback_days", "1000000000000", "between 0 and 36,500"),
        ("fetch", "timeout", "nan", "finite number"),
        ("fetch", "timeout", "inf", "finite number"),
        ("smtp", "timeout", "-nan", "finite number"),
        ("smtp", "data_timeout", "1e300", "at most 86,400"),
        ("smtp", "port", "70000", "between 1 and 65,535"),
        ("smtp", "give_up_hours", "-1", "between 0 and 8,760"),
    ],
)
def test_numbers_no_one_means_are_config_errors(
    write_config: ConfigWriter, section: str, key: str, value: str, message: str
) -> None:
    path = write_config("feed.xml")
    text = path.read_text(encoding="utf-8")
    if (section, key) in {("newsletter", "lookback_days"), ("fetch", "timeout")}:  # set already
        text = re.sub(rf"\n{key} = .*", f"\n{key} = {value}", text)
    elif f"[{section}]" in text:
        text = text.replace(f"[{section}]", f"[{section}]\n{key} = {value}", 1)
    else:
        text += f"\n[{section}]\n{key} = {value}\n"
    path.write_text(text, encoding="utf-8")
    code, output = run("build", "-c", str(path))
    assert code == 2
    line = one_line(output)
    assert f"{section}.{key}" in line and message in line


def test_a_lookback_beyond_the_calendar_means_no_limit() -> None:
    config = Config(newsletter=NewsletterSettings(lookback_days=10**9))
    old = datetime(1999, 1, 1, tzinfo=UTC)
    entry = Entry(key="k", title="t", url="u", source="s", feed_url="f", published=old)
    feed = Feed(url="f", status=FeedStatus.OK, entries=(entry,))
    with State(":memory:") as state:
        assert select([feed], state, config, datetime.now(UTC)).entries == (entry,)


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_config_that_is_not_a_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "config.toml"
    if kind == "fifo":
        os.mkfifo(path)  # reading it would block forever
    elif kind == "directory":
        path.mkdir()
    else:
        path = Path("/dev/zero")  # endless
    code, output = run("build", "-c", str(path))
    assert code == 2 and "not a regular file" in one_line(output)


def test_a_config_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[newsletter]\ntitle = "Caf\xe9"\n')
    code, output = run("build", "-c", str(path))
    assert code == 2 and "not UTF-8" in one_line(output)


# The state file -----------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_a_damaged_state_file_is_one_line(tmp_path: Path, write_config: ConfigWriter) -> None:
    path = write_config("feed.xml")
    state = Path(os.environ["DIGEST_STATE"])
    state.write_bytes(b"this is no database " * 200)
    for args in (["subscribers", "list"], ["build"], ["subscribers", "export"]):
        code, output = run(*args, "-c", str(path))
        assert code == 1, output
        assert "is damaged" in one_line(output)
    assert state.read_bytes().startswith(b"this is no database")  # left for the operator


@pytest.mark.sqlite_only
def test_a_locked_state_file_is_one_line(
    write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config("feed.xml")
    with State(os.environ["DIGEST_STATE"]):
        pass
    holder = sqlite3.connect(os.environ["DIGEST_STATE"], isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(engine, "BUSY_TIMEOUT", 0.3)
    try:
        code, output = run("subscribers", "add", "reader@example.org", "-c", str(path))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1 and "locked by another digest process" in one_line(output)
    code, _ = run("subscribers", "add", "reader@example.org", "-c", str(path))
    assert code == 0  # nothing was lost: it works once the other lets go


# CSV in ------------------------------------------------------------------------------


def test_a_latin1_csv_is_one_line_and_nothing_imported(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    path = write_config("feed.xml")
    csv_file = tmp_path / "list.csv"
    csv_file.write_bytes("email,name\nzoe@example.org,Zoé\nbob@example.org,Bob\n".encode("latin-1"))
    code, output = run("subscribers", "import", str(csv_file), "-c", str(path))
    assert code == 1 and "not UTF-8" in one_line(output)
    with State(os.environ["DIGEST_STATE"]) as state:
        assert state.subscribers() == []


def test_a_huge_field_is_one_line(tmp_path: Path, write_config: ConfigWriter) -> None:
    path = write_config("feed.xml")
    csv_file = tmp_path / "list.csv"
    csv_file.write_text(f'email,name\nzoe@example.org,"{"x" * 200_000}"\n', encoding="utf-8")
    code, output = run("subscribers", "import", str(csv_file), "-c", str(path))
    assert code == 1 and "line" in one_line(output) and "nothing imported" in output


def test_a_fifo_as_csv_is_refused(tmp_path: Path, write_config: ConfigWriter) -> None:
    path = write_config("feed.xml")
    os.mkfifo(tmp_path / "list.csv")
    code, output = run("subscribers", "import", str(tmp_path / "list.csv"), "-c", str(path))
    assert code == 1 and "not a regular file" in one_line(output)


# Tokens --------------------------------------------------------------------------------


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.one_of(st.text(), st.from_regex(r"\A[0-9²³¹٣]{0,40}-[^\n]{0,80}\Z")))
def test_any_malformed_token_is_refused_cleanly(tmp_path: Path, token: str) -> None:
    with State(":memory:") as state:
        subscribers.add(state, "reader@example.org")
        with pytest.raises(SubscriberError, match="matches no subscriber"):
            subscribers.check_token(state, SECRET, token)


@pytest.mark.parametrize("token", ["²-abc", "9" * 5000 + "-abc", "1-é", "1-\x00", "-", ""])
def test_malformed_tokens_on_the_command_line(
    write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET.decode())
    path = write_config("feed.xml")
    code, output = run("subscribers", "remove", token or " ", "-c", str(path))
    assert code == 1 and "matches no subscriber" in one_line(output)


# CSV out and listings ---------------------------------------------------------------------


def test_export_neutralises_formulas(tmp_path: Path) -> None:
    with State(tmp_path / "s.sqlite") as state:
        subscribers.add(state, "=1+2@example.org", '=HYPERLINK("http://evil.example","x")')
        subscribers.add(state, "bob@example.org", "@SUM(A1:A9)")
        subscribers.add(state, "eve@example.org", "-2+3")
        subscribers.add(state, "ann@example.org", "'=already quoted")
        target = io.StringIO()
        subscribers.export_csv(state.subscribers(), target)
    rows = target.getvalue().splitlines()[1:]
    assert rows[0].startswith("'=1+2@example.org,\"'=HYPERLINK(")
    assert rows[1] == rows[1].replace(",@SUM", ",'@SUM")
    assert ",'@SUM(A1:A9)," in rows[1] and ",'-2+3," in rows[2]
    assert ",''=already quoted," in rows[3]
    for row in rows:
        for cell in row.split(","):
            assert not cell.lstrip('"').startswith(("=", "+", "-", "@", "\t", "\r"))


names = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40).map(
    lambda s: " ".join(s.split())
)
hostile = st.one_of(names, st.sampled_from(["=cmd|'/c calc'!A1", "+1", "-1", "@x", "'=x", "''+y"]))
locals_ = st.from_regex(r"\A[=+\-@'a-z0-9]{1,12}\Z").filter(lambda s: not s.startswith("."))


@settings(max_examples=60, deadline=None)
@given(people=st.lists(st.tuples(locals_, hostile), min_size=1, max_size=8))
def test_export_then_import_gives_back_every_name_and_address(
    people: list[tuple[str, str]],
) -> None:
    with State(":memory:") as source:
        for n, (local, name) in enumerate(people):
            try:
                subscribers.add(source, f"{local}{n}@example.org", name)
            except SubscriberError:  # not an address email-validator takes: not on the list
                continue
        before = [(s.email, s.name) for s in source.subscribers()]
        exported = io.StringIO()
        subscribers.export_csv(source.subscribers(), exported)
    with State(":memory:") as target:
        subscribers.import_csv(target, io.StringIO(exported.getvalue()))
        after = [(s.email, s.name) for s in target.subscribers()]
    assert after == before


def test_list_strips_terminal_escapes(
    write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest.cli.common import out

    monkeypatch.setattr(out, "width", 240)  # the whole name on one line
    path = write_config("feed.xml")
    with State(os.environ["DIGEST_STATE"]) as state:
        subscribers.add(state, "eve@example.org", "\x1b]0;pwned\x07\x1b[2J\x1b[31mEve\u202e\x9b")
    code, output = run("subscribers", "list", "-c", str(path))
    assert code == 0
    assert "Eve" in output
    for bad in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert bad not in output


def test_an_unreachable_database_is_one_line(
    write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config("feed.xml")
    url = f"postgresql://digest@127.0.0.1:{free_port()}/digest"
    monkeypatch.setenv("DIGEST_STATE", url)
    with pytest.raises(StateError, match=r"^state database postgresql://digest@127\.0\.0\.1"):
        State(url)
    result = CliRunner().invoke(app, ["subscribers", "list", "-c", str(path)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "state database" in result.output
