"""`digest state copy`: every row moves between engines, and numbering goes on after it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.errors import StateError
from digest.mail import subscribers
from digest.models import Fetched, Validators
from digest.store import State
from digest.store.schema import TABLES


def _fill(state: State) -> None:
    for n in range(3):
        subscribers.add(state, f"Reader{n}@Example.org", f"R {n}")
    subscribers.remove(state, "reader1@example.org")
    state.record_issue("2026-11-26", [("k1", "A story", "https://example.org/a")])
    state.remember_response(
        Fetched(
            url="https://example.org/feed",
            final_url="https://example.org/feed",
            content=b"\x00<rss/>\xff",
            content_type="text/xml",
            validators=Validators('"etag"', None),
        )
    )
    state.enqueue("2026-11-26", everyone=True)
    state.set_schedule_value("last_due", "2026-11-26T12:00:00+00:00")
    state.next_slot("smtp", 0.1)


def _rows(state: State) -> dict[str, list[tuple[object, ...]]]:
    return {
        table: sorted(map(tuple, state.db.execute(f"SELECT * FROM {table}")), key=repr)
        for table in TABLES
    }


def test_a_file_moves_to_postgresql_and_back(tmp_path: Path, pg_state: str) -> None:
    with State(tmp_path / "old.sqlite") as source, State(pg_state) as target:
        _fill(source)
        counts = source.copy_to(target)
        assert counts["subscribers"] == 3 and counts["send_log"] == 2
        assert _rows(target) == _rows(source)
        assert target.cached_response("https://example.org/feed").content == b"\x00<rss/>\xff"  # type: ignore[union-attr]
        assert target.subscriber("READER0@example.org") is not None  # any case, still
        new = subscribers.add(target, "late@example.org")
        assert new.id == 4  # numbering goes on after the copied rows
        with pytest.raises(StateError, match="copy into an empty state"):
            source.copy_to(target)
        with State(tmp_path / "back.sqlite") as back:
            target.copy_to(back)
            assert _rows(back) == _rows(target)


def test_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[newsletter]\ntitle = "T"\n', encoding="utf-8")
    monkeypatch.setenv("DIGEST_STATE", str(tmp_path / "state.sqlite"))
    with State(tmp_path / "state.sqlite") as state:
        _fill(state)
    copied = tmp_path / "copy.sqlite"
    result = CliRunner().invoke(app, ["state", "copy", str(copied), "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "3 subscribers" in result.output and "1 stories" in result.output
    again = CliRunner().invoke(app, ["state", "copy", str(copied), "-c", str(config)])
    assert again.exit_code == 1 and "already holds" in again.output


def test_both_engines_count_the_same_addresses_as_one(tmp_path: Path, pg_state: str) -> None:
    addresses = ["Ann@Example.org", "ann@example.ORG", "Éva@example.org", "éva@example.org"]
    for target in (str(tmp_path / "s.sqlite"), pg_state):
        with State(target) as state, state.transaction():
            added, already, _ = state.import_rows(
                ((n, a, "") for n, a in enumerate(addresses)), ("unsubscribed",), "test"
            )
            assert (added, already) == (3, 1)  # ASCII case folds; other letters do not
            ann, upper, lower = (
                state.subscriber(a)
                for a in ("ANN@example.org", "ÉVA@example.org", "éVA@example.org")
            )
            assert ann is not None and upper is not None and upper.email == "Éva@example.org"
            assert lower is not None and lower.email == "éva@example.org"
