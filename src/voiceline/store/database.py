"""The SQLite connection behind a :class:`~voiceline.store.Store`: pragmas, lock, transactions.

One connection per store, in autocommit mode; writes run in ``BEGIN IMMEDIATE``
transactions so that the write lock is taken up front (a second process waits up to
``busy_timeout_ms`` instead of failing half-way). An internal lock serialises use of the
connection, so a store created on one thread may be used from another (the server's
worker thread), though not from several at the same time with any benefit.
"""

from __future__ import annotations

import calendar
import glob
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from voiceline.store.errors import SchemaError
from voiceline.store.schema import MIGRATIONS, schema_version, upgrade

DEFAULT_BUSY_TIMEOUT_MS = 5000
MEMORY = ":memory:"
#: The UTC time in the name of the copy an upgrade keeps, ``<store>.schema<version>-<time>
#: [-<n>].bak`` (:meth:`Store._keep_copy`).
COPY_STAMP = "%Y%m%dT%H%M%SZ"
_COPY_NAME = re.compile(r"\.schema\d+-(\d{8}T\d{6}Z)(?:-\d+)?\.bak")


def upgrade_copies(path: str | Path) -> list[tuple[Path, float]]:
    """The copies upgrades kept beside the store at ``path``, each with the time it was
    made (UTC seconds, from its name), oldest first."""
    path = Path(path)
    found = []
    for copy in path.parent.glob(f"{glob.escape(path.name)}.schema*.bak"):
        match = _COPY_NAME.fullmatch(copy.name[len(path.name):])
        if not (match and copy.is_file()):
            continue
        try:  # a name that only looks like one (month 13) is not an upgrade's copy
            made = calendar.timegm(time.strptime(match.group(1), COPY_STAMP))
        except ValueError:
            continue
        found.append((copy, float(made)))
    return sorted(found, key=lambda item: (item[1], item[0].name))


class Database:
    """An open SQLite file at the current schema version.

    Parameters
    ----------
    path : str or Path
        The database file; created if absent (its directory must exist). ``":memory:"``
        gives a private in-memory store without WAL (for tests).
    busy_timeout_ms : int
        How long a write waits for another connection's write lock before failing.
    migrate : bool
        Upgrade an older file to the current schema (default); False leaves it as it is.
    before_upgrade : callable, optional
        ``before_upgrade(version)`` is called before an existing file of an older
        ``version`` is upgraded, and may refuse by raising (the command line refuses
        while a server of the release that wrote it runs on it).

    Before an existing file is upgraded, a copy of it as it was is written beside it,
    ``<name>.schema<N>-<UTC stamp>.bak`` (owner-only, as the store): the way back to
    the release that wrote it. ``upgraded`` then says ``(from, to, copy path)``.
    """

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
                 migrate: bool = True,
                 before_upgrade: Callable[[int], None] | None = None):
        self.path = str(path)
        if self.path != MEMORY:
            parent = Path(self.path).expanduser().resolve().parent
            if not parent.is_dir():
                raise FileNotFoundError(f"cannot create the store {self.path}: directory "
                                        f"{parent} does not exist; create it first")
            if Path(self.path).is_dir():
                raise SchemaError(f"cannot open {self.path} as a Voiceline store: it is a "
                                  "directory")
        self._lock = threading.RLock()
        new = self.path != MEMORY and not Path(self.path).exists()
        if new:  # password and token hashes, the audit log: the owner's alone (SQLite
            # gives its WAL and shared-memory files the same mode); was 0644
            Path(self.path).touch(mode=0o600)
        try:
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout_ms / 1000,
                                         isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:  # unreadable: permissions, a broken path
            raise SchemaError(f"cannot open {self.path} as a Voiceline store: {error}") \
                from None
        try:
            self._conn.row_factory = sqlite3.Row
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self.journal_mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            current = schema_version(self._conn)
            # ``migrate=False`` (backup, reading the audit log): an older file stays as
            # its Voiceline wrote it, so that the backup taken before an upgrade can be
            # restored under the old version (an audit found both upgraded it); a newer
            # file is refused all the same, and a new one is made whole.
            older = 0 < current < len(MIGRATIONS)
            keep = not migrate and older
            self.upgraded: tuple[int, int, str] | None = None
            if migrate and older and self.path != MEMORY:
                if before_upgrade is not None:
                    before_upgrade(current)
                self.upgraded = (current, len(MIGRATIONS), self._keep_copy(current))
            self.schema_version = upgrade(self._conn, MIGRATIONS,
                                          target=current if keep else None, name=self.path)
        except sqlite3.DatabaseError as error:
            self._conn.close()
            raise SchemaError(f"cannot open {self.path} as a Voiceline store: {error}") \
                from None
        except BaseException:
            self._conn.close()
            raise

    def _keep_copy(self, version: int) -> str:
        """A consistent copy of the file as it is (SQLite's online backup), beside it."""
        import os

        stamp = time.strftime(COPY_STAMP, time.gmtime())
        copy = f"{self.path}.schema{version}-{stamp}.bak"
        n = 1
        while os.path.exists(copy):
            n += 1
            copy = f"{self.path}.schema{version}-{stamp}-{n}.bak"
        Path(copy).touch(mode=0o600)
        target = sqlite3.connect(copy)
        try:
            self._conn.backup(target)
        finally:
            target.close()
        return copy

    def close(self) -> None:
        """Close the connection; calling it again does nothing."""
        with self._lock:
            self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success, rolled back on any exception."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def backup_to(self, target: str | Path) -> dict:
        """Write a consistent copy of the whole store to ``target`` (a new file).

        SQLite's online backup, in one step: it reads one snapshot, and in WAL mode a
        reader never blocks a writer, so a running server carries on writing while it
        is taken (its later writes are not in the copy). The copy is checked
        (``PRAGMA quick_check``) before this returns.

        Returns ``{"bytes", "schema_version", "rows": {table: count}}`` of the copy.

        Raises
        ------
        FileExistsError
            ``target`` exists (a backup never overwrites).
        SchemaError
            The copy fails its check.
        """
        target = Path(target)
        if target.exists():
            raise FileExistsError(f"{target} exists; a backup never overwrites")
        target.touch(mode=0o600)  # as the store itself: the owner's alone
        copy = sqlite3.connect(target)
        try:
            with self._lock:
                self._conn.backup(copy)
            check = copy.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise SchemaError(f"the copy {target} failed its check: {check}")
            copy.execute("PRAGMA journal_mode = WAL")
            tables = [r[0] for r in copy.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                "'sqlite_%' ORDER BY name")]
            rows = {t: copy.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                    for t in tables}
            version = copy.execute("PRAGMA user_version").fetchone()[0]
        finally:
            copy.close()
        return {"bytes": target.stat().st_size, "schema_version": version, "rows": rows}

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """The connection, for read-only statements (each sees the latest commit)."""
        with self._lock:
            yield self._conn


def where(*conditions: tuple[str, object]) -> tuple[str, list]:
    """A ``WHERE`` clause of the conditions whose value is not ``None``, and its parameters.

    Each condition is ``("column op ?", value)``; leaving unused filters out of the SQL
    (rather than ``? IS NULL OR ...``) lets SQLite use the indexes.
    """
    used = [(sql, value) for sql, value in conditions if value is not None]
    if not used:
        return "", []
    return " WHERE " + " AND ".join(sql for sql, _ in used), [value for _, value in used]
