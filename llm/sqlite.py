"""SQLite conventions shared by palaestra's stores: opening, versions, transactions, errors.

The stores that keep what agents learn (the memory store, :mod:`palaestra.memory.store`; the
skill library, :mod:`palaestra.skills`; bench records) live on the second floor and above,
and may not import each other; this module is their one implementation of DESIGN.md's store
conventions, kept in :mod:`palaestra.llm` beside the embedders those stores index with (it
imports nothing of palaestra and only the standard library).

Glossary:
    store: one SQLite database file that a palaestra component owns (the memory store, the
        skill library, bench records).
    schema version: the layout a file holds, kept in ``PRAGMA user_version`` (an integer in
        the database header that SQLite changes inside transactions, so a migration and its
        version number commit together). A file that was never versioned reads as 0.
    migration: a step from version ``n - 1`` to ``n``: an SQL script or a function of the
        connection. ``migrations[n - 1]`` produces version ``n``.
    application id: ``PRAGMA application_id``, a 32-bit tag in the header naming which kind
        of store a file is, so that one store never adopts another's file.

Opening (:func:`open_database`) does, in order:

1. refuse a file that is not a SQLite database: one whose first 16 bytes are not SQLite's
   header (``CorruptStoreError``, naming the file); an empty or missing file is a new store;
2. read the version and the application id; a version newer than the code's is refused with
   :class:`StoreVersionError` (naming the file, its version and the supported one) before
   anything is written; a file tagged for another kind of store is refused;
3. run ``PRAGMA quick_check`` (a file truncated or damaged gives :class:`CorruptStoreError`);
   it reads every page, which is cheap for bounded stores;
4. set ``journal_mode=WAL`` when the file is not yet in WAL mode (at creation, or for an older
   file from before WAL); WAL is persistent, so every later connection finds it; readers
   never block the writer and see only committed transactions;
5. per connection: ``synchronous`` (``FULL`` by default: a transaction whose ``COMMIT`` has
   returned survives a process kill and a power loss; ``NORMAL`` survives a process kill only),
   ``foreign_keys=ON``, a busy timeout (writers wait for each other instead of failing) and a
   ``journal_size_limit`` that keeps the WAL file from growing past a checkpoint;
6. apply the missing migrations inside one ``BEGIN IMMEDIATE`` transaction, re-reading the
   version under the write lock (two processes opening a new store migrate it once); if any
   step raises, nothing of the migration stays, the version included.

Connections run in autocommit mode (``isolation_level=None``): each statement outside a
transaction commits alone; :func:`write_transaction` (``BEGIN IMMEDIATE``) and
:func:`read_transaction` (``BEGIN``, one consistent snapshot) group statements.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = [
    "SQLITE_HEADER",
    "SYNCHRONOUS_MODES",
    "CorruptStoreError",
    "Migration",
    "MissingRecordError",
    "StoreError",
    "StoreVersionError",
    "application_id",
    "file_bytes",
    "open_database",
    "read_transaction",
    "schema_version",
    "write_transaction",
]

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite 3 database file."""
SYNCHRONOUS_MODES: tuple[str, ...] = ("NORMAL", "FULL")

Migration = str | Callable[[sqlite3.Connection], None]
"""An SQL script (run statement by statement inside the migration's transaction, never with
``executescript``, which would commit it early) or a function of the connection."""


class StoreError(ValueError):
    """A store cannot be opened or used as asked; the message names the file."""


class StoreVersionError(StoreError):
    """The file's schema version is newer than this code supports."""


class CorruptStoreError(StoreError):
    """The file is not a SQLite database, or fails SQLite's integrity check."""


class MissingRecordError(StoreError):
    """A record asked for by id is not in the store (never stored, removed or evicted)."""


def application_id(tag: str) -> int:
    """The ``PRAGMA application_id`` for a four-character ASCII tag (big-endian bytes)."""
    raw = tag.encode("ascii")
    if len(raw) != 4:
        raise ValueError(f"an application tag has 4 ASCII characters, got {tag!r}")
    return int.from_bytes(raw, "big", signed=True)


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version a connection's database holds (``PRAGMA user_version``)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def file_bytes(path: str | os.PathLike[str]) -> dict[str, int]:
    """Sizes in bytes of a database file and its WAL file (0 for a missing file)."""
    path = Path(path)
    wal = path.with_name(path.name + "-wal")
    return {
        "file_bytes": path.stat().st_size if path.exists() else 0,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
    }


def _check_header(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_HEADER))
    if head != SQLITE_HEADER:
        raise CorruptStoreError(f"{path} is not a SQLite database (its header is {head[:16]!r})")


def _is_lock_error(err: sqlite3.Error) -> bool:
    text = str(err).lower()
    return isinstance(err, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def _set_wal(conn: sqlite3.Connection, path: Path, timeout: float) -> None:
    """Switch the file to WAL, retrying while another process holds a lock."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            mode = str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as err:
            if not _is_lock_error(err) or time.monotonic() > deadline:
                raise StoreError(f"cannot set WAL mode on {path}: {err}") from err
            time.sleep(0.01)
            continue
        if mode != "wal":
            raise StoreError(f"{path} refused WAL mode (journal mode stays {mode!r})")
        log.debug("set WAL mode on %s", path)
        return


def _apply(conn: sqlite3.Connection, step: Migration) -> None:
    if callable(step):
        step(conn)
        return
    # executescript would commit the open transaction first; run the statements one by one.
    buffer = ""
    for line in step.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            conn.execute(buffer)
            buffer = ""
    if buffer.strip():
        raise ValueError(f"migration script ends inside a statement: {buffer.strip()[:80]!r}")


def open_database(
    path: str | os.PathLike[str],
    migrations: Sequence[Migration],
    *,
    app_id: int | None = None,
    timeout: float = 30.0,
    synchronous: str = "FULL",
    journal_size_limit: int = 8 * 1024 * 1024,
    check: bool = True,
) -> sqlite3.Connection:
    """Open (or create) a store's database file and bring it to the newest schema version.

    Args:
        path: the database file; its folder must exist.
        migrations: ``migrations[n - 1]`` turns version ``n - 1`` into version ``n``; the code's
            version is ``len(migrations)``.
        app_id: the store kind's application id (:func:`application_id`), written at creation;
            a file carrying a different nonzero id is refused. ``None`` checks nothing.
        timeout: seconds a statement waits for another connection's write lock.
        synchronous: ``"FULL"`` (committed transactions survive a power loss) or ``"NORMAL"``
            (they survive a crash of the process; faster).
        journal_size_limit: bytes the WAL file is cut back to after a checkpoint.
        check: run ``PRAGMA quick_check`` before anything else touches the file.

    Returns:
        A connection in autocommit mode, usable from any thread (callers serialise use).

    Raises:
        CorruptStoreError: the file is not a SQLite database or fails the check.
        StoreVersionError: the file's version is newer than ``len(migrations)``.
        StoreError: another kind of store's file, or WAL mode refused.
    """
    path = Path(path)
    if synchronous not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}, got {synchronous!r}")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
    _check_header(path)
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        _prepare(conn, path, migrations, app_id, timeout, synchronous, journal_size_limit, check)
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(
    conn: sqlite3.Connection,
    path: Path,
    migrations: Sequence[Migration],
    app_id: int | None,
    timeout: float,
    synchronous: str,
    journal_size_limit: int,
    check: bool,
) -> None:
    target = len(migrations)
    try:
        version = schema_version(conn)
        found_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        problems = [] if not check else [r[0] for r in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as err:
        if _is_lock_error(err):
            raise StoreError(f"{path} stayed locked for {timeout} s: {err}") from err
        raise CorruptStoreError(f"{path} is not a usable SQLite database: {err}") from err
    if problems and problems != ["ok"]:
        shown = "; ".join(str(p) for p in problems[:3])
        raise CorruptStoreError(f"{path} failed PRAGMA quick_check: {shown}")
    if version > target:
        raise StoreVersionError(
            f"{path} has schema version {version}, newer than the supported version {target}; "
            "open it with a newer palaestra"
        )
    if app_id is not None and found_id not in (0, app_id):
        raise StoreError(
            f"{path} belongs to another kind of store (application_id {found_id}, "
            f"expected {app_id})"
        )
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        _set_wal(conn, path, timeout)
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    conn.execute(f"PRAGMA journal_size_limit={int(journal_size_limit)}")
    if version < target or (app_id is not None and found_id != app_id):
        _migrate(conn, path, migrations, app_id)


def _migrate(
    conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration], app_id: int | None
) -> None:
    target = len(migrations)
    with write_transaction(conn):
        version = schema_version(conn)  # another process may have migrated meanwhile
        if version > target:
            raise StoreVersionError(
                f"{path} has schema version {version}, newer than the supported version {target}"
            )
        for number in range(version + 1, target + 1):
            log.info("migrating %s to schema version %d", path, number)
            _apply(conn, migrations[number - 1])
        conn.execute(f"PRAGMA user_version={target}")
        if app_id is not None:
            conn.execute(f"PRAGMA application_id={app_id}")


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read-modify-write transaction: ``BEGIN IMMEDIATE``, then ``COMMIT`` or ``ROLLBACK``.

    ``BEGIN IMMEDIATE`` takes the write lock at the start (waiting up to the busy timeout
    while another connection holds it), so what the block reads cannot change before it
    writes. The block's changes commit together when it ends, or none of them do when it
    raises (the exception propagates).

    Args:
        conn: a connection in autocommit mode with no transaction open.
    """
    if conn.in_transaction:
        raise StoreError("a transaction is already open on this connection")
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction: every statement in the block sees one committed snapshot."""
    if conn.in_transaction:
        raise StoreError("a transaction is already open on this connection")
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
