"""Snapshots (issue 10 §1, ledger/_snapshot.py, SPEC §16): an open from a snapshot rebuilds the
same state as a replay from genesis; a snapshot altered in any stored column, by a single byte, is
refused with a warning and the log replayed; one signed for other code or another log is refused;
the unpickler resolves nothing outside the core packages; a kill while a snapshot is written
leaves the previous one; writers save one on their own as the log grows; SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import ledger._ledger as ledger_module
from attest.entry import LogEntry
from attest.errors import EncodingError, VerificationError
from attest.snapshot import SnapshotBinding
from attest.statemap import StateMap
from attest.statements import REGISTRY_STREAM
from keys import PrivateKey
from ledger import Ledger, verify_ledger
from ledger._snapshot import (
    Derived,
    SnapshotRefused,
    StoredSnapshot,
    TakenSnapshot,
    _dumps,
    _loads,
    layout_tag,
    read_snapshot,
    take_snapshot,
)
from ledger._views import PartKey
from ledger.errors import CorruptionError, LedgerError
from tests.attest.examples import example_test_record_body
from tests.attest.logbuilder import key
from tests.conftest import reading_meanwhile, small_log_chunks
from tests.ledger.actors import LOG_KEY, P, Q, V, claim, envelope, init_ledger, register_story
from tests.web.test_pages import make_demo

ROOT = Path(__file__).resolve().parents[2]
LOGGER = "ledger._ledger"
COLUMNS = ("size", "root", "state_root", "tag", "signature", "data")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """The demo ledger (every kind of entry), built once: its database file, keys, today."""
    root = tmp_path_factory.mktemp("demo")
    info, today = make_demo(root)
    return root / "ledger.db", info.keys_dir, today


@pytest.fixture
def db(demo: tuple[Path, Path, int], tmp_path: Path) -> Path:
    """A private copy of the demo database."""
    copy = tmp_path / "ledger.db"
    shutil.copy(demo[0], copy)
    return copy


def _log_key(demo: tuple[Path, Path, int]) -> PrivateKey:
    return PrivateKey.load(demo[1] / "log.key", None)


def _fingerprint(led: Ledger, today: int) -> tuple[object, ...]:
    """Everything a server answers from the derived state, for comparing two opens."""
    views = led.views
    streams = views.streams()
    st = led.state
    return (
        led.size,
        led.checkpoint(),
        st.state_root,
        st.heads,
        st.stream_rules([s for s in streams if s != REGISTRY_STREAM]),
        st.records,
        {k: (v.party, v.key.raw, v.revoked_at) for k, v in st.keys.items()},
        [views.replay(s, at_ms=today) for s in streams],
        views.scorecard(at_ms=today),
        views.parties(),
        [views.verifier(p.id, at_ms=today) for p in views.parties(role="verifier")],
        views.feed(limit=1000),
        [views.find_names(p.name) for p in views.parties(role="provider")],
        views.find_names("acme socail"),  # a typing error: the fuzzy match
        led.inclusion_proof(1, led.size),
        led.consistency_proof(2, led.size),
        led.state_proof(led.size, [(kind, s) for s in streams for kind in ("stream", "party")]),
    )


def _open(url: str, log_key: PrivateKey | None, **kw: object) -> Ledger:
    return Ledger.open(url, log_key=log_key, **kw)  # type: ignore[arg-type]


def test_an_open_from_a_snapshot_rebuilds_what_a_replay_rebuilds(
    demo: tuple[Path, Path, int], db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, today = f"sqlite:///{db}", demo[2]
    with _open(url, _log_key(demo), snapshots=False) as led:
        replayed = _fingerprint(led, today)
        with pytest.raises(Exception, match="saves snapshots"):
            led.snapshot()
    with _open(url, _log_key(demo)) as led:
        assert led.snapshot() == led.size
    with caplog.at_level(logging.INFO, logger=LOGGER), _open(url, _log_key(demo)) as led:
        assert f"opened from the snapshot of {led.size} entries" in caplog.text
        # Nothing per stream is read until something touches it (issue 10 §1) ...
        assert led.state.deferred == len(led.views.streams()) - 1
        assert led.views.loaded_parts() == 0
        # The name index is read at the first search; the search's keys were pickled sorted.
        assert not led.views._names.loaded
        assert led.views._provider_keys.pending == led.views._service_keys.pending == []
        # ... nor the state map's nodes until a proof or an append needs them.
        assert led.state.state_map.loader is not None
        # The whole log's feed reads no stream's part but those of the verdicts it says are
        # expiring: the newest entries and the newest verdicts are in the views' core.
        feed = led.views.feed()
        assert len(feed.items) > 40
        expiring = {i.fact.stream for i in feed.items if i.expiring}
        assert led.views.loaded_parts() == len(expiring) < len(led.views.part_keys())
        assert _fingerprint(led, today) == replayed
        # ... and then it is all there.
        assert led.state.deferred == 0
        assert led.views.loaded_parts() == len(led.views.part_keys())
    # A read-only server opens from it too, and a writer goes on appending after it.
    with caplog.at_level(logging.INFO, logger=LOGGER), _open(url, None) as ro:
        assert ro.size == led.size
        assert not ro.writable
        assert ro.views.scorecard(at_ms=today) == replayed[8]
    assert "refused" not in caplog.text


def test_entries_after_the_snapshot_are_replayed_and_checked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with init_ledger(url) as led:
        register_story(led)
        led.submit(claim(led, P))
        snap = led.snapshot()
        led.submit(claim(led, Q))
        led.submit(claim(led, P, "report.authority"))
        size, note = led.size, led.checkpoint()
    with _open(url, key(LOG_KEY)) as led:
        assert (led.size, led.checkpoint()) == (size, note)
        # Q's first claim, after the snapshot, named its service: added when the index is read.
        assert not led.views._names.loaded
        (service,) = led.views.services(Q)
        hits = led.views.find_names(service).hits
        assert {h.item.provider for h in hits if h.item.kind == "service"} == {P, Q}
        assert led.head(Q)[1] == 1
        assert led.head(P)[1] == 2
        led.submit(claim(led, Q, "report.authority"))  # the sequencer goes on from there
        assert led.size == size + 1
        note = led.checkpoint()
    assert snap < size
    verify_ledger(url, note)  # the whole log, from genesis, without the snapshot


def _corrupt(db: Path, column: str) -> None:
    """Change one byte of ``column`` of the stored snapshot (size: one less)."""
    con = sqlite3.connect(db)
    with con:
        if column == "size":
            con.execute("UPDATE claimledger_snapshots SET size = size - 1")
        else:
            (value,) = con.execute(f"SELECT {column} FROM claimledger_snapshots").fetchone()  # noqa: S608
            b = bytearray(value)
            b[len(b) // 2] ^= 0x01
            con.execute(f"UPDATE claimledger_snapshots SET {column} = ?", (bytes(b),))  # noqa: S608
    con.close()


@pytest.mark.parametrize("column", COLUMNS)
def test_a_snapshot_changed_by_one_byte_is_refused_and_the_log_replayed(
    demo: tuple[Path, Path, int], db: Path, column: str, caplog: pytest.LogCaptureFixture
) -> None:
    url, today = f"sqlite:///{db}", demo[2]
    with _open(url, _log_key(demo)) as led:
        led.snapshot()
        expected = _fingerprint(led, today)
    _corrupt(db, column)
    with caplog.at_level(logging.INFO, logger=LOGGER), _open(url, None) as led:
        assert _fingerprint(led, today) == expected
    # Every column is signed (the data through its digest): any change breaks the signature;
    # the layout tag is compared first (a snapshot of other code is refused for that).
    reason = "another version" if column == "tag" else "not signed by the log key as it is stored"
    assert reason in caplog.text
    assert "replaying the log from genesis" in caplog.text
    assert "opened from the snapshot" not in caplog.text


def _taken(
    demo: tuple[Path, Path, int], db: Path
) -> tuple[TakenSnapshot, str, LogEntry, PrivateKey]:
    """A snapshot of the demo, made in memory: it, the origin, the last entry and the log key."""
    key_ = _log_key(demo)
    with _open(f"sqlite:///{db}", key_) as led:
        derived = Derived(led.state, led.views, led._frontier, led._about, led._index_of)
        origin, size = led.origin, led.size
        last = led.log_entries(size - 1, size)[0]
    return take_snapshot(derived, origin, key_), origin, last, key_


def _read(
    taken: TakenSnapshot,
    stored: StoredSnapshot | None = None,
    *,
    parts: dict[bytes, bytes] | None = None,
    **kw: object,
) -> Derived:
    """read_snapshot of ``stored`` (default: the taken one) with the taken parts (or these)."""
    given = taken.parts if parts is None else parts
    return read_snapshot(
        stored or taken.stored,
        parts=lambda _wanted: given.keys(),
        fetch=given.get,
        **kw,  # type: ignore[arg-type]
    )


def test_a_snapshot_of_other_code_or_another_log_is_refused(
    demo: tuple[Path, Path, int], db: Path
) -> None:
    taken, origin, last, key_ = _taken(demo, db)
    good = taken.stored
    ours: dict[str, Any] = {"origin": origin, "log_key": key_.public_key, "last": last}
    assert isinstance(_read(taken, **ours), Derived)
    # Signed by the log key, but for another layout of the classes (another version's code).
    other = _signed(good, key_, origin, tag=hashlib.sha256(b"other code").digest())
    with pytest.raises(SnapshotRefused, match="another version"):
        _read(taken, other, **ours)
    # Signed by another key: not this log's.
    stranger = _signed(good, PrivateKey.generate(), origin)
    with pytest.raises(SnapshotRefused, match="not signed by the log key"):
        _read(taken, stranger, **ours)
    # The state of another log, signed by this log's key over its roots, is still refused.
    derived = _read(taken, **ours)
    other_log = Derived(derived.state, derived.views, derived.frontier, {}, {})
    other_log.state.origin = "example.org/another-log"
    forged = take_snapshot(other_log, origin, key_)
    with pytest.raises(SnapshotRefused, match="another log"):
        _read(forged, **ours)


def test_a_part_missing_refuses_the_snapshot_and_one_altered_is_refused_when_read(
    demo: tuple[Path, Path, int], db: Path
) -> None:
    """The core names each part by its SHA-256 and is signed: a part gone from the database
    refuses the whole snapshot at open; one altered (by a byte) is refused when read, never
    unpickled, and the reader is told (the ledger then drops the snapshot)."""
    taken, origin, last, key_ = _taken(demo, db)
    ours: dict[str, Any] = {"origin": origin, "log_key": key_.public_key, "last": last}
    # Every part is new (nothing stored yet): each provider's rules and views.
    assert len(taken.parts) == len(taken.digests)
    assert Counter(k for k, _ in taken.digests) == {"r": 5, "s": 5}
    some = next(iter(taken.parts))
    flipped = bytearray(taken.parts[some])
    flipped[len(flipped) // 2] ^= 1
    with pytest.raises(SnapshotRefused, match="1 of its parts are missing"):
        _read(taken, parts={d: b for d, b in taken.parts.items() if d != some}, **ours)
    told: list[None] = []
    derived = _read(
        taken,
        parts={**taken.parts, some: bytes(flipped)},
        on_corrupt=lambda: told.append(None),
        **ours,
    )
    with pytest.raises(CorruptionError, match="altered in the database"):
        _touch_everything(derived)
    assert told == [None]
    # Altered after the open (the database changed under a running server): the same.
    parts = dict(taken.parts)
    derived = _read(taken, parts=parts, **ours)
    parts[some] = bytes(flipped)
    with pytest.raises(CorruptionError, match="altered in the database"):
        _touch_everything(derived)


def test_a_part_altered_in_the_database_drops_the_snapshot_when_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An open checks only that the parts are there (reading them all would cost the log's
    size); a part altered is found when read: that read fails, the snapshot is dropped, no
    snapshot is saved from that state, and the next open replays the log."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    digests = _two_companies(url)
    with sqlite3.connect(tmp_path / "ledger.db") as con:
        (data,) = con.execute(
            "SELECT data FROM claimledger_snapshot_parts WHERE digest = ?", (digests[("s", P)],)
        ).fetchone()
        con.execute(
            "UPDATE claimledger_snapshot_parts SET data = ? WHERE digest = ?",
            (data[:-1] + bytes([data[-1] ^ 1]), digests[("s", P)]),
        )
    with caplog.at_level(logging.INFO, logger=LOGGER), _open(url, key(LOG_KEY)) as led:
        assert f"opened from the snapshot of {led.size} entries" in caplog.text
        assert led.views.replay(Q).claims  # an unaltered part reads
        with pytest.raises(CorruptionError, match="altered in the database"):
            led.views.replay(P)
        assert "the snapshot is dropped" in caplog.text
        assert led.store.latest_snapshot() is None
        with pytest.raises(LedgerError, match=r"found altered.*restart it to replay the log"):
            led.snapshot()  # it would name the altered part again
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER), _open(url, key(LOG_KEY)) as led:
        assert "opened from the snapshot" not in caplog.text
        assert len(led.views.replay(P).claims) == 1


@pytest.mark.usefixtures("restore_gc")
def test_a_server_opens_before_checking_its_parts_and_drops_the_snapshot_if_one_is_missing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server's open (Ledger.open_to_serve) leaves the check that every part is stored to a
    thread of its own once it serves: a part missing then drops the snapshot as one altered
    does, and a read of it fails; the next open replays the log."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    digests = _two_companies(url)
    with _open(url, None) as led:  # all there: nothing to say
        assert led.check_snapshot_parts() == 0
    with sqlite3.connect(tmp_path / "ledger.db") as con:
        con.execute("DELETE FROM claimledger_snapshot_parts WHERE digest = ?", (digests[("s", P)],))
    with caplog.at_level(logging.INFO, logger=LOGGER), _open(url, None) as led:
        assert "refused (1 of its parts are missing)" in caplog.text  # Ledger.open checks
    caplog.clear()
    with (
        caplog.at_level(logging.INFO, logger=LOGGER),
        Ledger.open_to_serve(url, log_key=key(LOG_KEY)) as led,
    ):
        assert f"opened from the snapshot of {led.size} entries" in caplog.text
        assert "the snapshot is dropped" not in caplog.text
        assert led.check_snapshot_parts() == 1
        assert "the snapshot is dropped" in caplog.text
        assert led.store.latest_snapshot() is None
        assert led.views.replay(Q).claims  # a part still there reads
        with pytest.raises(CorruptionError, match="gone in the database"):
            led.views.replay(P)
        with pytest.raises(LedgerError, match="restart it to replay the log"):
            led.snapshot()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER), _open(url, key(LOG_KEY)) as led:
        assert "opened from the snapshot" not in caplog.text
        assert len(led.views.replay(P).claims) == 1


def _touch_everything(derived: Derived) -> None:
    """Read every part of a snapshot's views and rules."""
    for k in derived.views.part_keys():
        derived.views._streams[k[1]].part()
    derived.state.stream_rules([n for k, n in derived.views.part_keys() if k == "s"])


def _signed(
    good: StoredSnapshot,
    signer: PrivateKey,
    origin: str,
    *,
    data: bytes | None = None,
    tag: bytes | None = None,
) -> StoredSnapshot:
    data = good.data if data is None else data
    tag = good.tag if tag is None else tag
    binding = SnapshotBinding(
        origin=origin,
        size=good.size,
        root=good.root,
        state_root=good.state_root,
        digest=hashlib.sha256(data).digest(),
        tag=tag,
    )
    return StoredSnapshot(good.size, good.root, good.state_root, tag, binding.sign(signer), data)


def test_a_snapshot_s_state_map_reads_its_nodes_when_first_needed() -> None:
    m = StateMap.build((hashlib.sha256(bytes([i])).digest(), bytes(48)) for i in range(40))
    data = _dumps(m)
    read = _loads(data)
    assert isinstance(read, StateMap)
    assert read.loader is not None
    assert (read.root(), read.size) == (m.root(), m.size)  # known before the nodes are read
    assert _dumps(read) == data
    assert read.loader is not None
    key = hashlib.sha256(bytes([7])).digest()
    assert read.prove(key) == m.prove(key)
    assert read.loader is None
    assert read.set(key, bytes(47) + b"\x01").root() == m.set(key, bytes(47) + b"\x01").root()
    assert _loads(_dumps(read)).get(key) == bytes(48)  # read, it is pickled from its nodes
    other = StateMap.deferred(bytes(32), m.size, _loads(data).loader or (lambda: None))
    assert other.root() == bytes(32)
    with pytest.raises(EncodingError, match="do not have the map's root hash"):
        other.get(key)


def test_the_unpickler_resolves_nothing_outside_the_core_packages(
    demo: tuple[Path, Path, int], db: Path
) -> None:
    """Even data signed by the log key does not get to name a callable outside the core."""
    taken, origin, last, key_ = _taken(demo, db)
    good = taken.stored
    hostile = pickle.dumps(os.system)  # what a pickle may name: a function to call
    with pytest.raises(SnapshotRefused, match=r"posix\.system may not be in a snapshot"):
        _read(
            taken,
            _signed(good, key_, origin, data=hostile),
            origin=origin,
            log_key=key_.public_key,
            last=last,
        )
    assert good.tag == layout_tag()


def test_a_snapshot_reads_its_keys_back_without_checking_their_points_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every key in a snapshot passed the KEY rule when the log took it; reading 100,000 of them
    back through that check again took 5 of the 13 s an open from a snapshot took."""
    signers = [PrivateKey.from_seed(bytes([i]) * 32) for i in range(3)]
    keys = [k.public_key for k in signers]
    signature = signers[1].sign(b"m")
    data = _dumps({"keys": keys})

    def checked(raw: bytes) -> bool:
        raise AssertionError("the point check ran again")

    monkeypatch.setattr("keys._ed25519._is_prime_order_point", checked)
    back = _loads(data)["keys"]
    assert back == keys
    assert [k.key_id for k in back] == [k.key_id for k in keys]
    back[1].verify(signature, b"m")  # a working key, not only equal bytes
    # Anywhere else (a worker process's pickle), a key is checked again as it is rebuilt.
    with pytest.raises(AssertionError, match="the point check ran again"):
        pickle.loads(pickle.dumps(keys[0]))  # noqa: S301 - our own bytes


_KILLED_WHILE_WRITING = """
import os, signal, sys
import ledger._db as db
from keys import PrivateKey
from ledger import Ledger
from tests.ledger.actors import P, claim

url, key_file = sys.argv[1], sys.argv[2]
real = db.SQLiteBackend.put_snapshot

def put_and_die(self, row, parts, keep):
    with self._cursor(commit=True) as c:
        c.execute("DELETE FROM claimledger_snapshots")
        c.execute("DELETE FROM claimledger_snapshot_parts")
        c.execute("INSERT INTO claimledger_snapshots VALUES (?, ?, ?, ?, ?, ?)", row)
        c.executemany("INSERT INTO claimledger_snapshot_parts VALUES (?, ?)", parts.items())
        print("written, not committed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

db.SQLiteBackend.put_snapshot = put_and_die
with Ledger.open(url, log_key=PrivateKey.load(key_file, None)) as led:
    print("receipt", led.submit(claim(led, P)).index, flush=True)
    led.snapshot()
"""


def test_a_kill_while_a_snapshot_is_written_leaves_the_previous_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    key_file = tmp_path / "log.key"
    key(LOG_KEY).save(key_file, None, unsafe_unencrypted=True)
    with init_ledger(url) as led:
        register_story(led)
        first = led.snapshot()
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WHILE_WRITING, url, str(key_file)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -9, done.stderr
    assert "written, not committed" in done.stdout
    index = int(done.stdout.split("receipt ")[1].split()[0])
    with caplog.at_level(logging.INFO, logger=LOGGER), _open(url, key(LOG_KEY)) as led:
        assert f"opened from the snapshot of {first} entries" in caplog.text
        assert led.size == index + 1  # the entry whose receipt was printed is there
        assert led.head(P)[1] == 1
        note = led.checkpoint()
    verify_ledger(url, note)


def test_a_writer_saves_snapshots_on_its_own_as_the_log_grows(
    store_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On SQLite and PostgreSQL: after enough new entries (at the next node write, or at
    close), the writer has saved a snapshot, and the next open starts from it."""
    monkeypatch.setattr(ledger_module, "SNAPSHOT_MIN_ENTRIES", 6)
    with init_ledger(store_url) as led:
        register_story(led)  # 5 entries with the genesis: not yet
        led.flush()
        assert led.store.latest_snapshot() is None
        led.submit(claim(led, P))
        led.flush()
        assert led.store.latest_snapshot() is not None
        assert led.store.latest_snapshot()[0] == 6  # type: ignore[index]
        for _ in range(6):
            led.submit(claim(led, Q))
        size = led.size
    with caplog.at_level(logging.INFO, logger=LOGGER), _open(store_url, None) as ro:
        assert f"opened from the snapshot of {size} entries" in caplog.text
        assert ro.size == size
        assert ro.views.summary()
        assert ro.head(REGISTRY_STREAM)[1] == 5


def _two_companies(url: str) -> dict[PartKey, bytes]:
    """A new ledger at ``url``: the actors' story, a claim each by P and Q, a snapshot (whose
    parts' SHA-256 it returns)."""
    with init_ledger(url) as led:
        register_story(led)
        led.submit(claim(led, P))
        led.submit(claim(led, Q))
        led.snapshot()
        return dict(led._parts)


def _stored_parts(led: Ledger) -> set[bytes]:
    return led.store.snapshot_parts()


def test_a_snapshot_writes_only_the_parts_that_changed_and_keeps_the_previous_ones(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """On SQLite and PostgreSQL: a writer opened from a snapshot writes, at its next snapshot,
    the parts of the streams that got entries since (not the others, which it never read);
    the parts the replaced snapshot named stay for servers that opened from it; older ones go."""
    first = _two_companies(store_url)
    assert set(first) == {("r", P), ("s", P), ("r", Q), ("s", Q)}
    with _open(store_url, key(LOG_KEY)) as led:
        assert _stored_parts(led) == set(first.values())
        assert led.views.loaded_parts() == 0
        assert led.state.deferred == 2
        led.submit(claim(led, P))  # reads P's parts (rules, to decide; views, to show)
        led.snapshot()
        second = dict(led._parts)
        assert led.state.deferred == 1  # Q's rules were never read ...
        assert second[("r", Q)] == first[("r", Q)]
        assert second[("s", Q)] == first[("s", Q)]
        assert second[("r", P)] != first[("r", P)]
        assert second[("s", P)] != first[("s", P)]
        # ... and the parts of the replaced snapshot stay, for servers that opened from it.
        assert _stored_parts(led) == {*first.values(), *second.values()}
        led.submit(claim(led, P))
        led.snapshot()
        third = dict(led._parts)
        assert _stored_parts(led) == {*second.values(), *third.values()}
        assert first[("s", P)] not in _stored_parts(led)
        replayed = (led.views.replay(P), led.views.replay(Q), led.state.stream_rules([P, Q]))
    with caplog.at_level(logging.INFO, logger=LOGGER), _open(store_url, None) as ro:
        assert f"opened from the snapshot of {ro.size} entries" in caplog.text
        assert (ro.views.replay(P), ro.views.replay(Q), ro.state.stream_rules([P, Q])) == replayed


def test_the_store_says_which_parts_are_there_without_reading_them(store_url: str) -> None:
    """An open asks the store which of the parts its core names are there (on both backends:
    their keys only, not their bytes, which are checked when read)."""
    first = _two_companies(store_url)
    with _open(store_url, key(LOG_KEY)) as led:
        led.submit(claim(led, P))
        led.snapshot()
        second = dict(led._parts)
        old = first[("s", P)]
        assert old not in second.values()
        assert old in _stored_parts(led)
        wanted = frozenset(second.values())
        assert led.store.snapshot_parts(wanted) == wanted
        assert led.store.snapshot_parts({old, bytes(32)}) == {old}


def test_a_writer_over_its_memory_budget_drops_stored_parts_and_reads_them_again(
    demo: tuple[Path, Path, int], db: Path
) -> None:
    """With a budget of one entry, every read of a company drops the other companies' parts
    (and the rules' state of those streams), and every answer is still the replay's."""
    url, today = f"sqlite:///{db}", demo[2]
    with _open(url, _log_key(demo), snapshots=False) as led:
        replayed = _fingerprint(led, today)
    with _open(url, _log_key(demo)) as led:
        led.snapshot()
    with _open(url, _log_key(demo), resident_entries=1) as led:
        assert led.views.loaded_parts() == 0
        assert _fingerprint(led, today) == replayed  # reads every part, one after another
        assert led.views.loaded_parts() == 1  # the last one read: over budget, yet in use
        assert led.views.resident_entries > 1
        assert _fingerprint(led, today) == replayed  # read again, from the snapshot's parts
    with _open(url, _log_key(demo), resident_entries=None) as led:
        assert _fingerprint(led, today) == replayed
        assert led.views.loaded_parts() == len(led.views.part_keys())


def test_a_snapshot_holds_the_newest_chunk_of_the_log_index_and_the_log_the_rest(
    demo: tuple[Path, Path, int], db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The views' log index (16 bytes an entry) is in the snapshot's core only as its newest
    chunk: an open reads the others from the log's leaves when something needs them, and a
    server with a budget keeps one of them in memory; every answer is the replay's."""
    small_log_chunks(monkeypatch, chunk=4, resident=1)
    url, today = f"sqlite:///{db}", demo[2]

    def answers(led: Ledger) -> tuple[Any, ...]:
        views = led.views
        times = [views.log_time(i) for i in range(led.size)]
        return _fingerprint(led, today), times, [views.size_at(t or 0) for t in times]

    with _open(url, _log_key(demo), snapshots=False) as led:
        replayed = answers(led)
        chunks = len(led.views._all._chunks)
        assert chunks > 10
    with _open(url, _log_key(demo)) as led:
        led.snapshot()
        core = _loads(led.store.latest_snapshot()[5])  # type: ignore[index]
        assert core.views._all._chunks.count(None) == chunks - 1
    for budget in (1, None):
        with _open(url, _log_key(demo), resident_entries=budget) as led:
            assert led.views._all._chunks.count(None) == chunks - 1  # none read yet
            assert answers(led) == replayed
            held = chunks - led.views._all._chunks.count(None)
            assert held == (2 if budget else chunks)  # the newest, and one other under a budget


def test_the_log_index_is_read_back_from_the_leaves_on_both_backends(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite and PostgreSQL: a server opened from a snapshot, with a budget, reads the log
    index's chunks back from the store's leaves and answers as the writer that applied them."""
    small_log_chunks(monkeypatch, chunk=4, resident=1)
    _two_companies(store_url)
    with _open(store_url, key(LOG_KEY)) as writer:
        for i in range(20):
            writer.submit(claim(writer, (P, Q)[i % 2]))
        writer.snapshot()
        with _open(store_url, None, resident_entries=1) as ro:
            index = ro.views._all
            assert index._chunks.count(None) == len(index._chunks) - 1 > 4
            for i in range(writer.size):
                t = writer.views.log_time(i)
                assert ro.views.log_time(i) == t
                assert ro.views.size_at(t or 0) == writer.views.size_at(t or 0)
            assert ro.views.search(limit=1000) == writer.views.search(limit=1000)
            assert len(index._resident) == 1


def test_a_writer_drops_only_parts_a_snapshot_holds_unchanged(store_url: str) -> None:
    """On SQLite and PostgreSQL: streams written since the last snapshot stay in memory over
    the budget; the snapshot then lets the writer drop them, views and rules, and the next
    entries on them are decided from the parts read again, as from a replay."""
    _two_companies(store_url)
    with _open(store_url, key(LOG_KEY), resident_entries=1) as led:
        led.views.replay(P)
        led.views.replay(Q)
        assert led.views.loaded_parts() == 1  # P's was dropped for Q's
        led.submit(claim(led, Q))
        led.submit(claim(led, P))
        assert led.views.loaded_parts() == 2  # both changed since the snapshot: kept
        assert led.state.deferred == 0
        led.snapshot()
        assert led.views.loaded_parts() == 0
        assert led.state.deferred == 2  # the rules' state of both went with their views
        for _ in range(2):
            led.submit(claim(led, P))  # P's rules and views read again, to decide and show
            led.submit(claim(led, Q))
        at = {"at_ms": led.state.last_log_time_ms}
        kept = (
            led.views.replay(P, **at),
            led.views.replay(Q, **at),
            led.state.stream_rules([P, Q]),
        )
        size = led.size
        # A refused entry reads its stream's rules, never its views: the next snapshot drops
        # those rules too.
        led.snapshot()
        assert led.state.deferred == 2
        body = example_test_record_body("00" * 32)
        with pytest.raises(VerificationError):
            led.submit(envelope(led, "test.record", Q, V, body))
        assert led.state.deferred == 1
        assert led.views.loaded_parts() == 0
        led.submit(claim(led, P))
        led.snapshot()
        assert led.state.deferred == 2
        assert led.size == size + 1
    with _open(store_url, None, snapshots=False) as ro:
        assert ro.size == size + 1
        assert ro.views.replay(Q, **at) == kept[1]
        assert ro.state.stream_rules([Q])[Q] == kept[2][Q]


def test_a_stream_read_back_and_written_after_a_read_dropped_it_keeps_its_rules(
    store_url: str,
) -> None:
    """A read drops P's part (Q's is read under a budget of one entry); the next entry is P's,
    which reads P's views back and changes its rules: the writer must not then drop P's rules
    as the read dropped them — the test record on P's new claim is decided from them."""
    _two_companies(store_url)
    with _open(store_url, key(LOG_KEY), resident_entries=1) as led:
        led.views.replay(P)
        led.views.replay(Q)  # drops P's part
        led.submit(claim(led, P))
        new = led.views.replay(P).claims[-1]
        body = example_test_record_body(new.digest.hex())
        led.submit(envelope(led, "test.record", P, V, body))  # refused if P's rules are stale
        assert [c.digest for c in led.views.replay(P).claims if c.tests] == [new.digest]


def test_a_writer_over_its_budget_saves_a_snapshot_before_the_log_grew_a_quarter(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streams written since the last snapshot cannot be dropped: past the budget, the next
    snapshot falls due as soon as the log grew by SNAPSHOT_MIN_ENTRIES (not by a quarter)."""
    monkeypatch.setattr(ledger_module, "SNAPSHOT_MIN_ENTRIES", 1)
    with init_ledger(store_url) as led:
        register_story(led)
        for _ in range(30):
            led.submit(claim(led, P))
        led.snapshot()
        first = led.size
    with _open(store_url, key(LOG_KEY), resident_entries=100) as led:
        led.submit(claim(led, P))
        led.submit(claim(led, P))
        led.flush()  # grew by 2 of 35 entries, within the budget: no snapshot
        assert led.store.latest_snapshot()[0] == first  # type: ignore[index]
    with _open(store_url, key(LOG_KEY), resident_entries=1) as led:
        led.submit(claim(led, P))
        led.flush()  # over the budget, but 3 new entries would rewrite P's 33 (> 8 each)
        assert led.store.latest_snapshot()[0] == first  # type: ignore[index]
        led.submit(claim(led, P))
        led.submit(claim(led, P))
        led.flush()  # 5 new entries, P's 35 to rewrite: a snapshot
        assert led.store.latest_snapshot()[0] == led.size  # type: ignore[index]
        assert led.views.loaded_parts() == 0


def test_a_writer_that_sees_another_writer_keeps_every_part_from_then_on(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """On SQLite and PostgreSQL: another writer's snapshots keep only the parts they name and
    those of the snapshot they replace, so a writer that sees another's entries reads back the
    parts it dropped and drops no more."""
    _two_companies(store_url)
    with _open(store_url, key(LOG_KEY), resident_entries=1) as a:
        a.views.replay(P)
        a.submit(claim(a, Q))  # reads Q's part: P's is dropped
        assert a.views.loaded_parts() == 1
        with _open(store_url, key(LOG_KEY)) as b:
            b.submit(claim(b, Q))
        with caplog.at_level(logging.INFO, logger=LOGGER):
            assert a.refresh() == a.store.size()
        assert "another process appends to this log" in caplog.text
        assert a.views.loaded_parts() == 2  # P's read back, though no new entry is on it
        assert a.state.deferred == 0
        a.submit(claim(a, P))
        a.snapshot()
        assert a.views.loaded_parts() == 2  # nothing dropped any more


def test_a_writer_keeps_the_parts_of_another_writer_s_snapshot_it_replaces(
    store_url: str,
) -> None:
    """On SQLite and PostgreSQL: the snapshot a writer replaces may be another writer's; its
    parts are kept (read from its core) until this writer's next snapshot replaces its own."""
    first = set(_two_companies(store_url).values())
    with _open(store_url, key(LOG_KEY)) as a, _open(store_url, key(LOG_KEY)) as b:
        b.submit(claim(b, P))
        b.snapshot()
        others = set(b._parts.values())
        assert others != first  # b's holds P's parts after b's entry
        a.snapshot()  # a has not seen b's entry: its P's parts are the first snapshot's
        second = set(a._parts.values())
        assert second == first
        assert _stored_parts(a) == first | others
        a.submit(claim(a, Q))  # a conflict: a reads b's entry first
        a.snapshot()
        third = set(a._parts.values())
        assert _stored_parts(a) == first | third
        a.submit(claim(a, Q))
        a.snapshot()  # replaces a's own: the parts only the first named go
        assert _stored_parts(a) == third | set(a._parts.values())


def test_a_writer_replacing_a_snapshot_it_cannot_read_deletes_no_part(tmp_path: Path) -> None:
    """A snapshot of another version (here: its tag changed) is replayed past, and the snapshot
    that replaces it keeps every stored part: servers of that version may still read them."""
    db = tmp_path / "ledger.db"
    url = f"sqlite:///{db}"
    old = set(_two_companies(url).values())
    _corrupt(db, "tag")
    with _open(url, key(LOG_KEY)) as led:
        led.submit(claim(led, P))
        led.snapshot()
        mine = set(led._parts.values())
        assert _stored_parts(led) == old | mine
        led.submit(claim(led, P))
        led.snapshot()  # replaces its own: the unreadable one's parts go
        assert _stored_parts(led) == mine | set(led._parts.values())


def test_a_read_only_server_over_its_budget_drops_parts_and_follows_the_writer(
    store_url: str,
) -> None:
    """On SQLite and PostgreSQL: a read-only server drops the parts of streams unchanged since
    the snapshot it opened from, and reads them again, also after the writer appended and saved
    snapshots of its own."""
    _two_companies(store_url)
    with (
        _open(store_url, key(LOG_KEY)) as writer,
        _open(store_url, None, resident_entries=1) as ro,
    ):
        ro.views.replay(P)
        ro.views.replay(Q)
        assert ro.views.loaded_parts() == 1  # P's dropped for Q's
        for _ in range(2):
            writer.submit(claim(writer, Q))
            assert ro.refresh() == writer.size  # as its follower does, within 0.1 s
            writer.snapshot()  # the second deletes what only the first snapshot named
        at = {"at_ms": writer.state.last_log_time_ms}
        for stream in (P, Q, P):
            assert ro.views.replay(stream, **at) == writer.views.replay(stream, **at)
        assert ro.views.loaded_parts() == 2  # Q's, changed since its snapshot, cannot go
        assert ro.state.deferred == 1  # nor its rules' state
        # Once it has read as far as the writer's newest snapshot, it takes that one on: Q is
        # unchanged since, so it goes too, and is read back from there.
        assert ro.refresh() == writer.size
        assert ro.views.loaded_parts() == 0  # a budget of one entry: none is in use
        for stream in (Q, P, Q):
            assert ro.views.replay(stream, **at) == writer.views.replay(stream, **at)
            assert ro.views.loaded_parts() == 1
        assert ro.state.deferred == 2  # the rules' state of both too (reads never need it)


@pytest.mark.parametrize("column", ["signature", "root"])
def test_a_read_only_server_takes_on_no_snapshot_it_cannot_trust(
    tmp_path: Path, column: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A newer snapshot that its signature does not cover, or whose root is not the server's
    own tree at its size (signed, yet of another log), is not taken on: the server says so,
    keeps the parts it has, and judges that snapshot once."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _two_companies(url)
    with _open(url, key(LOG_KEY)) as writer, _open(url, None, resident_entries=1) as ro:
        writer.submit(claim(writer, Q))
        assert ro.refresh() == writer.size
        writer.snapshot()
        row = StoredSnapshot(*writer.store.latest_snapshot())  # type: ignore[misc]
    if column == "root":
        binding = SnapshotBinding(
            origin=writer.origin,
            size=row.size,
            root=bytes(32),
            state_root=row.state_root,
            digest=hashlib.sha256(row.data).digest(),
            tag=row.tag,
        )
        forged = bytes(32), binding.sign(key(LOG_KEY))
        con = sqlite3.connect(tmp_path / "ledger.db")
        with con:
            con.execute("UPDATE claimledger_snapshots SET root = ?, signature = ?", forged)
        con.close()
    else:
        _corrupt(tmp_path / "ledger.db", column)
    with (
        caplog.at_level(logging.INFO, logger=LOGGER),
        _open(url, None, resident_entries=1) as ro,  # refuses it, and replays the log
    ):
        ro.refresh()
        ro.refresh()
        assert ro._parts == {}
        assert ro.views.loaded_parts() == 2  # nothing to read them back from: they stay
    assert caplog.text.count("is refused") == 1
    assert caplog.text.count("is not taken on") == 1
    assert "took on the snapshot" not in caplog.text


def test_a_read_only_server_that_replayed_the_log_takes_on_the_writer_s_first_snapshot(
    store_url: str,
) -> None:
    """On SQLite and PostgreSQL: a read-only server started before any snapshot was saved holds
    every company's state; once the writer saves one, it takes it on and keeps to its budget."""
    with init_ledger(store_url) as writer:
        register_story(writer)
        writer.submit(claim(writer, P))
        writer.submit(claim(writer, Q))
        with _open(store_url, None, resident_entries=1) as ro:
            assert ro.views.loaded_parts() == 2
            writer.snapshot()
            writer.submit(claim(writer, P))
            assert ro.refresh() == writer.size
            assert ro.views.loaded_parts() == 1  # Q's went; P's has an entry since
            at = {"at_ms": writer.state.last_log_time_ms}
            for stream in (Q, P):
                assert ro.views.replay(stream, **at) == writer.views.replay(stream, **at)


def test_readers_and_the_writer_share_a_budget_of_one_entry(tmp_path: Path) -> None:
    """Threads reading companies while the writer appends, every read dropping the other
    company's part: no read fails or sees a torn state, and the end is a replay's."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _two_companies(url)
    with _open(url, key(LOG_KEY), resident_entries=1) as led:

        def read() -> None:
            for stream in (P, Q):
                replay = led.views.replay(stream, at_ms=0)
                assert {c.entry.stream for c in replay.claims} == {stream}
            led.views.feed(limit=5)

        with reading_meanwhile(read):
            for i in range(30):
                led.submit(claim(led, (P, Q)[i % 2]))
                if i % 10 == 9:
                    led.snapshot()
        kept = (led.views.replay(P, at_ms=0), led.views.replay(Q, at_ms=0))
        assert led.views.loaded_parts() <= 1
    with _open(url, None, snapshots=False) as ro:
        assert (ro.views.replay(P, at_ms=0), ro.views.replay(Q, at_ms=0)) == kept


def test_a_company_read_again_is_the_last_to_be_dropped(
    demo: tuple[Path, Path, int], db: Path
) -> None:
    """The budget drops the least recently used parts: read, not only loaded or written."""
    url, today = f"sqlite:///{db}", demo[2]
    with _open(url, _log_key(demo)) as led:
        led.snapshot()
        sizes = {s: len(tuple(led.views.entries(s))) for s in led.views.streams()}
    del sizes[REGISTRY_STREAM]
    smallest, *_, a, b = sorted(sizes, key=sizes.__getitem__)
    # Reading the smallest drops b only, down to 3/4 of a budget that holds a and b exactly.
    assert sizes[a] + sizes[smallest] <= 0.75 * (sizes[a] + sizes[b]) < sizes[smallest] + sizes[b]
    with _open(url, _log_key(demo), resident_entries=sizes[a] + sizes[b]) as led:
        led.views.replay(a, at_ms=today)
        led.views.replay(b, at_ms=today)
        assert led.views.resident_streams() == {a, b}
        led.views.replay(a, at_ms=today)  # a is now the most recently used
        led.views.replay(smallest, at_ms=today)
        assert led.views.resident_streams() == {a, smallest}
