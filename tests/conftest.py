"""Shared fixtures: state in a temp dir, a config writer, the corpus location."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from testkit import postgres as testkit_postgres
from tests.mailserver import PASSWORD, SECRET, Mailserver, start_server
from tests.readers import SECRET as READER_SECRET
from tests.readers import Catcher, Running, reader_site, start_smtp

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DIGEST_CORPUS", REPO.parent / "shared" / "corpus"))


ENGINE = os.environ.get("DIGEST_TEST_ENGINE", "sqlite")
"""The engine every test's state uses: "sqlite" (a file), or "postgresql" (a schema)."""


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A database on a throwaway PostgreSQL cluster; skips where none can be had."""
    reason = testkit_postgres.available()
    if reason:
        pytest.skip(reason)
    with testkit_postgres.cluster() as server:
        yield testkit_postgres.new_database(server)


@pytest.fixture(autouse=True)
def _isolated_state(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own state, never the developer's: a file, or a fresh schema."""
    if ENGINE == "postgresql":
        if request.node.get_closest_marker("sqlite_only"):
            pytest.skip("about the SQLite file itself")
        database = request.getfixturevalue("postgres")
        monkeypatch.setenv("DIGEST_STATE", testkit_postgres.new_schema(database))
    else:
        monkeypatch.setenv("DIGEST_STATE", str(tmp_path / "state.sqlite"))


@pytest.fixture
def pg_state(postgres: str) -> str:
    """A fresh PostgreSQL state URL whatever DIGEST_TEST_ENGINE says (for PostgreSQL's own
    behaviour: COPY, advisory locks, SKIP LOCKED)."""
    return testkit_postgres.new_schema(postgres)


@pytest.fixture
def corpus() -> Path:
    """The shared corpus of real public data; tests using it skip where it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (set DIGEST_CORPUS to its path)")
    return CORPUS


ConfigWriter = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path) -> ConfigWriter:
    """Write a config.toml for the given feed URLs; extra sections as TOML text."""

    def write(*feeds: str, extra: str = "", newsletter: str = "", **feed_keys: str) -> Path:
        lines = [
            "[newsletter]",
            'title = "Test Insider"',
            "lookback_days = 0",
            'unsubscribe = "mailto:leave@example.com"',
            newsletter,
            "",
        ]
        for url in feeds:
            lines += ["[[feeds]]", f'url = "{url}"']
            lines += [f'{k} = "{v}"' for k, v in feed_keys.items()]
            lines.append("")
        lines += ["[fetch]", "timeout = 5", "", extra]
        path = tmp_path / "config.toml"
        path.write_text("\n".join(lines), encoding="utf-8")
        return path

    return write


# The mail tests' SMTP server ------------------------------------------------


@pytest.fixture(scope="module")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


@pytest.fixture
def server(tls_ca: tuple[trustme.CA, Path]) -> Iterator[Mailserver]:
    yield from start_server(*tls_ca)


@pytest.fixture
def mail_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", SECRET)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", PASSWORD)


# The readers' side (`digest serve`, bounces): a catching SMTP server and the app ------


@pytest.fixture
def reader_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_UNSUBSCRIBE_SECRET", READER_SECRET)


@pytest.fixture
def smtp() -> Iterator[tuple[Catcher, int]]:
    yield from start_smtp()


@pytest.fixture
def site(tmp_path: Path, smtp: tuple[Catcher, int]) -> Iterator[Running]:
    """`digest serve` on a free loopback port, mailing through `smtp`."""
    yield from reader_site(tmp_path, smtp[1])
