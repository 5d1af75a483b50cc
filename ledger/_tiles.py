"""The log as C2SP tlog-tiles (SPEC §14): tiles read from the store, and a static export.

Hash tiles are read from the stored perfect-subtree nodes (a tile at level ``L`` is 256 nodes at
height ``8·L``), entry bundles from the stored leaves, envelope bundles from the stored entries.
Only what a kept checkpoint covers is served: full tiles below the newest kept checkpoint's size,
partial tiles of any size up to the newest checkpoint the log kept (the nodes and the checkpoint
of a size are written in one transaction).

:func:`export_tiles` writes the same files into a directory that any static server, object store
or CDN can serve: incrementally (full tiles are immutable and written once; the partial tiles of
the new size), each file atomically (a temporary file renamed over it), and the ``checkpoint``
last, so a reader never sees a checkpoint whose tiles are missing. Given a :class:`Ledger`, each
export also writes ``bundle/<provider>.json``, the evidence bundle (SPEC §10) of every provider
whose record changed, at the exported checkpoint; given a bare :class:`EntryStore` (opened in
O(1), where a ledger replays the whole log), tiles only.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from attest import REGISTRY_STREAM, leaf_data
from attest.checkpoint import Checkpoint, NoteVerifier
from attest.dsse import Envelope
from attest.errors import VerificationError
from attest.merkle import subtree_hash
from attest.rules import open_genesis
from attest.statements import Genesis
from attest.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    TileKind,
    TileRef,
    encode_entry_bundle,
    encode_envelope_bundle,
    new_tiles,
    tile_bytes,
)
from attest.verify import verify_log_checkpoint
from keys import PublicKey
from ledger._bundle import export_bundle
from ledger._ledger import Ledger, checkpoint_size_of
from ledger._published import stored_checkpoint_verifier
from ledger._store import EntryStore
from ledger.errors import LedgerError, StoreError

__all__ = ["TileExport", "export_tiles", "read_tile", "serve_tile", "tile_available"]

_KINDS: tuple[TileKind, ...] = ("hash", "entries", "envelopes")


def _get_node(store: EntryStore, ref: TileRef) -> dict[tuple[int, int], bytes]:
    height = TILE_HEIGHT * ref.level
    first = ref.index * TILE_WIDTH
    keys = [(height, first + i) for i in range(ref.width)]
    found = store.get_nodes(keys)
    if len(found) != len(keys):
        missing = next(k for k in keys if k not in found)
        raise StoreError(f"Merkle node {missing} of {ref.path} is not stored")
    return found


def read_tile(store: EntryStore, ref: TileRef) -> bytes:
    """The bytes of tile or bundle ``ref`` from the store (no check that a checkpoint covers it:
    see :func:`tile_available`).

    Raises:
        StoreError: a node or entry it needs is not stored.
    """
    if ref.kind == "hash":
        nodes = _get_node(store, ref)
        return tile_bytes(ref, lambda level, index: nodes[(level, index)])
    lo = ref.index * TILE_WIDTH
    if ref.kind == "entries":
        leaves = store.leaves(lo, lo + ref.width)
        if len(leaves) != ref.width:
            raise StoreError(f"{ref.path}: the log has no entry {lo + len(leaves)}")
        return encode_entry_bundle(
            leaf_data(x.index, x.stream, x.position, x.log_time_ms, x.entry_hash, x.state_root)
            for x in leaves
        )
    entries = store.log_entries(lo, lo + ref.width)
    if len(entries) != ref.width:
        raise StoreError(f"{ref.path}: the log has no entry {lo + len(entries)}")
    return encode_envelope_bundle(e.envelope for e in entries)


def tile_available(ref: TileRef, published: int) -> bool:
    """Whether the log serves ``ref``: a tile (full or partial) that a tree of at most
    ``published`` entries, the newest kept checkpoint's size, has (SPEC §14.7).

    Every checkpoint the log signs of a size up to ``published`` (a receipt's, an older
    ``checkpoint_at``) then finds its partial tiles, kept or not: they are fixed by entries the
    log has already signed over, so they are as immutable as the full ones."""
    if ref.full:
        return ref.end <= published
    # The smallest size whose partial tile at this level is ``ref``: start + width·256^L.
    return ref.start + ref.width * (1 << (TILE_HEIGHT * ref.level)) <= published


def serve_tile(store: EntryStore, ref: TileRef) -> bytes | None:
    """The bytes of ``ref`` if a checkpoint the log kept needs it, else None (SPEC §14).

    Raises:
        StoreError: a database error, or a node the kept checkpoint covers is missing.
    """
    note = store.latest_checkpoint()
    if note is None or not tile_available(ref, checkpoint_size_of(note)):
        return None
    return read_tile(store, ref)


@dataclass(frozen=True)
class TileExport:
    """What one :func:`export_tiles` call did."""

    old_size: int
    size: int
    files: int
    bytes: int
    bundles: int


def _write(root: Path, rel: str, data: bytes, dirs: set[Path]) -> None:
    """Write ``root/rel`` atomically: a temporary file in the same directory, synced, renamed."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; a web server's user must read it
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dirs.add(path.parent)


def _sync_dirs(dirs: set[Path]) -> None:
    for d in sorted(dirs):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _note_verifier(store: EntryStore) -> NoteVerifier:
    """The log's checkpoint verifier, from the genesis entry the store holds.

    Raises:
        LedgerError: the store holds no genesis entry.
    """
    first = store.log_entries(0, 1)
    try:
        if not first:
            raise LedgerError("the database holds no ledger")
        body = open_genesis(Envelope.parse_stored(first[0].envelope)).statement.body
        if not isinstance(body, Genesis):  # pragma: no cover - open_genesis checks
            raise LedgerError("entry 0 is not a genesis entry")
        return NoteVerifier.for_key(body.origin, PublicKey.from_b64(body.log_key))
    except VerificationError as exc:
        raise LedgerError(f"entry 0 is not a genesis entry: {exc}") from exc


BUNDLES_MARK = ".bundles-size"
"""The file in an export that holds the tree size its evidence bundles were last written at."""


def _bundles_size(root: Path, size: int) -> int:
    """The size the bundles in ``root`` were written at; 0 (write them all) if unknown, or
    beyond ``size`` (a database behind the export's bundles)."""
    try:
        done = int((root / BUNDLES_MARK).read_text("ascii"))
    except (OSError, ValueError):
        return 0
    return done if 0 <= done <= size else 0


def _exported_size(store: EntryStore, verify: Callable[[bytes], Checkpoint], out: Path) -> int:
    """The size of the checkpoint already exported to ``out`` (0 if none), after checking that
    it is this log's and that the database still holds the entries it signs.

    Raises:
        LedgerError: it is another log's checkpoint, or the database disagrees with it.
    """
    path = out / "checkpoint"
    if not path.exists():
        return 0
    try:
        cp = verify(path.read_bytes())
    except VerificationError as exc:
        raise LedgerError(f"{path} is not a checkpoint of this log: {exc}") from exc
    if cp.size > store.nodes_size():
        raise LedgerError(
            f"{path} has {cp.size} entries, more than the database's {store.nodes_size()}: "
            "the database was rolled back, or is another copy"
        )
    if subtree_hash(0, cp.size, store.get_node) != cp.root:
        raise LedgerError(f"the database's entries do not match {path} (history rewritten)")
    return cp.size


def export_tiles(ledger: Ledger | EntryStore, out: str | os.PathLike[str]) -> TileExport:
    """Write the log's newest kept checkpoint, its tiles and bundles into directory ``out``.

    Only what is new since the checkpoint already in ``out`` is written (the full tiles and
    bundles completed since, the partial ones of the new size); given a :class:`Ledger` (not a
    bare store, which needs no replay of the log to open), also the evidence bundles of the
    providers whose record changed (every provider if the registry changed). ``checkpoint`` is
    written last. Running it again with nothing new writes nothing.

    Raises:
        LedgerError: the database has no kept checkpoint, or ``out`` holds a checkpoint this
            database does not extend.
        StoreError: a database error.
        OSError: the directory cannot be written.
    """
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    verify: Callable[[bytes], Checkpoint]
    if isinstance(ledger, Ledger):
        ledger.refresh()
        store = ledger.store
        state = ledger.state

        def verify_held(note: bytes) -> Checkpoint:
            return verify_log_checkpoint(note, state)  # the key in force at its size (§7.6)

        verify = verify_held
    else:
        store = ledger
        verify = stored_checkpoint_verifier(store, _note_verifier(store))
    note = store.latest_checkpoint()
    if note is None:
        raise LedgerError("the log has kept no checkpoint yet: nothing to export")
    size = checkpoint_size_of(note)
    old = _exported_size(store, verify, root)
    if old > size:
        raise LedgerError(f"{root} holds a checkpoint of {old} entries, newer than the database's")
    # The evidence bundles were last written at ``since`` (a tiles-only export moves the
    # checkpoint without them): every record changed after it is written again.
    since = _bundles_size(root, size) if isinstance(ledger, Ledger) else size
    if old == size and since == size:
        return TileExport(old, size, 0, 0, 0)
    dirs: set[Path] = set()
    files = written = 0
    for ref in new_tiles(old, size, _KINDS) if old < size else []:
        data = read_tile(store, ref)
        _write(root, ref.path, data, dirs)
        files += 1
        written += len(data)
    changed: list[str] = []
    if isinstance(ledger, Ledger):
        touched = {x.stream for x in store.leaves(since, size)} if since else {REGISTRY_STREAM}
        parties = ledger.state.parties
        providers = sorted(p for p, party in parties.items() if party.role == "provider")
        changed = (
            providers if REGISTRY_STREAM in touched else [p for p in providers if p in touched]
        )
        for provider in changed:
            data = export_bundle(ledger, provider, checkpoint=note)
            _write(root, f"bundle/{provider}.json", data, dirs)
            written += len(data)
        _sync_dirs(dirs)
        _write(root, BUNDLES_MARK, b"%d\n" % size, dirs)
    _sync_dirs(dirs)
    _write(root, "checkpoint", note, dirs)
    _sync_dirs({root})
    return TileExport(old, size, files + 1, written + len(note), len(changed))
