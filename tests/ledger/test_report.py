"""The regulator's dated evidence: checkpoints kept by the log found by size and by date
(SQLite and PostgreSQL), and the report of a verified bundle (``ledger.build_report``), which
must say what the ledger's own views say for the same cut.

Other test modules import :func:`regulator_demo` (the demo ledger with older kept checkpoints).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from attest import verify_bundle
from attest.checkpoint import verify_checkpoint
from cli._demo import DemoLedger
from ledger import (
    REPORT_COLUMNS,
    Ledger,
    LedgerError,
    Report,
    build_report,
    export_bundle,
    system_clock,
)
from tests.attest.examples import example_claim_body
from tests.ledger.actors import P, Q, envelope, init_ledger, register_story
from tests.web.test_pages import make_demo, open_demo

DAY = 86_400_000

KEPT = (20, 35, 44)
"""Sizes at which the demo's writer is made to have kept a checkpoint (besides 1 and the last)."""


@dataclass
class RegulatorDemo:
    """The demo ledger with checkpoints kept at :data:`KEPT` too."""

    info: DemoLedger
    root: Path
    today_ms: int
    times: list[int]  # the log time of every entry, by index

    @property
    def db(self) -> Path:
        return self.root / "ledger.db"

    @property
    def log_key(self) -> Path:
        return self.info.keys_dir / "log.key"


def regulator_demo(root: Path) -> RegulatorDemo:
    """Build the demo under ``root`` with exactly the checkpoints of sizes 1, :data:`KEPT` and
    the last (the whole demo) kept in the database, as a writer that persisted its nodes at those
    sizes would have (the notes are the log's own signatures)."""
    info, today = make_demo(root)
    with open_demo(info) as ledger:
        notes = [(size, ledger.checkpoint_at(size)) for size in KEPT]
        times = [e.log_time_ms for e in ledger.log_entries(0, ledger.size)]
    conn = sqlite3.connect(root / "ledger.db")
    try:
        with conn:  # which sizes the demo's run kept depends on timing: make it these
            conn.execute(
                "DELETE FROM claimledger_checkpoints WHERE size > 1 AND size < (SELECT "
                "max(size) FROM claimledger_checkpoints)"
            )
            conn.executemany("INSERT INTO claimledger_checkpoints VALUES (?, ?)", notes)
    finally:
        conn.close()
    return RegulatorDemo(info, root, today, times)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> RegulatorDemo:
    return regulator_demo(tmp_path_factory.mktemp("regulator"))


@pytest.fixture(scope="module")
def read_only(demo: RegulatorDemo) -> Iterator[Ledger]:
    """The demo opened without the log key: it can only serve checkpoints the log kept."""
    with Ledger.open(demo.info.url) as ledger:
        yield ledger


def report_at(ledger: Ledger, stream: str, size: int) -> Report:
    note = ledger.checkpoint_at(size)
    record = verify_bundle(export_bundle(ledger, stream, checkpoint=note))
    return build_report(record, note)


# -- kept checkpoints, by size and by date ------------------------------------------------------


def test_kept_checkpoints_are_found_by_size_and_by_date(store_url: str) -> None:
    t0 = system_clock()  # the story is signed now; later entries are logged a day apart
    clock = [t0]
    ledger = init_ledger(store_url, clock=lambda: clock[0])
    try:
        register_story(ledger)
        ledger.flush()
        sizes = [ledger.size]
        for day in (1, 2, 3):
            clock[0] = t0 + day * DAY
            body = example_claim_body("detect.hash_known_image")
            got = ledger.submit_many(
                [
                    envelope(ledger, "claim.publish", s, s, body, signed_at_ms=clock[0])
                    for s in (P, Q)
                ]
            )
            assert all(not isinstance(r, Exception) for r in got), got
            ledger.flush()
            sizes.append(ledger.size)
        assert sizes == [5, 7, 9, 11]
        store = ledger.store
        assert store.kept_checkpoint(8) is not None
        assert store.kept_checkpoint(8)[0] == 7  # type: ignore[index]
        assert store.kept_checkpoint(9)[0] == 9  # type: ignore[index]
        # As of a date: the newest kept checkpoint whose last entry was logged by then.
        assert ledger.checkpoint_as_of(t0 + 2 * DAY)[0] == 9
        assert ledger.checkpoint_as_of(t0 + 2 * DAY - 1)[0] == 7
        assert ledger.checkpoint_as_of(t0 + 30 * DAY)[0] == 11
        with pytest.raises(LedgerError, match="no checkpoint of this log was kept"):
            ledger.checkpoint_as_of(t0 - 1)
        size, note = ledger.checkpoint_as_of(t0 + DAY)
        assert verify_checkpoint(note, ledger.note_verifier).size == size == 7
    finally:
        ledger.close()
    # A server without the log key serves the kept checkpoints, and no other older size.
    with Ledger.open(store_url) as reader:
        assert verify_checkpoint(reader.checkpoint_at(7), reader.note_verifier).size == 7
        with pytest.raises(LedgerError, match="no checkpoint of size 8"):
            reader.checkpoint_at(8)


def test_a_read_only_ledger_exports_at_a_kept_size_only(
    demo: RegulatorDemo, read_only: Ledger
) -> None:
    for size in KEPT:
        assert report_at(read_only, "nimbus-drive", size).size == size
    with pytest.raises(LedgerError, match="read-only ledger has no checkpoint of size 30"):
        read_only.checkpoint_at(30)
    assert read_only.checkpoint_as_of(demo.times[43])[0] == 44
    assert read_only.checkpoint_as_of(demo.times[43] - 1)[0] == 35


# -- the report ---------------------------------------------------------------------------------


def test_the_report_says_what_the_ledgers_views_say_at_every_kept_checkpoint(
    demo: RegulatorDemo, read_only: Ledger
) -> None:
    for size in (*KEPT, read_only.size):
        for provider in demo.info.providers:
            if read_only.views.party(provider).registered_at >= size:  # type: ignore[union-attr]
                continue
            report = report_at(read_only, provider, size)
            assert report.time_ms == demo.times[size - 1]
            full = read_only.views.replay(provider, size=size, at_ms=report.time_ms)
            assert [c.to_dict() for c in report.replay.claims] == [
                c.to_dict() for c in full.claims
            ], (provider, size)
            rows = report.rows()
            assert len(rows) == len(full.claims)
            assert all(tuple(r) == REPORT_COLUMNS for r in rows)
            keys = {(p.id, k.key_id) for p in read_only.views.parties() for k in p.keys}
            assert report.signers
            assert {(s.party, s.key_id) for s in report.signers} <= keys


def test_the_report_shows_versions_withdrawals_and_what_is_unverified(
    demo: RegulatorDemo, read_only: Ledger
) -> None:
    v1 = bytes.fromhex(demo.info.digests["nimbus-hash-v1"])
    v2 = bytes.fromhex(demo.info.digests["nimbus-hash-v2"])
    now = report_at(read_only, "nimbus-drive", read_only.size)
    by_digest = {c.version.digest: c for c in now.claims}
    assert (by_digest[v1].number, by_digest[v1].chain) == (1, v1)
    assert (by_digest[v2].number, by_digest[v2].chain) == (2, v1)
    assert by_digest[v1].version.status == "superseded"
    withdrawn = [c for c in now.claims if c.version.status == "withdrawn"]
    assert len(withdrawn) == 1
    assert withdrawn[0].unverified is None
    # At size 44 the withdrawal (index 44) had not happened: the claim stood, with no verdict.
    then = report_at(read_only, "nimbus-drive", 44)
    stood = {c.version.digest: c for c in then.claims}[withdrawn[0].version.digest]
    assert (stood.version.status, stood.unverified) == ("active", "no verdict")
    doc = then.to_dict()
    assert doc["checkpoint"]["size"] == 44
    assert doc["unverified"] == [c.version.digest.hex() for c in then.unverified]
    assert stood.version.digest.hex() in doc["unverified"]


def test_a_verdict_is_expired_only_once_past_its_validity_at_the_checkpoint(
    read_only: Ledger,
) -> None:
    def blocklist(report: Report) -> dict[str, Any]:
        (claim,) = [c for c in report.to_dict()["claims"] if c["verdicts"]]
        assert isinstance(claim, dict)
        return claim

    now = blocklist(report_at(read_only, "lumen-search", read_only.size))
    assert now["verdicts"][0]["expired"] is True
    assert (now["publicStatus"], now["unverified"]) == ("unverified", "latest verdict expired")
    before = blocklist(report_at(read_only, "lumen-search", 35))
    assert before["verdicts"][0]["expired"] is False
    assert (before["publicStatus"], before["unverified"]) == ("confirmed", None)
