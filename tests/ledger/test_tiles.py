"""Tiles from the store and the static export (ledger/_tiles.py, SPEC §14), on SQLite and
PostgreSQL: the exported files are what the store serves, proofs computed from them equal the
ledger's at every kept size, the export is incremental and refuses a database behind it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from attest.checkpoint import verify_checkpoint
from attest.dsse import Envelope
from attest.entry import entry_hash
from attest.errors import VerificationError
from attest.tiles import TileHashReader, TileRef, bundle_log_entries, parse_tile_path
from ledger import Ledger, LedgerError, export_tiles, read_tile, serve_tile
from tests.attest.examples import example_claim_body
from tests.ledger.actors import P, Q, claim, envelope, init_ledger, register_story


def grow(ledger: Ledger, to: int, keep_at: Iterable[int] = ()) -> None:
    """Claims by P and Q until the log has ``to`` entries, in batches (each chained on the
    stream heads); a kept checkpoint at each size of ``keep_at`` (and at ``to``)."""
    for stop in sorted({k for k in keep_at if ledger.size < k < to} | {to}):
        heads = {p: ledger.head(p)[0] for p in (P, Q)}
        batch = []
        for i in range(ledger.size, stop):
            party = P if i % 2 else Q
            body = example_claim_body()
            env = envelope(ledger, "claim.publish", party, party, body, prev=heads[party])
            heads[party] = entry_hash(Envelope.parse_stored(env)).hex()
            batch.append(env)
        for start in range(0, len(batch), 100):  # below the size opened in worker processes
            done = ledger.submit_many(batch[start : start + 100])
            assert all(not isinstance(r, VerificationError) for r in done), done
        ledger.flush()


def files_of(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def reader_over(files: dict[str, bytes], size: int) -> TileHashReader:
    return TileHashReader(size, lambda lv, n, w: files[TileRef("hash", lv, n, w).path])


@pytest.fixture
def grown(store_url: str) -> Ledger:
    ledger = init_ledger(store_url)
    register_story(ledger)
    ledger.flush()  # a checkpoint of 5 kept
    grow(ledger, 300, keep_at=(100, 256, 257))
    return ledger


def test_export_serves_what_the_store_serves_and_proofs_match(
    grown: Ledger, tmp_path: Path
) -> None:
    ledger = grown
    out = tmp_path / "tiles"
    done = export_tiles(ledger, out)
    assert (done.old_size, done.size) == (0, 300)
    files = files_of(out)
    assert files["checkpoint"] == ledger.store.latest_checkpoint()
    # readable by a web server running as another user (mkstemp alone makes 0600)
    assert {p.stat().st_mode & 0o777 for p in out.rglob("*") if p.is_file()} == {0o644}
    assert sorted(f for f in files if f.startswith("bundle/")) == [
        f"bundle/{P}.json",
        f"bundle/{Q}.json",
    ]
    tiles = {f: b for f, b in files.items() if f.startswith("tile/")}
    assert sorted(tiles) == sorted(
        [
            "tile/0/000",
            "tile/0/001.p/44",
            "tile/1/000.p/1",
            "tile/entries/000",
            "tile/entries/001.p/44",
            "tile/envelopes/000",
            "tile/envelopes/001.p/44",
        ]
    )
    for path, data in tiles.items():
        assert serve_tile(ledger.store, parse_tile_path(path)) == data, path
    cp = verify_checkpoint(files["checkpoint"], ledger.note_verifier)
    reader = reader_over(files, 300)
    assert reader.root() == cp.root
    for index in (0, 1, 255, 256, 299):
        assert reader.inclusion_proof(index) == ledger.inclusion_proof(index, 300)
    for old in (1, 5, 100, 255, 256, 257, 299, 300):
        assert reader.consistency_proof(old) == ledger.consistency_proof(old, 300)
    entries = bundle_log_entries(
        0, tiles["tile/entries/000"], tiles["tile/envelopes/000"], 256, tiles["tile/0/000"]
    )
    assert entries == ledger.log_entries(0, 256)

    # the store serves the partial tiles of every size up to the newest kept checkpoint (300),
    # kept or not (a receipt's checkpoint of 258 finds its tiles), none beyond it
    assert serve_tile(ledger.store, TileRef("hash", 0, 1, 1)) == read_tile(
        ledger.store, TileRef("hash", 0, 1, 1)
    )
    assert serve_tile(ledger.store, TileRef("hash", 0, 1, 2)) is not None
    assert serve_tile(ledger.store, TileRef("hash", 0, 1, 44)) is not None
    assert serve_tile(ledger.store, TileRef("hash", 0, 1, 45)) is None
    assert serve_tile(ledger.store, TileRef("entries", 0, 0, 6)) is not None
    assert serve_tile(ledger.store, TileRef("envelopes", 0, 0, 100)) is not None
    assert serve_tile(ledger.store, TileRef("hash", 0, 2)) is None  # beyond the checkpoint
    assert serve_tile(ledger.store, TileRef("hash", 1, 0)) is None

    # from the bare store (no replay of the log): the same files but the evidence bundles
    bare = export_tiles(ledger.store, tmp_path / "bare")
    assert (bare.size, bare.bundles) == (300, 0)
    assert files_of(tmp_path / "bare") == {
        f: b for f, b in files.items() if not f.startswith("bundle/")
    }
    # then with the ledger at the same size: the bundles only
    assert export_tiles(ledger, tmp_path / "bare").bundles == 2
    assert files_of(tmp_path / "bare") == files

    # incremental: nothing new writes nothing; new entries write the new tiles only
    assert export_tiles(ledger, out).files == 0
    grow(ledger, 410)
    assert export_tiles(ledger.store, out).bundles == 0  # tiles only: bundles stay at 300
    for _ in range(10):
        ledger.submit(claim(ledger, Q))
    ledger.flush()
    done = export_tiles(ledger, out)  # P's record changed after 300 (not after 410): rewritten
    assert (done.old_size, done.size, done.bundles) == (410, 420, 2)
    assert (out / ".bundles-size").read_text() == "420\n"
    grow(ledger, 520)
    before = {p: p.stat().st_mtime_ns for p in (out / "tile").rglob("*") if p.is_file()}
    done = export_tiles(ledger, out)
    assert (done.old_size, done.size, done.bundles) == (420, 520, 2)
    after = files_of(out)
    assert after["tile/0/000"] == files["tile/0/000"]
    assert (out / "tile/0/000").stat().st_mtime_ns == before[out / "tile/0/000"]
    assert "tile/0/001.p/44" in after  # kept: the checkpoint of 300 may still be fetched
    assert {"tile/0/001", "tile/0/002.p/8", "tile/1/000.p/2"} <= set(after)
    reader = reader_over(after, 520)
    assert reader.root() == verify_checkpoint(after["checkpoint"], ledger.note_verifier).root
    assert reader.consistency_proof(300) == ledger.consistency_proof(300, 520)
    ledger.close()


def test_export_refuses_a_directory_ahead_of_the_database(store_url: str, tmp_path: Path) -> None:
    ledger = init_ledger(store_url)
    register_story(ledger)
    ledger.flush()
    out = tmp_path / "tiles"
    export_tiles(ledger, out)
    other = init_ledger(f"sqlite:///{tmp_path / 'other.db'}")
    register_story(other)
    other.submit(claim(other))
    other.flush()
    with pytest.raises(LedgerError, match=r"not a checkpoint of this log|do not match|more than"):
        export_tiles(other, out)
    other.close()
    ledger.close()
