"""Ledger test fixtures: a fresh real database per test, SQLite file and PostgreSQL alike.

PostgreSQL is the server at 127.0.0.1:5432 (database ``test``, user ``postgres``; override with
``CLAIMLEDGER_TEST_PG``, a ``postgresql://`` URL without ``?schema``). Each test gets its own
schema, dropped afterwards. When the server cannot be reached, the PostgreSQL tests fail if ``CI``
is set, and are skipped otherwise.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from ledger._store import EntryStore, StoredEntry, open_store

PG_BASE_URL = os.environ.get("CLAIMLEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

_pg_error: list[str] = []  # the reason PostgreSQL is unusable, once known
_pg_checked: list[bool] = []


def pg_connect() -> psycopg.Connection[Any]:
    """An autocommit admin connection to the test server."""
    return psycopg.connect(PG_BASE_URL, connect_timeout=3, autocommit=True)


def _require_postgres() -> None:
    if not _pg_checked:
        _pg_checked.append(True)
        try:
            with pg_connect() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            _pg_error.append(f"PostgreSQL at {PG_BASE_URL} is unreachable: {exc}")
    if _pg_error:
        if os.environ.get("CI"):
            pytest.fail(_pg_error[0], pytrace=False)
        pytest.skip(_pg_error[0])


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema, dropped after the test."""
    _require_postgres()
    name = f"cl_test_{uuid.uuid4().hex[:16]}"
    with pg_connect() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with pg_connect() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh database with no ledger: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    schema: str = request.getfixturevalue("pg_schema")
    return f"{PG_BASE_URL}?schema={schema}"


@pytest.fixture
def open_stores(store_url: str) -> Iterator[Callable[..., EntryStore]]:
    """``open_stores(create=False)`` opens a store on ``store_url``; all are closed at teardown."""
    opened: list[EntryStore] = []

    def _open(*, create: bool = False) -> EntryStore:
        store = open_store(store_url, create=create)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def store(open_stores: Callable[..., EntryStore]) -> EntryStore:
    """A freshly initialised, empty store."""
    return open_stores(create=True)


def entry(index: int, stream: str, position: int, *, tag: str = "") -> StoredEntry:
    """A deterministic entry with a ~1.2 KB ASCII envelope."""
    body = f'{{"i":{index},"s":"{stream}","p":{position},"t":"{tag}","pad":"{"x" * 1150}"}}'
    digest = (f"{index}:{stream}:{position}:{tag}".encode() * 32)[:32]
    return StoredEntry(
        index=index,
        stream=stream,
        position=position,
        log_time_ms=1_764_000_000_000 + index,
        envelope=body.encode("ascii"),
        entry_hash=digest,
        state_root=bytes(reversed(digest)),
    )


def raw_execute(url: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    """Run one SQL statement straight on the database behind ``url`` (to damage it on purpose).

    ``statement`` uses ``?`` placeholders and names tables without a schema.
    """
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            with conn:
                conn.execute(statement, params)
        finally:
            conn.close()
        return
    base, _, schema = url.partition("?schema=")
    with psycopg.connect(base, autocommit=True) as pg:
        pg.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        pg.execute(statement.replace("?", "%s").encode(), params)


@contextmanager
def sibling_database(url: str) -> Iterator[str]:
    """A new, empty database next to the one at ``url`` (for one hypothesis example), removed after.

    SQLite: another file in the same folder. PostgreSQL: another schema, which ``create=True``
    makes; it is dropped afterwards.
    """
    tag = uuid.uuid4().hex[:8]
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///")).with_name(f"ledger-{tag}.db")
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    base, _, schema = url.partition("?schema=")
    name = f"{schema}_{tag}"
    try:
        yield f"{base}?schema={name}"
    finally:
        with pg_connect() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
