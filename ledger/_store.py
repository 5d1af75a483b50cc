"""The entry store: streams and the global log on eventsourcing, in a SQLite file or PostgreSQL.

Storage only: envelopes and hashes are opaque bytes here; checking them is the ledger's job.

Model (docs/architecture/storage.md):

- every stream is an eventsourcing originator with id ``uuid5(NAMESPACE, "stream:" + name)``;
  the entry at position ``p`` is its event ``EntryAppended`` at version ``p + 1``;
- the global log is the originator ``uuid5(NAMESPACE, "log")``; the entry at index ``i`` is its
  event ``LeafAppended`` at version ``i + 1``;
- the list of streams is the originator ``uuid5(NAMESPACE, "streams")``; the ``k``-th stream to get
  its first entry is its event ``StreamOpened`` at version ``k``.

All events of a batch are saved by one ``Application.save`` call, i.e. in one transaction, and the
store's unique (originator id, version) constraint is what forbids a fork of a stream or a gap or
duplicate in the log: a second writer at a taken place fails as a whole.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import sys
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Final, Literal
from urllib.parse import parse_qsl, unquote, urlsplit
from uuid import UUID, uuid5

import orjson
from eventsourcing.application import Application
from eventsourcing.domain import EventSourcingError
from eventsourcing.persistence import IntegrityError, Transcoder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import Environment, register_topic

from ledger._db import Backend, SnapshotRow, SQLiteBackend
from ledger.errors import (
    ConflictError,
    CorruptionError,
    DatabaseURLError,
    IndexConflictError,
    LedgerExistsError,
    LedgerNotFoundError,
    StoreError,
    StreamConflictError,
)

__all__ = [
    "LOG_ID",
    "NAMESPACE",
    "STREAMS_ID",
    "DatabaseURL",
    "EntryStore",
    "StoredEntry",
    "StoredLeaf",
    "open_store",
    "parse_database_url",
    "stream_id",
]

NAMESPACE: Final = UUID("8c1f6d2e-4b0a-5e39-9d7c-2f5a1b3c4d6e")
"""Fixed namespace of every originator id in the store (part of the storage format)."""

LOG_ID: Final = uuid5(NAMESPACE, "log")
STREAMS_ID: Final = uuid5(NAMESPACE, "streams")

FORMAT_VERSION: Final = 3
"""Storage format, recorded in ``claimledger_meta`` at init and checked at every open.

3: every entry records the state root its Merkle leaf commits to (SPEC §6.1, §11)."""

SQLITE_LOCK_TIMEOUT_S: Final = 10
POSTGRES_LOCK_TIMEOUT_S: Final = 5
POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_S: Final = 10
POSTGRES_CONNECT_TIMEOUT_S: Final = 5

_HASH_LEN: Final = 32
_MAX_U63: Final = 2**63 - 1


@functools.lru_cache(maxsize=1 << 16)
def stream_id(stream: str) -> UUID:
    """The originator id of ``stream``: ``uuid5(NAMESPACE, "stream:" + stream)`` (memoized)."""
    return uuid5(NAMESPACE, "stream:" + stream)


# -- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One entry as stored: an envelope with the log's metadata.

    Attributes:
        index: 0-based global log index.
        stream: the stream name.
        position: 0-based position in the stream.
        log_time_ms: the log's clock when it sequenced the entry (ms since the Unix epoch).
        envelope: the stored envelope bytes, opaque here.
        entry_hash: the 32-byte entry hash, opaque here.
        state_root: the 32-byte root of the state commitment after the entry, opaque here.
    """

    index: int
    stream: str
    position: int
    log_time_ms: int
    envelope: bytes
    entry_hash: bytes
    state_root: bytes

    def __post_init__(self) -> None:
        for name in ("index", "position", "log_time_ms"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= _MAX_U63:
                raise ValueError(f"{name} must be an int in [0, 2^63), not {value!r}")
        if type(self.stream) is not str or not self.stream:
            raise ValueError(f"stream must be a non-empty str, not {self.stream!r}")
        if type(self.envelope) is not bytes:
            raise ValueError("envelope must be bytes")
        if type(self.entry_hash) is not bytes or len(self.entry_hash) != _HASH_LEN:
            raise ValueError("entry_hash must be 32 bytes")
        if type(self.state_root) is not bytes or len(self.state_root) != _HASH_LEN:
            raise ValueError("state_root must be 32 bytes")


@dataclass(frozen=True, slots=True)
class StoredLeaf:
    """What the log records of an entry: everything its Merkle leaf commits to, no envelope."""

    index: int
    stream: str
    position: int
    log_time_ms: int
    entry_hash: bytes
    state_root: bytes


# -- events -------------------------------------------------------------------------------------
# Plain frozen dataclasses that satisfy eventsourcing's DomainEventProtocol. They are never
# replayed into aggregate objects: the store reads rows, so no apply step exists to re-run checks.
# They carry no wall-clock timestamp of their own: the entry's time is ``log_time_ms``, which the
# log signs. Their topics are fixed strings, registered below, so that moving this module never
# strands stored events.


@dataclass(frozen=True)
class EntryAppended:
    """An entry at position ``originator_version - 1`` of the stream ``originator_id``."""

    TOPIC: ClassVar[str] = "claimledger.v1:EntryAppended"
    originator_id: UUID
    originator_version: int
    stream: str
    index: int
    log_time_ms: int
    envelope: bytes
    entry_hash: bytes
    state_root: bytes


@dataclass(frozen=True)
class LeafAppended:
    """The entry at global index ``originator_version - 1`` of the log."""

    TOPIC: ClassVar[str] = "claimledger.v1:LeafAppended"
    originator_id: UUID
    originator_version: int
    stream: str
    position: int
    log_time_ms: int
    entry_hash: bytes
    state_root: bytes


@dataclass(frozen=True)
class StreamOpened:
    """The ``originator_version``-th stream got its first entry, at global index ``index``."""

    TOPIC: ClassVar[str] = "claimledger.v1:StreamOpened"
    originator_id: UUID
    originator_version: int
    stream: str
    index: int


for _cls in (EntryAppended, LeafAppended, StreamOpened):
    register_topic(_cls.TOPIC, _cls)


_HEX_FIELDS: Final = ("entry_hash", "state_root")


class _Transcoder(Transcoder):
    """orjson, with the two bytes fields of the events encoded as JSON strings.

    ``envelope`` is stored as its latin-1 decoding: lossless for any bytes, and byte for byte the
    same as the envelope for the ASCII envelopes the ledger stores. ``entry_hash`` and
    ``state_root`` are hex.
    """

    def encode(self, obj: Any) -> bytes:
        state = dict(obj)
        if "envelope" in state:
            state["envelope"] = state["envelope"].decode("latin-1")
        for name in _HEX_FIELDS:
            if name in state:
                state[name] = state[name].hex()
        return orjson.dumps(state)

    def decode(self, data: bytes) -> Any:
        state = orjson.loads(data)
        if not isinstance(state, dict):
            raise ValueError("event state is not a JSON object")
        if "envelope" in state:
            state["envelope"] = state["envelope"].encode("latin-1")
        for name in _HEX_FIELDS:
            if name in state:
                text = state[name]
                raw = bytes.fromhex(text)
                if raw.hex() != text:  # fromhex also reads upper case and spaces: one spelling
                    raise ValueError(f"{name} is not lower-case hex")
                state[name] = raw
        return state


class _LedgerApplication(Application[UUID]):
    """The eventsourcing application; the store uses its mapper, event store and recorder."""

    name = "claimledger"

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        # eventsourcing merges os.environ over the class env; a stray PERSISTENCE_MODULE or
        # CLAIMLEDGER_PERSISTENCE_MODULE in the process environment could then swap the database
        # (or make it in-memory). The store is configured by its URL alone.
        return Environment(name, dict(env or {}))

    def construct_transcoder(self) -> Transcoder:
        return _Transcoder()


# -- URLs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL.

    Attributes:
        kind: ``"sqlite"`` or ``"postgres"``.
        path: the absolute path of the SQLite file (SQLite only).
        env: the eventsourcing settings for PostgreSQL connection (PostgreSQL only).
        display: the URL with any password masked, for messages.
    """

    kind: Literal["sqlite", "postgres"]
    display: str
    path: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)


_SCHEMA_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def parse_database_url(url: str) -> DatabaseURL:
    """Parse a database URL.

    Accepted forms:

    - ``sqlite:///relative/path.db`` (relative to the working directory) and
      ``sqlite:////absolute/path.db``; no host, no query, not ``:memory:``.
    - ``postgresql://user[:password]@host[:port]/dbname[?schema=name]`` (also ``postgres://``);
      ``schema`` is a lower-case identifier, default ``public``.

    Raises:
        DatabaseURLError: the URL is empty, malformed, or of another kind (in-memory included).
    """
    if not url or not url.strip():
        raise DatabaseURLError(
            "no database URL given (expected sqlite:///path.db or postgresql://user@host/db)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DatabaseURLError(f"malformed database URL: {exc}") from exc
    if parts.scheme == "sqlite":
        return _parse_sqlite(url, parts.netloc, parts.path, parts.query, parts.fragment)
    if parts.scheme in ("postgresql", "postgres"):
        if parts.fragment:
            raise DatabaseURLError("a PostgreSQL URL takes no #fragment")
        dbname = unquote(parts.path.removeprefix("/"))
        if not parts.hostname or not parts.username or not dbname or "/" in dbname:
            raise DatabaseURLError(
                "a PostgreSQL URL needs a user, a host and a database name: "
                "postgresql://user@host:5432/dbname"
            )
        schema = "public"
        for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
            if key != "schema":
                raise DatabaseURLError(f"unknown PostgreSQL URL parameter {key!r}")
            if not value or value[0].isdigit() or not set(value) <= _SCHEMA_CHARS:
                raise DatabaseURLError(f"schema must be a lower-case identifier, not {value!r}")
            if len(value) > 63:
                raise DatabaseURLError("schema name is longer than 63 characters")
            schema = value
        password = unquote(parts.password) if parts.password is not None else ""
        host = parts.hostname
        user = unquote(parts.username)
        display = f"{parts.scheme}://{user}{':***' if password else ''}@{host}:{port or 5432}"
        display += f"/{dbname}" + (f"?schema={schema}" if schema != "public" else "")
        return DatabaseURL(
            kind="postgres",
            display=display,
            env={
                "POSTGRES_DBNAME": dbname,
                "POSTGRES_HOST": host,
                "POSTGRES_PORT": str(port or 5432),
                "POSTGRES_USER": user,
                "POSTGRES_PASSWORD": password,
                "POSTGRES_SCHEMA": schema,
            },
        )
    raise DatabaseURLError(
        f"unsupported database URL {_mask(url)!r}: use sqlite:///path.db or "
        "postgresql://user@host/dbname (in-memory stores are refused)"
    )


def _parse_sqlite(url: str, netloc: str, path: str, query: str, fragment: str) -> DatabaseURL:
    if netloc or query or fragment or not url.startswith("sqlite:///"):
        raise DatabaseURLError(
            f"a SQLite URL is sqlite:///relative/path.db or sqlite:////abs/path.db, not {url!r}"
        )
    raw = unquote(path.removeprefix("/"))
    if not raw or raw.endswith("/") or ":memory:" in raw or "mode=memory" in raw:
        raise DatabaseURLError(f"a SQLite URL must name a database file, not {url!r}")
    file = Path(raw).absolute()
    return DatabaseURL(kind="sqlite", display=f"sqlite:///{file}", path=file)


def _mask(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password is not None:
            return url.replace(f":{parts.password}@", ":***@", 1)
    except ValueError:
        pass
    return url


# -- errors -------------------------------------------------------------------------------------

# sqlite3 errors raised while eventsourcing opens a connection (a file that is not a database)
# reach us unwrapped; OverflowError is an int beyond 64 bits given to sqlite3.
_DB_ERRORS: Final = (EventSourcingError, sqlite3.Error, OSError, OverflowError)


@contextmanager
def _db_errors(what: str) -> Iterator[None]:
    """Wrap database errors raised while doing ``what`` in StoreError."""
    try:
        yield
    except Exception as exc:
        # psycopg's errors too, once a PostgreSQL ledger has loaded it (it is not loaded before).
        psycopg = sys.modules.get("psycopg")
        if isinstance(exc, _DB_ERRORS) or (psycopg is not None and isinstance(exc, psycopg.Error)):
            raise StoreError(f"{what}: {exc}") from exc
        raise


# -- opening ------------------------------------------------------------------------------------


def open_store(url: str, *, create: bool = False) -> EntryStore:
    """Open the entry store at ``url``; with ``create=True``, create it.

    Tables are created only here with ``create=True`` (by ``claimledger init``), never by workers.

    Raises:
        DatabaseURLError: the URL is not a supported database URL.
        LedgerNotFoundError: without ``create``, the database holds no ledger.
        LedgerExistsError: with ``create``, the database already holds a ledger with entries.
        StoreError: the database cannot be reached or refused a statement.
    """
    db = parse_database_url(url)
    env: dict[str, str] = {"CREATE_TABLE": "n"}  # created below, after the checks
    if db.kind == "sqlite":
        if db.path is None:  # pragma: no cover - parse_database_url sets it
            raise DatabaseURLError(db.display)
        if not create and not db.path.is_file():
            raise LedgerNotFoundError(
                f"no ledger at {db.display}: run `claimledger init` to create one"
            )
        if create:
            try:
                db.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {db.path.parent}: {exc}") from exc
            _new_sqlite_file(db.path)
        # mode=rw never creates a file; ``sqlite3.connect(uri=True)`` reads the URI.
        env |= {
            "PERSISTENCE_MODULE": "ledger._db:DurableSQLiteFactory",
            "SQLITE_DBNAME": f"{db.path.as_uri()}?mode={'rwc' if create else 'rw'}",
            "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_S),
        }
    else:
        _prepare_postgres_schema(db, create=create)
        env |= dict(db.env) | {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_LOCK_TIMEOUT": str(POSTGRES_LOCK_TIMEOUT_S),
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": str(
                POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_S
            ),
            "POSTGRES_CONNECT_TIMEOUT": str(POSTGRES_CONNECT_TIMEOUT_S),
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            "APPLICATION_RECORDER_TOPIC": "ledger._db_postgres:FastPostgresRecorder",
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "8",
        }
    with _db_errors(f"cannot open {db.display}"):
        app = _LedgerApplication(env=env)
    try:
        backend = _backend(app, db)
        with _db_errors(f"cannot open {db.display}"):
            tables = backend.existing_tables()
            if create:
                if "claimledger_events" in tables and backend.max_version(LOG_ID) > 0:
                    raise LedgerExistsError(f"{db.display} already holds a ledger")
                backend.create_tables(FORMAT_VERSION)
            elif len(tables) < 3:
                raise LedgerNotFoundError(
                    f"no ledger in {db.display}: run `claimledger init` to create one"
                )
            fmt = backend.meta("format")
        if fmt != FORMAT_VERSION:
            raise StoreError(_format_message(db.display, fmt))
        with _db_errors(f"cannot create the cosigned checkpoints table in {db.display}"):
            # Added after format 3 without a format change: an older ledger gains it here.
            backend.create_cosigned_table()
        with _db_errors(f"cannot create the snapshot table in {db.display}"):
            backend.create_snapshot_table()  # added after format 3, likewise
        return EntryStore(app, backend, db.display)
    except BaseException:
        app.close()
        raise


def _format_message(display: str, fmt: object) -> str:
    if isinstance(fmt, int) and fmt < FORMAT_VERSION:
        return (
            f"{display} holds a ledger in storage format {fmt}, written before its Merkle leaves "
            f"committed to the state of every stream and party (format {FORMAT_VERSION}, "
            "SPEC §11): its checkpoints cannot be carried over. Serve it with the claimledger "
            "release that wrote it, or start a new ledger with `claimledger init`"
        )
    return f"{display} has storage format {fmt}, expected {FORMAT_VERSION}"


SQLITE_PAGE_SIZE: Final = 16384
"""Page size of new SQLite files: a ≈ 2 KB entry row leaves a 4 KiB page a third empty."""


def _new_sqlite_file(path: Path) -> None:
    """Give a SQLite file that does not exist yet (or is empty) its page size, in WAL mode.

    The page size sticks only before the first write, so it is set here, before eventsourcing
    opens the file; switching to WAL writes the header. An existing database is left alone.
    """
    try:
        if path.exists() and path.stat().st_size > 0:
            return
        with contextlib.closing(sqlite3.connect(path, timeout=SQLITE_LOCK_TIMEOUT_S)) as conn:
            conn.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode = WAL")
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot create {path}: {exc}") from exc


def _backend(app: _LedgerApplication, db: DatabaseURL) -> Backend:
    recorder = app.recorder
    # Never an in-memory store: the recorder must be the one the URL names.
    if db.kind == "sqlite":
        if not isinstance(recorder, SQLiteApplicationRecorder):
            raise StoreError(f"expected a SQLite recorder, got {type(recorder).__name__}")
        return SQLiteBackend(recorder)
    # Imported here: only a PostgreSQL ledger loads psycopg (see ledger._db_postgres).
    from ledger._db_postgres import FastPostgresRecorder, PostgresBackend

    if not isinstance(recorder, FastPostgresRecorder):
        raise StoreError(f"expected a PostgreSQL recorder, got {type(recorder).__name__}")
    return PostgresBackend(recorder)


def _prepare_postgres_schema(db: DatabaseURL, *, create: bool) -> None:
    """Check the server is reachable and the schema exists; create the schema on ``create``."""
    import psycopg  # here: only a PostgreSQL ledger loads it (see ledger._db_postgres)

    env = db.env
    schema = env["POSTGRES_SCHEMA"]
    try:
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"],
            connect_timeout=POSTGRES_CONNECT_TIMEOUT_S,
            autocommit=True,
        ) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone()
            if found is None:
                if not create:
                    raise LedgerNotFoundError(
                        f"no ledger in {db.display} (no schema {schema!r}): "
                        "run `claimledger init` to create one"
                    )
                conn.execute(
                    psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        psycopg.sql.Identifier(schema)
                    )
                )
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to {db.display}: {exc}") from exc


# -- the store ----------------------------------------------------------------------------------


class EntryStore:
    """Streams, the global log and Merkle node storage of one ledger database.

    Thread-safe: appends are serialised per store object; reads may run concurrently. Several
    store objects (or processes) may write the same database; the database decides who wins.
    Build it with :func:`open_store`.
    """

    def __init__(self, app: _LedgerApplication, backend: Backend, display: str) -> None:
        self._app = app
        self._db = backend
        self._display = display
        self._decode = _Transcoder().decode
        self._lock = threading.Lock()
        # What this object believes about the database, for the cheap checks of append(); the
        # unique constraint of the events table is the real guard. None = to be read.
        self._size: int | None = None
        self._nstreams: int | None = None
        self._lengths: dict[str, int] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"EntryStore({self._display!r})"

    def __enter__(self) -> EntryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def backend(self) -> Backend:
        """The raw SQL layer (for diagnostics and tests)."""
        return self._db

    def close(self) -> None:
        """Close every database connection of this store."""
        if not self._closed:
            self._closed = True
            with _db_errors("cannot close the store"):
                self._app.close()

    # -- writing --------------------------------------------------------------------------------

    def append(self, entries: Sequence[StoredEntry]) -> None:
        """Append ``entries`` atomically: all of them in one transaction, or none.

        The entries must continue the log (indexes consecutive from :meth:`size`) and each of their
        streams (positions consecutive from :meth:`stream_length`), in order.

        Raises:
            StreamConflictError: a position of a stream is already taken.
            IndexConflictError: a global index is already taken.
            ConflictError: another concurrent write got in the way (nothing was written).
            StoreError: the entries would leave a gap or are not consecutive; or a database error.
        """
        if not entries:
            return
        if self._closed:
            raise StoreError("the store is closed")
        with self._lock:
            problem = self._check(entries)
            if problem is not None and self._beliefs_loaded():
                self._forget()  # maybe stale: judge against the database before refusing
                problem = self._check(entries)
            if problem is not None:
                raise problem
            events, nstreams = self._events(entries)
            try:
                self._save(events)
            except IntegrityError as exc:
                self._forget()
                self._after_integrity_error(entries, exc)
                return
            except _DB_ERRORS as exc:
                self._forget()
                raise StoreError(f"cannot append to {self._display}: {exc}") from exc
            self._size = entries[-1].index + 1
            self._nstreams = nstreams
            for entry in entries:
                self._lengths[entry.stream] = entry.position + 1

    def _save(self, events: Sequence[Any]) -> None:
        """Map the events to stored events and insert them in one transaction.

        This is ``Application.save`` minus its generic parts: ``save`` tests each event against
        runtime-checkable protocols (``isinstance`` on a ``Protocol``, ~15 µs per event, 40% of a
        batched append on SQLite) and builds a ``Recording`` per event, which nothing here reads.
        Mapper, transcoder, recorder and transaction are the application's own.
        """
        to_stored = self._app.mapper.to_stored_event
        self._app.recorder.insert_events([to_stored(event) for event in events])

    def _beliefs_loaded(self) -> bool:
        return self._size is not None

    def _forget(self) -> None:
        self._size = None
        self._nstreams = None
        self._lengths.clear()

    def _believed_size(self) -> int:
        if self._size is None:
            self._size = self.size()
            self._nstreams = self._count_streams()
        return self._size

    def _believed_length(self, stream: str) -> int:
        length = self._lengths.get(stream)
        if length is None:
            length = self._lengths[stream] = self.stream_length(stream)
        return length

    def _check(self, entries: Sequence[StoredEntry]) -> StoreError | None:
        """The first thing wrong with ``entries`` against the beliefs, or None.

        Stream conflicts are reported before index conflicts: every entry takes an index, so a
        writer that beat us to a stream position always took our index too, and the stream is the
        more useful fact.
        """
        first = entries[0].index
        for offset, entry in enumerate(entries):
            if entry.index != first + offset:
                return StoreError(f"indexes not consecutive: {entry.index} at offset {offset}")
        expected: dict[str, int] = {}
        gap: StoreError | None = None
        for entry in entries:
            want = expected.get(entry.stream)
            if want is None:
                want = self._believed_length(entry.stream)
                if entry.position < want:
                    return StreamConflictError(entry.stream, entry.position)
            if entry.position != want and gap is None:
                gap = StoreError(
                    f"stream {entry.stream!r}: position {entry.position} where {want} comes next"
                )
            expected[entry.stream] = entry.position + 1
        size = self._believed_size()
        if first < size:
            return IndexConflictError(first)
        if first > size:
            return StoreError(f"index {first} would leave a gap: the log has {size} entries")
        return gap

    def _count_streams(self) -> int:
        with _db_errors("cannot read the streams"):
            return self._db.max_version(STREAMS_ID)

    def _events(self, entries: Sequence[StoredEntry]) -> tuple[list[Any], int]:
        self._believed_size()
        nstreams = self._nstreams if self._nstreams is not None else self._count_streams()
        events: list[Any] = []
        for e in entries:
            events.append(
                LeafAppended(
                    originator_id=LOG_ID,
                    originator_version=e.index + 1,
                    stream=e.stream,
                    position=e.position,
                    log_time_ms=e.log_time_ms,
                    entry_hash=e.entry_hash,
                    state_root=e.state_root,
                )
            )
            events.append(
                EntryAppended(
                    originator_id=stream_id(e.stream),
                    originator_version=e.position + 1,
                    stream=e.stream,
                    index=e.index,
                    log_time_ms=e.log_time_ms,
                    envelope=e.envelope,
                    entry_hash=e.entry_hash,
                    state_root=e.state_root,
                )
            )
            if e.position == 0:
                nstreams += 1
                events.append(
                    StreamOpened(
                        originator_id=STREAMS_ID,
                        originator_version=nstreams,
                        stream=e.stream,
                        index=e.index,
                    )
                )
        return events, nstreams

    def _after_integrity_error(self, entries: Sequence[StoredEntry], exc: IntegrityError) -> None:
        """Return if ``entries`` are stored after all (retried commit); else raise the conflict."""
        first = entries[0].index
        with _db_errors(f"cannot read {self._display} after a conflict"):
            stored = self.log_entries(first, first + len(entries))
            if stored == list(entries):
                return
            for entry in entries:
                if entry.position < self.stream_length(entry.stream):
                    raise StreamConflictError(entry.stream, entry.position) from exc
            if first < self.size():
                raise IndexConflictError(first) from exc
        raise ConflictError(f"a concurrent write to {self._display} got in the way: {exc}") from exc

    # -- reading --------------------------------------------------------------------------------

    def size(self) -> int:
        """The number of entries in the global log."""
        with _db_errors("cannot read the log size"):
            return self._db.max_version(LOG_ID)

    def stream_length(self, stream: str) -> int:
        """The number of entries in ``stream`` (0 for a stream never written)."""
        with _db_errors(f"cannot read stream {stream!r}"):
            return self._db.max_version(stream_id(stream))

    def stream_head(self, stream: str) -> StoredEntry | None:
        """The last entry of ``stream``, or None when it has none."""
        length = self.stream_length(stream)
        if length == 0:
            return None
        entries = self.stream_entries(stream, length - 1, length)
        return entries[0] if entries else None

    def stream_entries(
        self, stream: str, start: int = 0, end: int | None = None
    ) -> list[StoredEntry]:
        """Entries of ``stream`` with ``start <= position < end`` (``end`` None: to the last)."""
        _check_range(start, end)
        if end is not None and end <= start:
            return []
        hi = _MAX_U63 if end is None else min(end, _MAX_U63)
        with _db_errors(f"cannot read stream {stream!r}"):
            rows = self._db.select_range(stream_id(stream), start + 1, hi)
        return [self._entry(stream, version, topic, state) for _, version, topic, state in rows]

    def leaves(self, start: int, end: int) -> list[StoredLeaf]:
        """What the log records for indexes ``start <= index < end`` (clipped to the log size).

        Everything a Merkle leaf commits to, without the envelopes: enough to rebuild the tree.
        """
        _check_range(start, end)
        if end <= start:
            return []
        with _db_errors("cannot read the log"):
            rows = self._db.select_range(LOG_ID, start + 1, min(end, _MAX_U63))
        return [self._leaf(version, topic, state) for _, version, topic, state in rows]

    def log_entries(self, start: int, end: int) -> list[StoredEntry]:
        """Entries with ``start <= index < end``, by index (clipped to the log size).

        Raises:
            CorruptionError: the log and a stream disagree about an entry, or a row is unreadable.
            StoreError: a database error.
        """
        leaves = self.leaves(start, end)
        if not leaves:
            return []
        ranges: dict[str, tuple[int, int]] = {}
        for leaf in leaves:
            lo, hi = ranges.get(leaf.stream, (leaf.position, leaf.position))
            ranges[leaf.stream] = (min(lo, leaf.position), max(hi, leaf.position))
        with _db_errors("cannot read the log"):
            rows = self._db.select_ranges(
                [(stream_id(s), lo + 1, hi + 1) for s, (lo, hi) in ranges.items()]
            )
        by_place = {(oid, version): (topic, state) for oid, version, topic, state in rows}
        out: list[StoredEntry] = []
        for leaf in leaves:
            found = by_place.get((stream_id(leaf.stream), leaf.position + 1))
            if found is None:
                raise CorruptionError(
                    f"log index {leaf.index} names {leaf.stream!r} position {leaf.position}, "
                    "which is not stored",
                    stream=leaf.stream,
                    position=leaf.position,
                    index=leaf.index,
                )
            entry = self._entry(leaf.stream, leaf.position + 1, *found)
            if (entry.index, entry.log_time_ms, entry.entry_hash, entry.state_root) != (
                leaf.index,
                leaf.log_time_ms,
                leaf.entry_hash,
                leaf.state_root,
            ):
                raise CorruptionError(
                    f"log index {leaf.index} and {leaf.stream!r} position {leaf.position} disagree",
                    stream=leaf.stream,
                    position=leaf.position,
                    index=leaf.index,
                )
            out.append(entry)
        return out

    def iter_log(
        self, start: int = 0, batch: int = 1000, *, end: int | None = None
    ) -> Iterator[StoredEntry]:
        """Every entry with ``start <= index < end``, by index, reading ``batch`` at a time.

        ``end`` None means the log size when iteration starts. Memory stays bounded by ``batch``.
        """
        if batch < 1:
            raise ValueError("batch must be at least 1")
        _check_range(start, end)
        stop = self.size() if end is None else end
        for lo in range(start, stop, batch):
            chunk = self.log_entries(lo, min(lo + batch, stop))
            yield from chunk
            if len(chunk) < min(batch, stop - lo):
                return  # the log is shorter than ``end``

    def streams(self) -> list[str]:
        """Every stream's name, in the order the streams got their first entry."""
        with _db_errors("cannot read the streams"):
            rows = self._db.select_range(STREAMS_ID, 1, _MAX_U63)
        names = []
        for _, version, topic, state in rows:
            try:
                if topic != StreamOpened.TOPIC:
                    raise ValueError(f"unexpected topic {topic!r}")
                name = self._decode(state)["stream"]
                if type(name) is not str:
                    raise ValueError("stream is not a string")
            except (ValueError, KeyError, TypeError) as exc:
                raise CorruptionError(f"stream list entry {version} is unreadable: {exc}") from exc
            names.append(name)
        return names

    def _entry(self, stream: str, version: int, topic: str, state: bytes) -> StoredEntry:
        try:
            if topic != EntryAppended.TOPIC:
                raise ValueError(f"unexpected topic {topic!r}")
            d = self._decode(state)
            if d["stream"] != stream:
                raise ValueError(f"the event names stream {d['stream']!r}")
            return StoredEntry(
                index=d["index"],
                stream=stream,
                position=version - 1,
                log_time_ms=d["log_time_ms"],
                envelope=d["envelope"],
                entry_hash=d["entry_hash"],
                state_root=d["state_root"],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptionError(
                f"stream {stream!r} position {version - 1} is unreadable: {exc}",
                stream=stream,
                position=version - 1,
            ) from exc

    def _leaf(self, version: int, topic: str, state: bytes) -> StoredLeaf:
        try:
            if topic != LeafAppended.TOPIC:
                raise ValueError(f"unexpected topic {topic!r}")
            d = self._decode(state)
            leaf = StoredLeaf(
                index=version - 1,
                stream=d["stream"],
                position=d["position"],
                log_time_ms=d["log_time_ms"],
                entry_hash=d["entry_hash"],
                state_root=d["state_root"],
            )
            if (
                type(leaf.stream) is not str
                or type(leaf.position) is not int
                or type(leaf.log_time_ms) is not int
                or len(leaf.entry_hash) != _HASH_LEN
                or len(leaf.state_root) != _HASH_LEN
            ):
                raise ValueError("wrong field types")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptionError(
                f"log index {version - 1} is unreadable: {exc}", index=version - 1
            ) from exc
        return leaf

    # -- Merkle nodes (a projection: derived data, rebuilt from the log after a crash) ----------

    def put_nodes(
        self,
        nodes: Iterable[tuple[int, int, bytes]],
        tree_size: int,
        checkpoint: bytes | None = None,
    ) -> None:
        """Store Merkle nodes ``(level, index, hash)`` and mark them complete up to ``tree_size``.

        With ``checkpoint``, also keep that signed checkpoint note of the tree of ``tree_size``.
        All in one transaction. A node already stored is overwritten; a kept checkpoint is not.
        """
        if type(tree_size) is not int or tree_size < 0:
            raise ValueError("tree_size must be a non-negative int")
        rows = []
        for level, index, digest in nodes:
            if len(digest) != _HASH_LEN or level < 0 or index < 0:
                raise ValueError(f"bad node ({level}, {index}, {len(digest)} bytes)")
            rows.append((level, index, bytes(digest)))
        with _db_errors("cannot store Merkle nodes"):
            self._db.put_nodes(rows, tree_size, checkpoint)

    def latest_checkpoint(self) -> bytes | None:
        """The signed checkpoint note of the largest tree size kept, if any (not verified here)."""
        with _db_errors("cannot read the latest checkpoint"):
            return self._db.latest_checkpoint()

    def kept_checkpoint(self, max_size: int) -> tuple[int, bytes] | None:
        """The size and signed note of the largest checkpoint kept of at most ``max_size``
        entries, if any (not verified here)."""
        with _db_errors("cannot read a kept checkpoint"):
            return self._db.kept_checkpoint(max_size)

    def keep_checkpoint(self, size: int, note: bytes) -> None:
        """Keep a signed checkpoint note of ``size`` (the log key's hand-over note of a rotation,
        SPEC §7.6); a note already kept for that size stays."""
        if type(size) is not int or size <= 0:
            raise ValueError("size must be a positive int")
        with _db_errors("cannot keep a checkpoint"):
            self._db.keep_checkpoint(size, bytes(note))

    def put_cosigned(self, size: int, note: bytes) -> None:
        """Keep a checkpoint note that the log's witnesses cosigned (checked by the caller)."""
        if type(size) is not int or size <= 0:
            raise ValueError("size must be a positive int")
        with _db_errors("cannot store a cosigned checkpoint"):
            self._db.put_cosigned(size, bytes(note))

    def cosigned_checkpoint(self, size: int | None = None) -> bytes | None:
        """The cosigned checkpoint note of ``size`` (default: the largest kept), if any."""
        with _db_errors("cannot read a cosigned checkpoint"):
            return self._db.cosigned(size)

    def put_snapshot(
        self,
        row: SnapshotRow,
        parts: Mapping[bytes, bytes] | None = None,
        keep: Collection[bytes] | None = (),
    ) -> None:
        """Store the snapshot ``(size, root, state root, tag, signature, data)`` (checked by the
        caller), replacing the one stored, with the ``parts`` it adds (SHA-256 -> bytes),
        deleting every stored part not in ``keep`` or ``parts`` (none, with ``keep=None``); in
        one transaction."""
        parts = parts or {}
        with _db_errors("cannot store a snapshot"):
            self._db.put_snapshot(row, parts, None if keep is None else {*keep, *parts})

    def snapshot_parts(self, wanted: Collection[bytes] | None = None) -> set[bytes]:
        """The keys (SHA-256 when written) of the stored snapshot parts, or of those of
        ``wanted`` stored, without reading the parts."""
        with _db_errors("cannot read the snapshot's parts"):
            return self._db.snapshot_parts(wanted)

    def drop_snapshot(self, signature: bytes) -> None:
        """Delete the stored snapshot if it is the one with this signature (one of its parts
        was found altered: the next open replays the log)."""
        with _db_errors("cannot drop the snapshot"):
            self._db.drop_snapshot(signature)

    def snapshot_part(self, digest: bytes) -> bytes | None:
        """The stored snapshot part with this key (its SHA-256 when written), if any."""
        with _db_errors("cannot read a snapshot part"):
            return self._db.snapshot_part(digest)

    def snapshot_signature(self) -> bytes | None:
        """The stored snapshot's signature, if any: which snapshot it is, without reading it."""
        with _db_errors("cannot read the snapshot"):
            return self._db.snapshot_signature()

    def latest_snapshot(self) -> SnapshotRow | None:
        """The stored snapshot, if any (not checked here: ledger/_snapshot.py checks it)."""
        with _db_errors("cannot read the snapshot"):
            return self._db.latest_snapshot()

    def get_node(self, level: int, index: int) -> bytes:
        """The hash of node ``(level, index)``.

        Raises:
            StoreError: the node is not stored.
        """
        found = self.get_nodes([(level, index)])
        try:
            return found[(level, index)]
        except KeyError:
            raise StoreError(f"Merkle node ({level}, {index}) is not stored") from None

    def get_nodes(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored hashes among the nodes ``keys``; missing nodes are absent from the result."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        with _db_errors("cannot read Merkle nodes"):
            return self._db.get_nodes(wanted)

    def nodes_size(self) -> int:
        """The tree size up to which the stored nodes are complete (0 when none)."""
        with _db_errors("cannot read the Merkle node marker"):
            value = self._db.meta("nodes_size")
        return 0 if value is None else value


def _check_range(start: int, end: int | None) -> None:
    if start < 0 or (end is not None and end < 0):
        raise ValueError(f"negative bound in [{start}, {end})")
    if start >= _MAX_U63:
        raise ValueError(f"start {start} is beyond the largest index")
