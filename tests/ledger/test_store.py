"""The entry store on a real SQLite file and on the real PostgreSQL server (no mocks)."""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger._db import SQLiteBackend
from ledger._store import (
    LOG_ID,
    SQLITE_PAGE_SIZE,
    EntryStore,
    StoredEntry,
    open_store,
    parse_database_url,
    stream_id,
)
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
from tests.ledger.conftest import PG_BASE_URL, entry, raw_execute, sibling_database

OpenStores = Callable[..., EntryStore]


def interleaved(
    n: int, streams: tuple[str, ...] = ("registry", "acme", "globex")
) -> list[StoredEntry]:
    """``n`` entries dealt round-robin over ``streams``."""
    lengths: dict[str, int] = {}
    out = []
    for i in range(n):
        s = streams[i % len(streams)]
        out.append(entry(i, s, lengths.get(s, 0)))
        lengths[s] = lengths.get(s, 0) + 1
    return out


def oid(url: str, value: UUID) -> str | UUID:
    """An originator id as the events table stores it (hex text in SQLite, uuid in PostgreSQL)."""
    return value.hex if url.startswith("sqlite") else value


# -- URLs -----------------------------------------------------------------------------------------


def test_sqlite_url_relative_path_is_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = parse_database_url("sqlite:///data/ledger.db")
    assert db.kind == "sqlite"
    assert db.path == tmp_path / "data" / "ledger.db"


def test_sqlite_url_absolute_path_takes_four_slashes() -> None:
    db = parse_database_url("sqlite:////var/lib/claimledger/ledger.db")
    assert db.path == Path("/var/lib/claimledger/ledger.db")
    assert db.display == "sqlite:////var/lib/claimledger/ledger.db"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgres_url(scheme: str) -> None:
    db = parse_database_url(f"{scheme}://alice:s%40cret@db.example:6543/claims?schema=ledger_2")
    assert db.kind == "postgres"
    assert dict(db.env) == {
        "POSTGRES_DBNAME": "claims",
        "POSTGRES_HOST": "db.example",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "alice",
        "POSTGRES_PASSWORD": "s@cret",
        "POSTGRES_SCHEMA": "ledger_2",
    }
    assert "s@cret" not in db.display
    assert "s%40cret" not in db.display


def test_postgres_url_defaults() -> None:
    env = parse_database_url("postgresql://bob@localhost/db").env
    assert env["POSTGRES_PORT"] == "5432"
    assert env["POSTGRES_PASSWORD"] == ""
    assert env["POSTGRES_SCHEMA"] == "public"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "memory",
        "memory://",
        "popo",
        "eventsourcing.popo",
        "sqlite://",
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite:///file::memory:?cache=shared",
        "sqlite://host/ledger.db",
        "sqlite:///ledger.db?mode=memory",
        "sqlite:///dir/",
        "mysql://u@h/db",
        "postgresql://h/db",
        "postgresql://u@/db",
        "postgresql://u@h",
        "postgresql://u@h/",
        "postgresql://u@h:99999/db",
        "postgresql://u@h/db?schema=Bad-Name",
        "postgresql://u@h/db?schema=",
        "postgresql://u@h/db?sslmode=disable",
        "postgresql://u@h/db#frag",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(DatabaseURLError):
        parse_database_url(url)
    with pytest.raises(DatabaseURLError):
        open_store(url, create=True)


def test_refused_url_message_masks_the_password() -> None:
    with pytest.raises(DatabaseURLError) as info:
        parse_database_url("mysql://u:hunter2@h/db")
    assert "hunter2" not in str(info.value)


def test_unreachable_postgres_is_a_store_error() -> None:
    started = time.monotonic()
    with pytest.raises(StoreError, match="cannot connect") as info:
        open_store("postgresql://postgres:pw@127.0.0.1:1/test")
    assert time.monotonic() - started < 10
    assert "pw@" not in str(info.value)


# -- init and open ------------------------------------------------------------------------------


def test_open_without_init_tells_to_run_init(store_url: str) -> None:
    with pytest.raises(LedgerNotFoundError, match="claimledger init"):
        open_store(store_url)


def test_open_without_init_creates_no_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "nothing.db"
    with pytest.raises(LedgerNotFoundError, match="claimledger init"):
        open_store(f"sqlite:///{path}")
    assert not path.exists()


def test_open_without_init_in_missing_postgres_schema(pg_schema: str) -> None:
    with pytest.raises(LedgerNotFoundError, match="claimledger init"):
        open_store(f"{PG_BASE_URL}?schema={pg_schema}_absent")


def test_init_creates_a_missing_postgres_schema(pg_schema: str) -> None:
    url = f"{PG_BASE_URL}?schema={pg_schema}"
    raw_execute(url, f"DROP SCHEMA {pg_schema}")
    with open_store(url, create=True) as store:
        store.append([entry(0, "registry", 0)])
    with open_store(url) as store:
        assert store.size() == 1


def test_init_refuses_an_existing_ledger(open_stores: OpenStores) -> None:
    first = open_stores(create=True)
    first.append([entry(0, "registry", 0)])
    with pytest.raises(LedgerExistsError):
        open_stores(create=True)
    assert first.size() == 1


def test_init_again_on_an_empty_ledger_is_allowed(open_stores: OpenStores) -> None:
    open_stores(create=True).close()
    store = open_stores(create=True)
    assert store.size() == 0
    store.append([entry(0, "registry", 0)])
    assert open_stores().size() == 1


def test_process_environment_cannot_swap_the_database(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # eventsourcing merges os.environ into an application's settings, and reads
    # <APPNAME>_<KEY> before <KEY>; none of it may reach the store.
    for key in ("PERSISTENCE_MODULE", "CLAIMLEDGER_PERSISTENCE_MODULE"):
        monkeypatch.setenv(key, "eventsourcing.popo")
    monkeypatch.setenv("CLAIMLEDGER_SQLITE_DBNAME", ":memory:")
    monkeypatch.setenv("COMPRESSOR_TOPIC", "eventsourcing.compressor:ZlibCompressor")
    with open_store(store_url, create=True) as store:
        store.append([entry(0, "registry", 0)])
    monkeypatch.delenv("PERSISTENCE_MODULE")
    monkeypatch.delenv("CLAIMLEDGER_PERSISTENCE_MODULE")
    monkeypatch.delenv("CLAIMLEDGER_SQLITE_DBNAME")
    monkeypatch.delenv("COMPRESSOR_TOPIC")
    with open_store(store_url) as store:
        assert store.log_entries(0, 1) == [entry(0, "registry", 0)]


def test_sqlite_is_wal_with_full_sync(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'l.db'}", create=True) as store:
        backend = store.backend
        assert isinstance(backend, SQLiteBackend)
        assert backend.pragma("journal_mode") == "wal"
        assert backend.pragma("synchronous") == 2  # FULL


def test_new_sqlite_files_get_16_kib_pages(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'l.db'}", create=True) as store:
        backend = store.backend
        assert isinstance(backend, SQLiteBackend)
        assert backend.pragma("page_size") == SQLITE_PAGE_SIZE == 16384
        store.append([entry(0, "registry", 0)])
    with open_store(f"sqlite:///{tmp_path / 'l.db'}") as store:
        assert store.backend.pragma("page_size") == 16384  # type: ignore[attr-defined]


def test_an_existing_sqlite_file_keeps_its_page_size(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA page_size = 4096")
        conn.execute("CREATE TABLE unrelated (x INTEGER)")
        conn.commit()
    with open_store(f"sqlite:///{path}", create=True) as store:
        assert store.backend.pragma("page_size") == 4096  # type: ignore[attr-defined]


def test_sqlite_path_with_uri_characters(tmp_path: Path) -> None:
    path = tmp_path / "a dir #1 ?x=%41" / "ledger.db"
    url = f"sqlite:///{quote(str(path))}"  # the URL path is percent-decoded
    with open_store(url, create=True) as store:
        store.append([entry(0, "registry", 0)])
    assert path.is_file()
    with open_store(url) as store:
        assert store.size() == 1


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database, just sixteen+ bytes of text" * 100)
    with pytest.raises(StoreError):
        open_store(f"sqlite:///{path}")
    with pytest.raises(StoreError):
        open_store(f"sqlite:///{path}", create=True)


def test_another_storage_format_is_refused(open_stores: OpenStores, store_url: str) -> None:
    open_stores(create=True).close()
    raw_execute(store_url, "UPDATE claimledger_meta SET value=? WHERE key=?", (99, "format"))
    with pytest.raises(StoreError, match="storage format 99"):
        open_stores()


# -- append and read ----------------------------------------------------------------------------


def test_empty_store(store: EntryStore) -> None:
    assert store.size() == 0
    assert store.streams() == []
    assert store.stream_length("acme") == 0
    assert store.stream_head("acme") is None
    assert store.stream_entries("acme") == []
    assert store.log_entries(0, 10) == []
    assert list(store.iter_log()) == []
    store.append([])
    assert store.size() == 0


def test_append_and_read_back(store: EntryStore) -> None:
    entries = interleaved(10)
    store.append(entries[:4])
    store.append(entries[4:5])
    store.append(entries[5:])
    assert store.size() == 10
    assert store.streams() == ["registry", "acme", "globex"]
    acme = [e for e in entries if e.stream == "acme"]
    assert store.stream_length("acme") == len(acme) == 3
    assert store.stream_head("acme") == acme[-1]
    assert store.stream_entries("acme") == acme
    assert store.stream_entries("acme", 1) == acme[1:]
    assert store.stream_entries("acme", 1, 2) == acme[1:2]
    assert store.stream_entries("acme", 2, 1) == []
    assert store.stream_entries("acme", 5) == []
    assert store.log_entries(0, 10) == entries
    assert store.log_entries(3, 7) == entries[3:7]
    assert store.log_entries(8, 100) == entries[8:]
    assert store.log_entries(10, 20) == []
    leaves = store.leaves(2, 4)
    assert [(lf.index, lf.stream, lf.position, lf.log_time_ms, lf.entry_hash) for lf in leaves] == [
        (e.index, e.stream, e.position, e.log_time_ms, e.entry_hash) for e in entries[2:4]
    ]


def test_read_bounds(store: EntryStore) -> None:
    store.append(interleaved(3))
    assert store.log_entries(1, 2**70) == interleaved(3)[1:]
    assert store.stream_entries("registry", 0, 2**70) == interleaved(3)[:1]
    for bad in ((-1, 2), (0, -1), (2**63, 2**64)):
        with pytest.raises(ValueError, match=r"bound|beyond"):
            store.log_entries(*bad)
    with pytest.raises(ValueError, match="bound"):
        store.stream_entries("registry", -1)


@settings(
    max_examples=12,
    deadline=None,
    # Each example makes its own database next to store_url's; nothing is shared between examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    streams=st.lists(
        st.sampled_from(["registry", "acme", "globex", "initech"]), min_size=1, max_size=30
    ),
    cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=6),
    batch=st.integers(min_value=1, max_value=8),
)
def test_any_batching_reads_back_the_same(
    store_url: str, streams: list[str], cuts: list[int], batch: int
) -> None:
    lengths: dict[str, int] = {}
    entries = []
    for i, name in enumerate(streams):
        entries.append(entry(i, name, lengths.get(name, 0)))
        lengths[name] = lengths.get(name, 0) + 1
    bounds = sorted({0, len(entries), *(c for c in cuts if c < len(entries))})
    with sibling_database(store_url) as url, open_store(url, create=True) as store:
        for lo, hi in itertools.pairwise(bounds):
            store.append(entries[lo:hi])
        assert store.size() == len(entries)
        assert store.log_entries(0, len(entries)) == entries
        assert list(store.iter_log(batch=batch)) == entries
        assert store.streams() == list(dict.fromkeys(streams))
        for name in lengths:
            assert store.stream_entries(name) == [e for e in entries if e.stream == name]
            assert store.stream_head(name) == [e for e in entries if e.stream == name][-1]


def test_a_second_store_object_sees_the_writes(open_stores: OpenStores) -> None:
    writer = open_stores(create=True)
    reader = open_stores()
    writer.append(interleaved(5))
    assert reader.size() == 5
    assert reader.log_entries(0, 5) == interleaved(5)


def test_envelope_bytes_round_trip_exactly(store: EntryStore) -> None:
    weird = StoredEntry(
        0, "stream ü/\"'\\", 0, 0, bytes(range(256)) * 3, bytes(range(32)), bytes(range(32, 64))
    )
    store.append([weird])
    assert store.log_entries(0, 1) == [weird]
    assert store.stream_entries(weird.stream) == [weird]
    assert store.streams() == [weird.stream]


def test_data_survives_close_and_reopen(open_stores: OpenStores) -> None:
    store = open_stores(create=True)
    entries = interleaved(7)
    store.append(entries)
    store.put_nodes([(0, 0, b"\x01" * 32), (1, 0, b"\x02" * 32)], 2)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.append([entry(7, "acme", 2)])
    again = open_stores()
    assert again.size() == 7
    assert list(again.iter_log()) == entries
    assert again.streams() == ["registry", "acme", "globex"]
    assert again.nodes_size() == 2
    assert again.get_node(1, 0) == b"\x02" * 32
    again.append([entry(7, "acme", 2)])
    assert again.size() == 8


# -- the cheap checks before writing -------------------------------------------------------------


def test_index_gap_is_refused(store: EntryStore) -> None:
    store.append([entry(0, "a", 0)])
    with pytest.raises(StoreError, match="gap") as info:
        store.append([entry(2, "a", 1)])
    assert not isinstance(info.value, ConflictError)
    assert store.size() == 1


def test_indexes_must_be_consecutive(store: EntryStore) -> None:
    with pytest.raises(StoreError, match="consecutive"):
        store.append([entry(0, "a", 0), entry(2, "a", 1)])
    assert store.size() == 0


def test_position_gap_is_refused(store: EntryStore) -> None:
    with pytest.raises(StoreError, match="comes next") as info:
        store.append([entry(0, "a", 0), entry(1, "a", 2)])
    assert not isinstance(info.value, ConflictError)
    with pytest.raises(StoreError, match="comes next"):
        store.append([entry(0, "a", 1)])
    assert store.size() == 0


def test_taken_index_is_an_index_conflict(store: EntryStore) -> None:
    store.append([entry(0, "a", 0), entry(1, "b", 0)])
    with pytest.raises(IndexConflictError) as info:
        store.append([entry(1, "c", 0)])
    assert info.value.index == 1


def test_taken_position_is_a_stream_conflict(store: EntryStore) -> None:
    store.append([entry(0, "a", 0), entry(1, "a", 1)])
    with pytest.raises(StreamConflictError) as info:
        store.append([entry(2, "b", 0), entry(3, "a", 1)])
    assert (info.value.stream, info.value.position) == ("a", 1)


def test_batch_with_a_conflicting_position_writes_nothing(store: EntryStore) -> None:
    store.append(interleaved(3))
    batch = [entry(3, "new", 0), entry(4, "acme", 1), entry(5, "registry", 0)]
    with pytest.raises(StreamConflictError):
        store.append(batch)
    assert store.size() == 3
    assert store.stream_length("new") == 0
    assert store.stream_length("acme") == 1
    assert store.streams() == ["registry", "acme", "globex"]


# -- the database as the real guard --------------------------------------------------------------


def test_stale_writer_batch_fails_whole_on_the_database(open_stores: OpenStores) -> None:
    a = open_stores(create=True)
    b = open_stores()
    b.append([entry(0, "s", 0)])  # b now believes: size 1, "s" has 1 entry
    a.append([entry(1, "s", 1, tag="a")])  # behind b's back
    batch = [entry(1, "u", 0, tag="b"), entry(2, "v", 0, tag="b"), entry(3, "s", 1, tag="b")]
    with pytest.raises(StreamConflictError) as info:
        b.append(batch)
    assert (info.value.stream, info.value.position) == ("s", 1)
    assert a.size() == 2
    assert a.stream_length("u") == a.stream_length("v") == 0
    assert a.streams() == ["s"]
    assert a.log_entries(1, 2) == [entry(1, "s", 1, tag="a")]
    # b recovers: its beliefs were refreshed by the conflict.
    b.append([entry(2, "u", 0, tag="b")])
    assert a.size() == 3


def test_stale_writer_on_another_stream_gets_an_index_conflict(open_stores: OpenStores) -> None:
    a = open_stores(create=True)
    b = open_stores()
    b.append([entry(0, "s", 0)])
    a.append([entry(1, "t", 0)])
    with pytest.raises(IndexConflictError) as info:
        b.append([entry(1, "s", 1)])
    assert info.value.index == 1
    assert a.streams() == ["s", "t"]
    assert a.stream_length("s") == 1


def _race(stores: list[EntryStore], batches: list[list[StoredEntry]]) -> list[BaseException | None]:
    barrier = threading.Barrier(len(stores))
    results: list[BaseException | None] = [None] * len(stores)

    def run(k: int) -> None:
        barrier.wait()
        try:
            stores[k].append(batches[k])
        except BaseException as exc:
            results[k] = exc

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.parametrize("same_stream", [True, False], ids=["same-stream", "other-streams"])
def test_racing_writers_exactly_one_wins(open_stores: OpenStores, same_stream: bool) -> None:
    stores = [open_stores(create=True), open_stores()]
    stores[0].append([entry(0, "s", 0)])
    for store in stores:  # both now believe the log has 1 entry and "s" has 1
        assert store.size() == 1
        assert store.stream_length("s") == 1
    for rnd in range(8):
        index = 1 + rnd
        lengths = {name: stores[0].stream_length(name) for name in ("s", "w0", "w1")}
        batches = []
        for k in range(2):
            name = "s" if same_stream else f"w{k}"
            batches.append([entry(index, name, lengths[name], tag=f"writer{k}")])
        results = _race(stores, batches)
        winners = [k for k in range(2) if results[k] is None]
        assert len(winners) == 1, results
        loser = 1 - winners[0]
        expected = StreamConflictError if same_stream else IndexConflictError
        assert type(results[loser]) is expected, results[loser]
        assert stores[loser].size() == index + 1
        assert stores[loser].log_entries(index, index + 1) == batches[winners[0]]
    assert [e.index for e in stores[1].iter_log()] == list(range(9))


_WORKER = """
import json, pathlib, sys, time
from ledger._store import StoredEntry, open_store
from ledger.errors import ConflictError

url, wid, n, gate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), pathlib.Path(sys.argv[4])
acked, conflicts, k = [], 0, 0
with open_store(url) as store:
    # Start together: say ready, then wait for the go (so the writers really contend).
    (gate / f"ready-{wid}").touch()
    while not (gate / "go").exists():
        time.sleep(0.002)
    while len(acked) < n:
        k += 1
        size, batch, lengths = store.size(), [], {}
        for j in range(1 + k % 3):
            name = f"s{(wid + k + j) % 3}"
            if name not in lengths:
                lengths[name] = store.stream_length(name)
            tag = f"w{wid}-{k}-{j}"
            root = bytes(32)
            batch.append(
                StoredEntry(size + j, name, lengths[name], k, tag.encode(), bytes(32), root)
            )
            lengths[name] += 1
        try:
            store.append(batch)
        except ConflictError:
            conflicts += 1
            continue
        acked.extend(e.envelope.decode() for e in batch)
print(json.dumps({"acked": acked, "conflicts": conflicts}))
"""


def test_writer_processes_leave_no_fork_no_gap_no_lost_entry(
    store: EntryStore, store_url: str, tmp_path: Path
) -> None:
    repo = Path(__file__).resolve().parents[2]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, store_url, str(w), "40", str(tmp_path)],
            cwd=repo,
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    # Regression (flaky under load): workers that started one after another sometimes never
    # met, and "they did contend" failed. They now start together.
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    reports = [json.loads(p.communicate(timeout=120)[0]) for p in workers]
    assert all(p.returncode == 0 for p in workers)
    acked = [tag for r in reports for tag in r["acked"]]
    log = list(store.iter_log(batch=64))
    assert [e.index for e in log] == list(range(len(log)))  # gap-free
    assert sorted(e.envelope.decode() for e in log) == sorted(acked)  # nothing lost, no extra
    for name in store.streams():
        chain = store.stream_entries(name)
        assert [e.position for e in chain] == list(range(len(chain)))  # no fork
        assert [e.index for e in chain] == sorted(e.index for e in chain)
    assert sum(r["conflicts"] for r in reports) > 0  # they did contend


# -- iteration -----------------------------------------------------------------------------------


def test_iter_log_in_order_in_constant_batches(
    store: EntryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = interleaved(25, ("a", "b", "c", "d"))
    for lo in range(0, 25, 6):
        store.append(entries[lo : lo + 6])
    calls: list[tuple[int, int]] = []
    real = store.log_entries

    def spy(start: int, end: int) -> list[StoredEntry]:
        calls.append((start, end))
        return real(start, end)

    monkeypatch.setattr(store, "log_entries", spy)
    it = store.iter_log(batch=4)
    assert next(it) == entries[0]
    assert calls == [(0, 4)]  # lazy: one batch read so far
    assert [next(it) for _ in range(24)] == entries[1:]
    assert list(it) == []
    assert all(end - start <= 4 for start, end in calls)
    assert [c[0] for c in calls] == list(range(0, 25, 4))
    assert list(store.iter_log(3, 5, end=11)) == entries[3:11]
    assert list(store.iter_log(20, 7, end=100)) == entries[20:]
    with pytest.raises(ValueError, match="batch"):
        list(store.iter_log(batch=0))


# -- damage is found and located -----------------------------------------------------------------


def test_log_and_stream_disagreeing_is_corruption(store_url: str, store: EntryStore) -> None:
    store.append(interleaved(5))
    state = (
        b'{"stream":"acme","position":1,"log_time_ms":1764000000004,"entry_hash":"'
        + b"ab" * 32
        + b'","state_root":"'
        + b"cd" * 32
        + b'"}'
    )
    raw_execute(
        store_url,
        "UPDATE claimledger_events SET state=? WHERE originator_id=? AND originator_version=?",
        (state, oid(store_url, LOG_ID), 5),
    )
    assert store.log_entries(0, 4) == interleaved(4)
    with pytest.raises(CorruptionError) as info:
        list(store.iter_log(batch=2))
    assert (info.value.index, info.value.stream, info.value.position) == (4, "acme", 1)


def test_unreadable_stream_row_is_corruption(store_url: str, store: EntryStore) -> None:
    store.append(interleaved(3))
    raw_execute(
        store_url,
        "UPDATE claimledger_events SET state=? WHERE originator_id=? AND originator_version=?",
        (b"{not json", oid(store_url, stream_id("globex")), 1),
    )
    with pytest.raises(CorruptionError) as info:
        store.stream_entries("globex")
    assert (info.value.stream, info.value.position) == ("globex", 0)


# -- Merkle nodes --------------------------------------------------------------------------------


def test_nodes_round_trip(store: EntryStore) -> None:
    assert store.nodes_size() == 0
    assert store.get_nodes([(0, 0)]) == {}
    nodes = [(level, index, bytes([level, index]) * 16) for level in range(3) for index in range(4)]
    store.put_nodes(nodes, 4)
    assert store.nodes_size() == 4
    assert store.get_node(2, 3) == bytes([2, 3]) * 16
    wanted = [(0, 0), (1, 2), (9, 9), (1, 2)]
    assert store.get_nodes(wanted) == {(0, 0): bytes(32), (1, 2): bytes([1, 2]) * 16}
    with pytest.raises(StoreError, match="not stored"):
        store.get_node(9, 9)
    store.put_nodes(iter([(0, 4, b"\xff" * 32), (0, 0, b"\xee" * 32)]), 5)
    assert store.nodes_size() == 5
    assert store.get_nodes([(0, 4), (0, 0)]) == {(0, 4): b"\xff" * 32, (0, 0): b"\xee" * 32}
    many = [(7, i, i.to_bytes(32, "big")) for i in range(1000)]
    store.put_nodes(many, 1000)
    got = store.get_nodes([(7, i) for i in range(1000)])
    assert got == {(7, i): h for _, i, h in many}


def test_bad_node_stores_nothing(store: EntryStore) -> None:
    store.put_nodes([(0, 0, bytes(32))], 1)
    with pytest.raises(ValueError, match="bad node"):
        store.put_nodes([(0, 1, b"\x01" * 32), (0, 2, b"short")], 3)
    assert store.nodes_size() == 1
    assert store.get_nodes([(0, 1)]) == {}


def test_node_marker_and_nodes_commit_together(store_url: str, store: EntryStore) -> None:
    # The marker is updated before the nodes are written; when writing the nodes fails (here:
    # their table is gone), the marker update must be rolled back with them.
    store.put_nodes([(0, 0, bytes(32))], 1)
    raw_execute(store_url, "ALTER TABLE claimledger_merkle_nodes RENAME TO moved_nodes")
    with pytest.raises(StoreError):
        store.put_nodes([(0, 1, bytes(32))], 2)
    assert store.nodes_size() == 1


def test_a_sqlite_ledger_and_the_cli_never_load_psycopg(tmp_path: Path) -> None:
    # psycopg and eventsourcing's PostgreSQL module cost a fifth of every CLI start: only a
    # PostgreSQL ledger loads them (ledger._db_postgres).
    script = (
        "import sys, cli._main\n"
        "from ledger import Ledger\n"
        "from ledger._store import open_store\n"
        f"open_store('sqlite:///{tmp_path / 'x.db'}', create=True).close()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'psycopg'"
        " or m in ('eventsourcing.postgres', 'ledger._db_postgres'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "[]"


def test_a_database_error_mid_use_is_a_store_error(store_url: str) -> None:
    # On PostgreSQL the error is psycopg's, which ledger._store wraps without importing psycopg.
    with open_store(store_url, create=True) as store:
        raw_execute(store_url, "DROP TABLE claimledger_checkpoints")
        with pytest.raises(StoreError, match="cannot read the latest checkpoint"):
            store.latest_checkpoint()
