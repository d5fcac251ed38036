"""A throwaway PostgreSQL cluster for the tests and benches: Debian's server binaries,
a fresh data folder, trust authentication on a loopback port, gone when stopped.

`DIGEST_TEST_POSTGRES` (a server URL such as `postgresql://postgres@127.0.0.1:5432`)
uses a running server instead. Each test gets a schema of its own in one database
(`new_schema`): creating one takes milliseconds, a database a quarter of a second.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from testkit.net import free_port


def server_binaries() -> Path | None:
    """The newest Debian PostgreSQL `bin/` folder, or None when the server is not installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts)
    return found[-1].parent if found else None


def available() -> str | None:
    """Why no PostgreSQL can be had here, or None when one can."""
    if os.environ.get("DIGEST_TEST_POSTGRES"):
        return None
    if server_binaries() is None:
        return "PostgreSQL is not installed (apt-get install postgresql)"
    return None


@contextmanager
def cluster(durable: bool = False) -> Iterator[str]:
    """Yield the URL of a server (no database part); a new cluster unless one is given.

    Not `durable`: no fsync, as suits a cluster thrown away after the tests.
    """
    given = os.environ.get("DIGEST_TEST_POSTGRES")
    if given:
        yield given.rstrip("/")
        return
    binaries = server_binaries()
    if binaries is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="digest-pg-"))
    data = folder / "data"
    # initdb refuses to run as root: the cluster then belongs to Debian's postgres user.
    as_user: list[str] = []
    user = "postgres"
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    else:
        user = pwd.getpwuid(os.geteuid()).pw_name
    port = free_port()
    subprocess.run(
        [*as_user, str(binaries / "initdb"), "-D", str(data), "-U", user, "--auth=trust",
         "-E", "UTF8", "--locale=C.UTF-8"],
        check=True, capture_output=True,
    )  # fmt: skip
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c max_connections=300"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        [*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-w",
         "-l", str(folder / "log"), "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql://{user}@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def new_database(server: str) -> str:
    """Create an empty database on `server` and return its URL."""
    import psycopg

    name = f"digest_{uuid.uuid4().hex[:12]}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            return f"{server}/{name}"
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def new_schema(database: str) -> str:
    """Create an empty schema in `database` and return a URL whose tables live in it."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return f"{database}?options=-csearch_path%3D{name}"


def main(argv: list[str]) -> int:
    """`python -m testkit.postgres COMMAND…`: run COMMAND with DIGEST_TEST_POSTGRES set to a
    throwaway cluster started for it, and stop the cluster after."""
    if not argv:
        sys.stderr.write("usage: python -m testkit.postgres COMMAND [ARG...]\n")
        return 2
    with cluster() as server:
        sys.stderr.write(f"PostgreSQL for the tests: {server}\n")
        return subprocess.run(argv, env={**os.environ, "DIGEST_TEST_POSTGRES": server}).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
