"""Opening the state: connect, upgrade the schema, transactions and named locks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path

from digest.errors import DigestError, StateError
from digest.store.engine import Engine, connect, database_errors, hide_password
from digest.store.failures import one_line_errors, state_error
from digest.store.schema import IDENTITY, MIGRATIONS, TABLES


@one_line_errors
class Connection:
    """One connection to the state, its schema brought up to date on opening."""

    def __init__(self, target: Path | str) -> None:
        self.target = target
        self.where = hide_password(str(target))
        try:
            self.db: Engine = connect(target)
        except database_errors() as e:
            raise state_error(self.where, e) from None
        except OSError as e:
            raise StateError(f"state file {target}: {e.strerror or e}") from None
        try:
            self._migrate()
        except BaseException:
            self.db.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        if self.db.schema_version() == len(MIGRATIONS):
            return
        # The version is read again under the write lock: two processes opening a
        # new store at once would otherwise both create its tables.
        with self.transaction():
            self.db.serialise("schema")
            version = self.db.schema_version()
            if version > len(MIGRATIONS):
                raise DigestError(
                    f"state {self.where} was written by a newer digest (schema {version})"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in self.db.ddl(script):
                    self.db.execute(statement)
                self.db.set_schema_version(number)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing; inside another transaction, part of that one."""
        if self.db.in_transaction():
            yield
            return
        with self._begun(keep=True):
            yield

    def scratch(self) -> AbstractContextManager[None]:
        """A transaction always rolled back: to ask "what if" without writing anything."""
        return self._begun(keep=False)

    @contextmanager
    def _begun(self, *, keep: bool) -> Iterator[None]:
        try:
            self.db.begin()
        except database_errors() as e:
            raise state_error(self.where, e) from None
        try:
            yield
        except BaseException:
            self._roll_back()
            raise
        if not keep:
            self._roll_back()
            return
        try:
            self.db.execute("COMMIT")
        except database_errors() as e:
            raise state_error(self.where, e) from None

    def _roll_back(self) -> None:
        if self.db.in_transaction():
            with suppress(*database_errors()):
                self.db.execute("ROLLBACK")

    def lock(
        self, name: str, wait: float = 0.0, *, discard: bool = False
    ) -> AbstractContextManager[None]:
        """A named lock shared by every process on this state (LockedError after `wait` s).

        It dies with its holder, kill -9 included: a crash never leaves one behind.
        `discard`: a lock only this holder takes (nobody waits for it), tidied away after.
        """
        return self.db.lock(name, wait, discard)

    def held_elsewhere(self, name: str, *, discard: bool = False) -> bool:
        """Whether another living process holds the lock `name` (`discard`: as for `lock`)."""
        return self.db.held_elsewhere(name, discard)

    def copy_to(self, target: Connection) -> dict[str, int]:
        """Every row of this state into `target`, which must hold none: rows per table.

        Streamed table by table (COPY into PostgreSQL), in one transaction of the target.
        """
        with target.transaction():
            for table in TABLES:
                if target.db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
                    raise StateError(
                        f"{target.where} already holds {table}: copy into an empty state"
                    )
            counts = {}
            for table in TABLES:
                cursor = self.db.execute(f"SELECT * FROM {table}")
                columns = [column[0] for column in cursor.description]
                counts[table] = target.db.copy_rows(table, columns, cursor)
                if table in IDENTITY:
                    target.db.renumber(table, IDENTITY[table])
        return counts
