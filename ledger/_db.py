"""Database specifics under the entry store: SQLite and PostgreSQL.

The write path of events goes through eventsourcing (``Application.save``); this module holds what
eventsourcing does not do for us:

- a durable SQLite persistence factory (every connection in WAL mode with ``synchronous=FULL``, and
  the events table named ``claimledger_events`` as on PostgreSQL);
- the read queries of the store, in raw SQL over the recorder's own datastore (one round trip for
  many version ranges, no per-row object churn);
- the store's own tables: ``claimledger_merkle_nodes`` (a projection), ``claimledger_meta``, the
  checkpoints the log signed (``claimledger_checkpoints``) and those its witnesses cosigned to the
  server's policy's quorum (``claimledger_cosigned_checkpoints``, created at open when absent, so
  a ledger made before it keeps its storage format).

Every method here may raise eventsourcing, ``sqlite3`` or ``psycopg`` errors; ``ledger._store``
wraps them. The PostgreSQL half lives in ``ledger._db_postgres``, imported only when a ledger on
PostgreSQL is opened: psycopg and eventsourcing's PostgreSQL module are a fifth of the CLI's start.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
    SQLiteFactory,
)

if TYPE_CHECKING:  # loaded only with a PostgreSQL ledger (ledger._db_postgres)
    from eventsourcing.postgres import PostgresApplicationRecorder

__all__ = [
    "COSIGNED_TABLE",
    "EVENTS_TABLE",
    "META_TABLE",
    "NODES_TABLE",
    "SNAPSHOTS_TABLE",
    "Backend",
    "DurableSQLiteFactory",
    "Row",
    "SQLiteBackend",
]

EVENTS_TABLE: Final = "claimledger_events"
NODES_TABLE: Final = "claimledger_merkle_nodes"
META_TABLE: Final = "claimledger_meta"
CHECKPOINTS_TABLE: Final = "claimledger_checkpoints"
COSIGNED_TABLE: Final = "claimledger_cosigned_checkpoints"
SNAPSHOTS_TABLE: Final = "claimledger_snapshots"
SNAPSHOT_PARTS_TABLE: Final = "claimledger_snapshot_parts"

# SQLite allows 32766 host parameters since 3.32 (999 before); stay well under the old limit.
_SQLITE_CHUNK: Final = 300

Row = tuple[UUID, int, str, bytes]
"""One stored event: (originator id, originator version, topic, state)."""

SnapshotRow = tuple[int, bytes, bytes, bytes, bytes, bytes]
"""The stored snapshot: (size, root, state root, layout tag, signature, data)."""


class _DurableSQLitePool(SQLiteConnectionPool):
    """eventsourcing's pool, with ``synchronous=FULL`` set on every new connection.

    eventsourcing switches a file database to WAL but leaves ``synchronous`` at the build's default.
    In WAL mode, NORMAL does not sync the WAL at commit, so the last transactions can vanish on
    power loss after the log signed a checkpoint over them; FULL syncs at every commit.
    """

    def _create_connection(self) -> SQLiteConnection:
        conn = super()._create_connection()
        curs = conn.cursor()
        curs.execute("PRAGMA synchronous=FULL")
        curs.sqlite_cursor.close()
        return conn


class DurableSQLiteFactory(SQLiteFactory):
    """The SQLite persistence factory the store names in ``PERSISTENCE_MODULE``."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        default_pool = self.datastore.pool
        # The default pool has not connected yet (connections are made on first use).
        self.datastore.pool = _DurableSQLitePool(
            db_name=default_pool.db_name,
            lock_timeout=default_pool.lock_timeout,
            pool_size=default_pool.pool_size,
            max_overflow=default_pool.max_overflow,
            pool_timeout=default_pool.pool_timeout,
            max_age=default_pool.max_age,
            pre_ping=default_pool.pre_ping,
        )
        default_pool.close()

    def application_recorder(self) -> ApplicationRecorder:
        recorder = SQLiteApplicationRecorder(self.datastore, events_table_name=EVENTS_TABLE)
        if self.env_create_table():
            recorder.create_table()
        return recorder


class Backend(abc.ABC):
    """The raw SQL the store needs, for one kind of database."""

    _recorder: SQLiteApplicationRecorder | PostgresApplicationRecorder

    @abc.abstractmethod
    def existing_tables(self) -> set[str]:
        """Which of the three claimledger tables exist."""

    def create_tables(self, format_version: int) -> None:
        """Create every table (those present are kept) and the meta rows (if absent)."""
        self._recorder.create_table()
        self._create_own_tables(format_version)

    @abc.abstractmethod
    def _create_own_tables(self, format_version: int) -> None:
        """Create the node and meta tables (if absent) and the meta rows (if absent)."""

    @abc.abstractmethod
    def meta(self, key: str) -> int | None:
        """A value of the meta table, or None."""

    @abc.abstractmethod
    def max_version(self, originator_id: UUID) -> int:
        """The version of the last event of ``originator_id``, 0 when it has none."""

    @abc.abstractmethod
    def select_range(self, originator_id: UUID, lo: int, hi: int) -> list[Row]:
        """Events of one originator with ``lo <= version <= hi``, by version."""

    @abc.abstractmethod
    def select_ranges(self, ranges: Sequence[tuple[UUID, int, int]]) -> list[Row]:
        """Events in several (originator, lo, hi) version ranges, in no particular order."""

    @abc.abstractmethod
    def put_nodes(
        self, nodes: Iterable[tuple[int, int, bytes]], tree_size: int, checkpoint: bytes | None
    ) -> None:
        """Upsert Merkle nodes, set ``nodes_size`` and keep ``checkpoint`` (for ``tree_size``),
        all in one transaction."""

    @abc.abstractmethod
    def latest_checkpoint(self) -> bytes | None:
        """The signed checkpoint note of the largest size kept, if any."""

    @abc.abstractmethod
    def kept_checkpoint(self, max_size: int) -> tuple[int, bytes] | None:
        """The size and note of the largest kept checkpoint of at most ``max_size``, if any."""

    @abc.abstractmethod
    def keep_checkpoint(self, size: int, note: bytes) -> None:
        """Keep the signed checkpoint note of ``size`` (a note kept for that size stays)."""

    @abc.abstractmethod
    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored nodes among ``keys``."""

    @abc.abstractmethod
    def create_cosigned_table(self) -> None:
        """Create the cosigned checkpoints table if it is absent (ledgers made before it)."""

    @abc.abstractmethod
    def put_cosigned(self, size: int, note: bytes) -> None:
        """Keep the cosigned checkpoint note of ``size`` (replacing one kept for that size)."""

    @abc.abstractmethod
    def cosigned(self, size: int | None) -> bytes | None:
        """The cosigned note of ``size`` (None: of the largest size kept), if any."""

    @abc.abstractmethod
    def create_snapshot_table(self) -> None:
        """Create the snapshot table if it is absent (ledgers made before it)."""

    @abc.abstractmethod
    def put_snapshot(
        self, row: SnapshotRow, parts: Mapping[bytes, bytes], keep: Collection[bytes] | None
    ) -> None:
        """Store ``row`` as the one snapshot, replacing any other, with the ``parts`` it adds
        (SHA-256 -> bytes), and delete every part not in ``keep`` (none if it is ``None``), in one
        transaction."""

    @abc.abstractmethod
    def snapshot_parts(self, wanted: Collection[bytes] | None = None) -> set[bytes]:
        """The keys of the stored parts (of those in ``wanted``), without reading the parts."""

    @abc.abstractmethod
    def drop_snapshot(self, signature: bytes) -> None:
        """Delete the stored snapshot if it is the one with this signature (its parts stay,
        for the servers that opened from it, until a writer's next snapshot)."""

    @abc.abstractmethod
    def snapshot_part(self, digest: bytes) -> bytes | None:
        """The stored part with this key, if any."""

    @abc.abstractmethod
    def latest_snapshot(self) -> SnapshotRow | None:
        """The stored snapshot, if any."""

    @abc.abstractmethod
    def snapshot_signature(self) -> bytes | None:
        """The stored snapshot's signature (which names it), if any, without its data."""


class SQLiteBackend(Backend):
    """Raw SQL on the SQLite file behind an eventsourcing SQLite recorder."""

    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self._recorder = recorder
        self._ds: SQLiteDatastore = recorder.datastore
        t = recorder.events_table_name
        # Table names below are module constants, never input.
        self._q_max = f"SELECT MAX(originator_version) FROM {t} WHERE originator_id=?"  # noqa: S608
        self._q_range = (
            "SELECT originator_version, topic, state FROM "  # noqa: S608
            f"{t} WHERE originator_id=? AND originator_version BETWEEN ? AND ? "
            "ORDER BY originator_version"
        )
        self._q_ranges_tail = (
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "  # noqa: S608
            f"FROM r JOIN {t} AS e ON e.originator_id=r.id "
            "AND e.originator_version BETWEEN r.lo AND r.hi"
        )

    @contextmanager
    def _cursor(self, *, commit: bool) -> Iterator[Any]:
        with self._ds.transaction(commit=commit) as curs:
            yield curs.sqlite_cursor

    def pragma(self, name: str) -> Any:
        """Read a PRAGMA on a pooled connection (for tests and diagnostics)."""
        if not name.isidentifier():
            raise ValueError(name)
        with self._ds.get_connection(commit=False) as conn:
            curs = conn.cursor().sqlite_cursor
            try:
                curs.execute(f"PRAGMA {name}")
                return curs.fetchone()[0]
            finally:
                curs.close()

    def existing_tables(self) -> set[str]:
        with self._cursor(commit=False) as c:
            c.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name IN (?,?,?)",
                (EVENTS_TABLE, NODES_TABLE, META_TABLE),
            )
            return {row[0] for row in c.fetchall()}

    def _create_own_tables(self, format_version: int) -> None:
        with self._cursor(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {NODES_TABLE} ("
                "level INTEGER NOT NULL, idx INTEGER NOT NULL, "
                "hash BLOB NOT NULL CHECK (length(hash) = 32), "
                "PRIMARY KEY (level, idx)) WITHOUT ROWID"
            )
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {META_TABLE} ("
                "key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID"
            )
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {CHECKPOINTS_TABLE} ("
                "size INTEGER PRIMARY KEY, note BLOB NOT NULL)"
            )
            c.executemany(
                f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?) "  # noqa: S608
                "ON CONFLICT (key) DO NOTHING",
                [("format", format_version), ("nodes_size", 0)],
            )

    def meta(self, key: str) -> int | None:
        with self._cursor(commit=False) as c:
            c.execute(f"SELECT value FROM {META_TABLE} WHERE key=?", (key,))  # noqa: S608
            row = c.fetchone()
            return None if row is None else int(row[0])

    def max_version(self, originator_id: UUID) -> int:
        with self._cursor(commit=False) as c:
            c.execute(self._q_max, (originator_id.hex,))
            value = c.fetchone()[0]
            return 0 if value is None else int(value)

    def select_range(self, originator_id: UUID, lo: int, hi: int) -> list[Row]:
        with self._cursor(commit=False) as c:
            c.execute(self._q_range, (originator_id.hex, lo, hi))
            return [(originator_id, v, topic, state) for v, topic, state in c.fetchall()]

    def select_ranges(self, ranges: Sequence[tuple[UUID, int, int]]) -> list[Row]:
        rows: list[Row] = []
        ids = {oid.hex: oid for oid, _, _ in ranges}
        with self._cursor(commit=False) as c:
            for start in range(0, len(ranges), _SQLITE_CHUNK):
                chunk = ranges[start : start + _SQLITE_CHUNK]
                values = ",".join(["(?,?,?)"] * len(chunk))
                params = [p for oid, lo, hi in chunk for p in (oid.hex, lo, hi)]
                c.execute(f"WITH r(id, lo, hi) AS (VALUES {values}) {self._q_ranges_tail}", params)
                rows.extend((ids[oid], v, topic, state) for oid, v, topic, state in c.fetchall())
        return rows

    def put_nodes(
        self, nodes: Iterable[tuple[int, int, bytes]], tree_size: int, checkpoint: bytes | None
    ) -> None:
        with self._cursor(commit=True) as c:
            c.execute(
                f"UPDATE {META_TABLE} SET value=? WHERE key='nodes_size'",  # noqa: S608
                (tree_size,),
            )
            if checkpoint is not None:
                c.execute(
                    f"INSERT INTO {CHECKPOINTS_TABLE} (size, note) VALUES (?, ?) "  # noqa: S608
                    "ON CONFLICT (size) DO NOTHING",
                    (tree_size, checkpoint),
                )
            c.executemany(
                f"INSERT INTO {NODES_TABLE} (level, idx, hash) VALUES (?, ?, ?) "  # noqa: S608
                "ON CONFLICT (level, idx) DO UPDATE SET hash=excluded.hash",
                nodes,
            )

    def latest_checkpoint(self) -> bytes | None:
        with self._cursor(commit=False) as c:
            c.execute(
                f"SELECT note FROM {CHECKPOINTS_TABLE} ORDER BY size DESC LIMIT 1"  # noqa: S608
            )
            row = c.fetchone()
            return None if row is None else bytes(row[0])

    def keep_checkpoint(self, size: int, note: bytes) -> None:
        with self._cursor(commit=True) as c:
            c.execute(
                f"INSERT INTO {CHECKPOINTS_TABLE} (size, note) VALUES (?, ?) "  # noqa: S608
                "ON CONFLICT (size) DO NOTHING",
                (size, note),
            )

    def kept_checkpoint(self, max_size: int) -> tuple[int, bytes] | None:
        with self._cursor(commit=False) as c:
            c.execute(
                f"SELECT size, note FROM {CHECKPOINTS_TABLE} WHERE size <= ? "  # noqa: S608
                "ORDER BY size DESC LIMIT 1",
                (max_size,),
            )
            row = c.fetchone()
            return None if row is None else (int(row[0]), bytes(row[1]))

    def create_cosigned_table(self) -> None:
        with self._cursor(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {COSIGNED_TABLE} ("
                "size INTEGER PRIMARY KEY, note BLOB NOT NULL)"
            )

    def put_cosigned(self, size: int, note: bytes) -> None:
        with self._cursor(commit=True) as c:
            c.execute(
                f"INSERT INTO {COSIGNED_TABLE} (size, note) VALUES (?, ?) "  # noqa: S608
                "ON CONFLICT (size) DO UPDATE SET note=excluded.note",
                (size, note),
            )

    def cosigned(self, size: int | None) -> bytes | None:
        with self._cursor(commit=False) as c:
            if size is None:
                c.execute(
                    f"SELECT note FROM {COSIGNED_TABLE} ORDER BY size DESC LIMIT 1"  # noqa: S608
                )
            else:
                c.execute(f"SELECT note FROM {COSIGNED_TABLE} WHERE size=?", (size,))  # noqa: S608
            row = c.fetchone()
            return None if row is None else bytes(row[0])

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found: dict[tuple[int, int], bytes] = {}
        with self._cursor(commit=False) as c:
            for start in range(0, len(keys), _SQLITE_CHUNK):
                chunk = keys[start : start + _SQLITE_CHUNK]
                values = ",".join(["(?,?)"] * len(chunk))
                # A join from a VALUES list, not "(level, idx) IN (VALUES ...)": SQLite 3.40
                # plans the latter as a scan of the whole table (O(n) per proof).
                c.execute(
                    f"WITH k(l, i) AS (VALUES {values}) "  # noqa: S608
                    f"SELECT n.level, n.idx, n.hash FROM k JOIN {NODES_TABLE} AS n "
                    "ON n.level = k.l AND n.idx = k.i",
                    [p for key in chunk for p in key],
                )
                found.update(((lv, ix), bytes(h)) for lv, ix, h in c.fetchall())
        return found

    def create_snapshot_table(self) -> None:
        with self._cursor(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {SNAPSHOTS_TABLE} (size INTEGER PRIMARY KEY, "
                "root BLOB NOT NULL, state_root BLOB NOT NULL, tag BLOB NOT NULL, "
                "signature BLOB NOT NULL, data BLOB NOT NULL)"
            )
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {SNAPSHOT_PARTS_TABLE} "
                "(digest BLOB PRIMARY KEY CHECK (length(digest) = 32), data BLOB NOT NULL)"
            )

    def put_snapshot(
        self, row: SnapshotRow, parts: Mapping[bytes, bytes], keep: Collection[bytes] | None
    ) -> None:
        with self._cursor(commit=True) as c:
            c.execute(f"DELETE FROM {SNAPSHOTS_TABLE}")  # noqa: S608
            c.execute(
                f"INSERT INTO {SNAPSHOTS_TABLE} "  # noqa: S608
                "(size, root, state_root, tag, signature, data) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
            c.executemany(
                f"INSERT OR IGNORE INTO {SNAPSHOT_PARTS_TABLE} "  # noqa: S608
                "(digest, data) VALUES (?, ?)",
                parts.items(),
            )
            if keep is None:
                return
            c.execute(f"SELECT digest FROM {SNAPSHOT_PARTS_TABLE}")  # noqa: S608
            gone = [(d,) for (d,) in c.fetchall() if bytes(d) not in keep]
            c.executemany(
                f"DELETE FROM {SNAPSHOT_PARTS_TABLE} WHERE digest = ?",  # noqa: S608
                gone,
            )

    def snapshot_parts(self, wanted: Collection[bytes] | None = None) -> set[bytes]:
        with self._cursor(commit=False) as c:
            # The primary key's index alone: the parts' bytes are not read.
            c.execute(f"SELECT digest FROM {SNAPSHOT_PARTS_TABLE}")  # noqa: S608
            keys = {bytes(d) for (d,) in c}
        return keys if wanted is None else keys.intersection(wanted)

    def drop_snapshot(self, signature: bytes) -> None:
        with self._cursor(commit=True) as c:
            c.execute(
                f"DELETE FROM {SNAPSHOTS_TABLE} WHERE signature = ?",  # noqa: S608
                (signature,),
            )

    def snapshot_part(self, digest: bytes) -> bytes | None:
        with self._cursor(commit=False) as c:
            c.execute(
                f"SELECT data FROM {SNAPSHOT_PARTS_TABLE} WHERE digest = ?",  # noqa: S608
                (digest,),
            )
            r = c.fetchone()
            return None if r is None else bytes(r[0])

    def snapshot_signature(self) -> bytes | None:
        with self._cursor(commit=False) as c:
            c.execute(f"SELECT signature FROM {SNAPSHOTS_TABLE} ORDER BY size DESC LIMIT 1")  # noqa: S608
            r = c.fetchone()
            return None if r is None else bytes(r[0])

    def latest_snapshot(self) -> SnapshotRow | None:
        with self._cursor(commit=False) as c:
            c.execute(
                "SELECT size, root, state_root, tag, signature, data "  # noqa: S608
                f"FROM {SNAPSHOTS_TABLE} ORDER BY size DESC LIMIT 1"
            )
            r = c.fetchone()
            if r is None:
                return None
            return (int(r[0]), bytes(r[1]), bytes(r[2]), bytes(r[3]), bytes(r[4]), bytes(r[5]))
