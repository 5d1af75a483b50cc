"""Streams written since the last snapshot leave memory under the budget (issue 10 §2): a
ledger spills their parts to a scratch file of its own (ledger/_spill.py ``PartSpill``) and reads
them back, checked, when next touched; a snapshot copies them as spilled. Whatever is spilled,
the ledger answers and decides as a replay from genesis does; on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import ledger._views as views_module
from attest.statements import REGISTRY_STREAM
from bench._workload import init_ledger, provider, register_parties, signed_entries
from ledger import Ledger
from ledger._spill import PartSpill
from ledger.errors import CorruptionError
from tests.attest.logbuilder import LOG_KEY, key
from tests.conftest import reading_meanwhile

COMPANIES = 24
PER_COMPANY = 10
BUDGET = 48  # entries: about five companies' of the 24


@pytest.fixture
def spill_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spill any stream written since the snapshot, however long, at every entry past the
    budget (the defaults spare streams longer than a 64th of it, and check it every 256 entries:
    too coarse for a log of a few hundred)."""
    monkeypatch.setattr(views_module, "SPILL_MAX_SHARE", 1)
    monkeypatch.setattr(views_module, "_SHRINK_EVERY", 1)


def _grow(led: Ledger, entries: list[bytes], chunk: int = 16) -> Iterator[int]:
    """Submit ``entries`` ``chunk`` at a time; yield the entries of provider streams in memory
    after each chunk."""
    for i in range(0, len(entries), chunk):
        for receipt in led.submit_many(entries[i : i + chunk]):
            assert not isinstance(receipt, Exception), receipt
        yield led.views.resident_entries


def _answers(led: Ledger) -> tuple[object, ...]:
    """What a server answers about every company, and the rules' state of each."""
    views = led.views
    streams = [s for s in views.streams() if s != REGISTRY_STREAM]
    at = led.state.last_log_time_ms
    return (
        led.size,
        led.state.state_root,
        [views.replay(s, at_ms=at) for s in streams],
        views.scorecard(at_ms=at),
        views.feed(limit=1000),
        led.state.stream_rules(streams),
    )


def _ledger(url: str) -> list[bytes]:
    """A new ledger at ``url`` with COMPANIES registered companies; their entries to come."""
    with init_ledger(url) as led:
        register_parties(led, COMPANIES)
    return list(signed_entries(COMPANIES * PER_COMPANY, COMPANIES))


def _replayed(url: str) -> tuple[object, ...]:
    with Ledger.open(url, snapshots=False, resident_entries=None) as led:
        return _answers(led)


@pytest.mark.usefixtures("spill_all")
def test_a_writer_spills_streams_written_since_the_snapshot_and_answers_as_a_replay(
    store_url: str,
) -> None:
    """Every company written round and round, never a snapshot: the writer holds about its
    budget, not the log; what it answers and decides is a replay's, and so is what an open
    from the snapshot that copies the spilled parts answers."""
    entries = _ledger(store_url)
    with Ledger.open(store_url, log_key=key(LOG_KEY), resident_entries=BUDGET) as led:
        held = list(_grow(led, entries))
        assert led.store.latest_snapshot() is None  # every stream is written since none
        assert max(held) <= BUDGET + 16  # a chunk past the budget, at most
        assert led._spill is not None
        assert led._spill.written > 0
        assert led.state.deferred > COMPANIES // 2  # the rules' state went with the views
        answers = _answers(led)
        assert led.spilled_parts > COMPANIES  # views and rules, of most companies
        led.snapshot()  # spills what is in memory too, then copies the spilled parts
        assert led.spilled_parts == 0
        assert led.views.resident_entries == 0  # before the core was pickled
        assert led.state.deferred == COMPANIES
        assert _answers(led) == answers
    assert _replayed(store_url) == answers
    with Ledger.open(store_url, resident_entries=None) as ro:  # from the snapshot
        assert ro.views.loaded_parts() == 0
        assert _answers(ro) == answers


def test_streams_too_long_to_spill_stay_until_a_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream longer than a SPILL_MAX_SHARE-th of the budget is not spilled (reading it back
    at its next entry would cost its length each time): written round and round, such streams
    stay in memory past the budget, and the snapshot lets them go."""
    monkeypatch.setattr(views_module, "SPILL_MAX_SHARE", BUDGET // 6)  # streams of 6 at most
    monkeypatch.setattr(views_module, "_SHRINK_EVERY", 1)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    entries = _ledger(url)
    with Ledger.open(url, log_key=key(LOG_KEY), resident_entries=BUDGET) as led:
        held = list(_grow(led, entries))
        assert held[-1] > 2 * BUDGET  # streams of 10: none spilled once past 6
        led.snapshot()  # stores them: the budget may drop them now
        assert led.views.resident_entries <= BUDGET
        answers = _answers(led)
    assert _replayed(url) == answers


@pytest.mark.usefixtures("spill_all")
def test_a_first_open_under_the_budget_spills_as_it_replays(tmp_path: Path) -> None:
    """A writer's first open replays every entry (all written since no snapshot) within its
    budget, and saves the snapshot a replay would."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    entries = _ledger(url)
    with Ledger.open(url, log_key=key(LOG_KEY), snapshots=False) as led:
        list(_grow(led, entries, chunk=len(entries)))
    replayed = _replayed(url)
    with Ledger.open(url, log_key=key(LOG_KEY), resident_entries=BUDGET) as led:
        assert led._spill is not None
        assert led._spill.written > 0
        assert led.views.resident_entries <= BUDGET
        assert _answers(led) == replayed
        led.snapshot()
    with Ledger.open(url, resident_entries=BUDGET) as ro:
        assert _answers(ro) == replayed


@pytest.mark.usefixtures("spill_all")
def test_a_spilled_part_altered_is_never_read(tmp_path: Path) -> None:
    """A part read back from the scratch file must have the SHA-256 kept for it."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    entries = _ledger(url)
    with Ledger.open(url, log_key=key(LOG_KEY), resident_entries=BUDGET) as led:
        list(_grow(led, entries))
        spill = led._spill
        assert spill is not None
        resident = led.views.resident_streams()
        name = next(n for k, n in led._spilled if k == "s" and n not in resident)
        data = spill.get(("s", name))
        assert data is not None
        spill.put(("s", name), data[:-1] + bytes([data[-1] ^ 1]))
        with pytest.raises(CorruptionError, match="altered"):
            led.views.replay(name)
        with pytest.raises(CorruptionError, match="spilled part"):
            led.snapshot()  # nothing is stored from it either
        assert led.store.latest_snapshot() is None


@pytest.mark.usefixtures("spill_all")
def test_readers_meanwhile_see_whole_companies_while_the_writer_spills(tmp_path: Path) -> None:
    """Threads reading companies (each read spilling or dropping another's) while the writer
    appends and snapshots: no read fails or sees a torn company, and the end is a replay's."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    entries = _ledger(url)
    names = [provider(i) for i in range(COMPANIES)]
    with Ledger.open(url, log_key=key(LOG_KEY), resident_entries=BUDGET) as led:

        def read() -> None:
            for name in names[::5]:
                replay = led.views.replay(name, at_ms=0)
                assert {c.entry.stream for c in replay.claims} <= {name}

        with reading_meanwhile(read):
            for n, _ in enumerate(_grow(led, entries, chunk=8)):
                if n % 10 == 9:
                    led.snapshot()
        answers = _answers(led)
    assert _replayed(url) == answers


@pytest.mark.usefixtures("spill_all")
def test_a_read_only_server_spills_what_it_follows_and_takes_on_the_writer_s_snapshot(
    store_url: str,
) -> None:
    """A read-only server applies the writer's entries (every company written since the
    snapshot it opened from) within its budget, spilling them; once it takes on the writer's
    newer snapshot, the streams unchanged since are read from there, not from its spill."""
    entries = _ledger(store_url)
    half = len(entries) // 2
    with Ledger.open(store_url, log_key=key(LOG_KEY)) as writer:
        list(_grow(writer, entries[:half]))
        writer.snapshot()
        with Ledger.open(store_url, resident_entries=BUDGET) as ro:
            list(_grow(writer, entries[half:]))
            assert ro.refresh() == writer.size
            assert ro.views.resident_entries <= BUDGET
            assert ro.spilled_parts > COMPANIES
            assert _answers(ro) == _answers(writer)
            writer.snapshot()
            assert ro.refresh() == writer.size  # takes the snapshot on
            assert ro.spilled_parts == 0  # every stream is unchanged since it
            assert _answers(ro) == _answers(writer)
    with Ledger.open(store_url, resident_entries=None) as led:
        assert _replayed(store_url) == _answers(led)


@pytest.mark.usefixtures("spill_all")
def test_a_writer_that_sees_another_writer_reads_back_what_it_spilled(store_url: str) -> None:
    """A writer that sees another process's entries drops no more: the parts it spilled are
    read back (its own scratch file, which no other process deletes) and it decides on."""
    entries = _ledger(store_url)
    with Ledger.open(store_url, log_key=key(LOG_KEY), resident_entries=BUDGET) as a:
        list(_grow(a, entries[:-1]))
        assert a.spilled_parts > 0
        with Ledger.open(store_url, log_key=key(LOG_KEY)) as b:
            list(_grow(b, entries[-1:]))
        assert a.refresh() == a.store.size()
        assert a.state.deferred == 0
        assert a.views.loaded_parts() == COMPANIES
        a.snapshot()
        answers = _answers(a)
    assert _replayed(store_url) == answers


def test_the_scratch_file_replaces_a_part_put_again_and_forgets_all_at_once() -> None:
    spill = PartSpill()
    spill.put(("s", "a"), b"one")
    spill.put(("r", "a"), b"rules")
    spill.put(("s", "a"), b"two")
    assert spill.get(("s", "a")) == b"two"
    assert spill.get(("r", "a")) == b"rules"
    assert spill.get(("s", "b")) is None
    assert spill.written == len(b"one" + b"rules" + b"two")
    spill.clear()
    assert spill.get(("s", "a")) is None
    spill.close()
