"""The ledger: init, the sequencer (group commit), the Merkle log, checkpoints and receipts.

Write path (docs/architecture/write-path.md): an envelope is parsed and its signature checked
(stateless given the key; in parallel worker processes for large batches), then queued for the one
sequencer thread. The sequencer takes everything queued (group commit), runs the ``attest``
rules in order against its in-memory :class:`~attest.rules.LogState`, saves the accepted entries
in one transaction, integrates them into the Merkle tree, signs a checkpoint and answers every
submitter with a receipt. If another process appended first, the store refuses the transaction
as a whole; the sequencer catches up from the store and decides again, so every decision is made
on the true log prefix — exactly the prefix an offline verifier replays.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import islice
from typing import Any

from attest.build import make_statement, sign_statement
from attest.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    sign_checkpoint,
)
from attest.completeness import RecordKind, RecordProof, StateProof
from attest.dsse import Envelope
from attest.entry import Leaf, LogEntry, genesis_prev, leaf_data
from attest.errors import ChainError, NotAuthorisedError, UnknownKeyError, VerificationError
from attest.merkle import (
    Hash,
    MerkleFrontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    subtree_hash,
)
from attest.rules import LogState, Placed, Signed, open_envelope, open_genesis
from attest.statemap import Commitment, StateMap, party_key, stream_key, subject
from attest.statements import REGISTRY_STREAM, Kind, LogKeyRotate, format_timestamp
from attest.verify import log_note_verifier, verify_log_checkpoint
from keys import PrivateKey, PublicKey
from ledger._gc import collector_paused, freeze_heap
from ledger._pickling import dumps
from ledger._pool import Opened, SignaturePool, WorkerError, open_log
from ledger._published import PublishedCheckpoint, check_against_published
from ledger._snapshot import (
    Derived,
    PartReader,
    SnapshotRefused,
    StoredSnapshot,
    named_parts,
    read_core,
    read_snapshot,
    take_snapshot,
)
from ledger._spill import PartSpill
from ledger._store import EntryStore, StoredEntry, open_store
from ledger._views import PartKey, Views
from ledger.errors import (
    ConflictError,
    CorruptionError,
    LedgerError,
    LedgerNotFoundError,
    LogKeyNotHeldError,
    StoreError,
)

__all__ = ["Clock", "Ledger", "Receipt", "system_clock"]

Clock = Callable[[], int]
"""Milliseconds since the Unix epoch."""

MAX_BATCH = 1024
"""At most this many entries are saved in one transaction."""

MAX_ATTEMPTS = 64
"""A batch is decided again at most this many times when other writers keep appending first."""

PERSIST_EVERY_S = 0.2
"""Merkle nodes and the signed checkpoint are written at most this often while entries keep
coming (and when the sequencer has been idle this long): they are a projection of the entries,
rebuilt at open, so writing them after every batch would only cost one more fsync per batch."""

PERSIST_NODES_MAX = 8192
"""...or as soon as this many nodes wait to be written."""

POOL_FROM = 128
"""``submit_many`` checks signatures in worker processes from this many envelopes on."""

CATCH_UP_POOL_FROM = 4096
"""Catching up with at least this many stored entries (opening a large ledger) opens them in
worker processes (a pool starts in ≈ 0.3 s; 4,096 entries take ≈ 1 s on one core)."""

CATCH_UP_WORKERS = os.cpu_count() or 1
"""Worker processes for a large catch-up (fewer than 2: none, everything on one core)."""

_PLACEHOLDER = bytes(32)
_NODE_CACHE_LEAVES = 1 << 16
_RECENT_HASHES = 1 << 16
_REPEAT_SEARCH = 1 << 14  # positions walked back when looking for an old repeat
_CATCH_UP_CHUNK = 4096
_KEPT_MAPS = 64  # state maps kept for the newest sizes (sharing nodes), for state proofs

SNAPSHOT_MIN_ENTRIES = 10_000
"""A writer saves a snapshot (ledger/_snapshot.py) once the log has grown by this many entries
and by :data:`SNAPSHOT_GROWTH` of its size since the last one (so that saving costs O(1) per
entry amortised): when its sequencer goes idle, at :meth:`Ledger.flush`, after a long open and
at close — never while a submitter waits."""

SNAPSHOT_GROWTH = 0.25

DIRTY_PER_ENTRY = 8
"""A snapshot due to the memory budget (:data:`RESIDENT_ENTRIES`) rewrites at most this many
entries' worth of changed streams per entry the log grew by since the last one."""

RESIDENT_ENTRIES = 250_000
"""How many entries' worth of provider streams' state (views and rules, ≈ 1.6 KB an entry) a
ledger keeps in memory by default: past it, the streams least recently read or written are
dropped — read again when next touched from the snapshot's parts, or, for those written since
the last snapshot, from the scratch file they were spilled to (ledger/_spill.py); a stream too
long to spill (``ledger._views.SPILL_MAX_SHARE``) stays, and a snapshot falls due when such
streams pass the budget (see :data:`DIRTY_PER_ENTRY`; issue 10 §2)."""

RELEASE_SHARE = 4
"""A snapshot first drops the streams' parts from memory (spilling those written since the last
one) when they hold more than a this-th of the budget."""

_log = logging.getLogger(__name__)


def system_clock() -> int:
    """The machine's clock, in ms since the Unix epoch."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the ledger returns for an accepted entry: where it is and the proof that it is there.

    Attributes:
        index: global log index.
        stream: the stream.
        position: position in the stream.
        entry_hash: SPEC §5.1.
        log_time_ms: the log's time for the entry.
        state_root: the root of the state commitment after the entry (SPEC §11), which the
            entry's leaf commits to.
        tree_size: the size of the checkpoint below.
        inclusion_proof: RFC 9162 inclusion proof of the entry's leaf in that tree.
        checkpoint: the signed checkpoint note (text) covering the entry.
        appended: whether this submission appended the entry (False: it was already there, and
            this is the original entry's receipt against the current checkpoint).
    """

    index: int
    stream: str
    position: int
    entry_hash: bytes
    log_time_ms: int
    state_root: bytes
    tree_size: int
    inclusion_proof: tuple[bytes, ...]
    checkpoint: bytes
    appended: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The receipt as JSON (hashes hex, proof hashes base64, checkpoint as text)."""
        return {
            "index": self.index,
            "stream": self.stream,
            "position": self.position,
            "entryHash": self.entry_hash.hex(),
            "logTime": format_timestamp(self.log_time_ms),  # SPEC timestamp: whole seconds
            "logTimeMs": self.log_time_ms,
            "stateRoot": self.state_root.hex(),
            "treeSize": self.tree_size,
            "inclusionProof": [base64.b64encode(h).decode() for h in self.inclusion_proof],
            "checkpoint": self.checkpoint.decode("utf-8"),
        }


@dataclass(slots=True)
class _Pending:
    signed: Signed
    future: Future[Receipt]


class Ledger:
    """One ledger database, opened for reading and (with the log key) writing.

    Build it with :meth:`init` or :meth:`open`. Thread-safe. Close it when done.
    """

    batch_hook: Callable[[int, float], None] | None = None
    """Monitoring: called by the sequencer after each batch it decided and answered, with the
    batch's entries and its seconds (decide, store, integrate, sign, answer). The server sets
    it (api/metrics.py); it runs on the sequencer thread, so it must be cheap."""

    def __init__(
        self,
        store: EntryStore,
        *,
        log_key: PrivateKey | None,
        next_log_keys: Sequence[PrivateKey] = (),
        snapshot_keys: Sequence[PublicKey] = (),
        clock: Clock = system_clock,
        published: PublishedCheckpoint | None = None,
        snapshots: bool = True,
        resident_entries: int | None = RESIDENT_ENTRIES,
        parts_checked_later: bool = False,
    ) -> None:
        self._store = store
        self._parts_later = parts_checked_later
        self._clock = clock
        self._lock = threading.RLock()  # guards state, frontier, node cache, recent hashes
        self.state = LogState()
        self.views = Views()
        self.views.read_log(self._leaves)
        self._frontier = MerkleFrontier()
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._unsaved: list[tuple[int, int, bytes]] = []  # nodes not yet in the store
        self._index_of: dict[bytes, int] = {}  # entry hash -> index, recent entries only
        self._maps: dict[int, StateMap] = {}  # size -> the state map at that size (newest)
        self._about: dict[str, list[int]] = {}  # party -> positions of registry entries about it
        self.views_error: BaseException | None = None
        # The log's private keys this object holds, by public key: the one in force, and any
        # next key a log.key.rotate may name (SPEC §7.6). Empty: read-only.
        self._private: dict[bytes, PrivateKey] = {}
        self._checkpoint: tuple[int, bytes] | None = None
        self._pool: SignaturePool | None = None  # started by the first large submit_many
        self._last_persist = time.monotonic()
        self._kept = 0  # the size of the newest checkpoint this object kept in the store
        self._published = published  # the floor file: written before a checkpoint leaves
        self._snapshots = snapshots
        self._snap_size = 0  # the size of the newest snapshot stored or read
        self._snap_signature = b""  # and its signature (which names it)
        # Its parts' SHA-256 (ledger/_snapshot.py); changed in place, for the readers of parts.
        self._parts: dict[PartKey, bytes] = {}
        self._resident = resident_entries
        self._dropped: set[str] = set()  # streams whose state this object dropped
        self._reader: PartReader | None = None  # reads parts back (once something is dropped)
        # Parts of streams written since the last snapshot, spilled to leave memory under the
        # budget (ledger/_spill.py), and their SHA-256 (shared with the views, which forget a
        # stream's when an entry is applied to it).
        self._spill: PartSpill | None = None
        self._spilled: dict[PartKey, bytes] = {}
        self._spill_reader = PartReader(self._spilled, lambda key, _d: self._read_spilled(key))
        self._corrupt_part = False  # a snapshot part failed its check when read
        # Read before the entries: a kept checkpoint is written after the entries it covers, so
        # the entries read next must reach its size unless some were removed.
        kept = store.latest_checkpoint()
        # What an open builds lives as long as this object: no collection walks it meanwhile.
        with collector_paused():
            if snapshots:
                given = () if log_key is None else (log_key, *next_log_keys)
                self._restore_snapshot([*(k.public_key for k in given), *snapshot_keys])
            self._keep_resident()  # a long catch-up too holds the budget
            self._catch_up()
            origin = self.state.origin
            if origin is None:
                raise CorruptionError("the ledger has no genesis entry")
            if log_key is not None:
                held = {k.public_key.raw: k for k in (log_key, *next_log_keys)}
                in_force = self.state.log_key
                if in_force is None or in_force.raw not in held:
                    raise LedgerError(
                        "this log key is not the one in force at size "
                        f"{self.state.size} (the genesis names it, or a log.key.rotate): "
                        f"{log_note_verifier(self.state).vkey()}"
                    )
                self._private = held
            self._check_kept_checkpoint(kept)
            self._check_published()  # before anything is signed
            if self._private:
                self._try_persist_nodes(keep_checkpoint=True, snapshot=True)
            self._keep_resident()
        self._queue: list[_Pending] = []
        self._queue_cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        url: str,
        *,
        authority_id: str,
        authority_name: str,
        authority_key: PrivateKey,
        origin: str,
        log_key: PrivateKey,
        clock: Clock = system_clock,
    ) -> Ledger:
        """Create a ledger: its tables, and the genesis entry naming the authority and log keys.

        The genesis entry is written in one transaction, so a crash leaves either no ledger
        (``open`` raises LedgerNotFoundError and ``init`` may run again) or a complete one.

        Raises:
            LedgerExistsError: the database already holds a ledger.
            VerificationError: the genesis statement is invalid (e.g. a bad party id or origin).
        """
        now = clock()
        statement = make_statement(
            kind=Kind.GENESIS,
            stream=REGISTRY_STREAM,
            prev=genesis_prev(REGISTRY_STREAM),
            signer=authority_id,
            signed_at=format_timestamp(now // 1000 * 1000),
            body={
                "origin": origin,
                "authorityName": authority_name,
                "authorityKey": authority_key.public_key.b64(),
                "logKey": log_key.public_key.b64(),
            },
        )
        envelope = sign_statement(statement, authority_key)
        signed = open_genesis(envelope)
        first = LogState()
        first.admit(genesis := Placed(signed, 0, 0, now))
        store = open_store(url, create=True)
        try:
            store.append([_stored(genesis, first.state_root)])
            return cls(store, log_key=log_key, clock=clock)
        except BaseException:
            store.close()
            raise

    @classmethod
    def open(
        cls,
        url: str,
        *,
        log_key: PrivateKey | None = None,
        next_log_keys: Sequence[PrivateKey] = (),
        snapshot_keys: Sequence[PublicKey] = (),
        clock: Clock = system_clock,
        published_checkpoint: str | os.PathLike[str] | None = None,
        snapshots: bool = True,
        resident_entries: int | None = RESIDENT_ENTRIES,
        parts_checked_later: bool = False,
    ) -> Ledger:
        """Open an existing ledger; without ``log_key`` it is read-only (no appends).

        ``log_key`` must be the log key in force at the ledger's size (SPEC §7.6);
        ``next_log_keys`` are keys a ``log.key.rotate`` may name (the ledger refuses a rotation
        to a key it does not hold) and that sign from their ``fromSize`` on. ``snapshot_keys``:
        log public keys the caller trusts to have signed a stored snapshot, for a reader that
        holds no private key (after a rotation, the snapshot is signed by the new key, SPEC
        §16.1; without it such a reader replays the log).

        Every stored entry is verified again on the way in (signatures, chain, rules, hashes),
        from the newest snapshot on if one is stored and passes its checks (ledger/_snapshot.py:
        signed by the log key, bound to the log at its size), else from genesis; with
        ``snapshots=False`` always from genesis, and none is saved.
        With ``published_checkpoint`` (a file: ledger/_published.py), every checkpoint is
        recorded there before it leaves this object, and a database that does not reach the
        checkpoint recorded there (restored from an older backup) is refused.
        ``resident_entries``: the memory budget for provider streams' state, counted in their
        entries (:data:`RESIDENT_ENTRIES`; ``None``: keep all it reads or writes), held with
        snapshots on, from the open (its catch-up too) on: past it, streams a snapshot holds
        unchanged are dropped and read back from it, and those written since are spilled to a
        scratch file of this process's (ledger/_spill.py) and read back from there.
        ``parts_checked_later``: an open from a snapshot does not check that each of its parts
        is stored (≈ 0.3 s at 100,000 companies); the caller calls
        :meth:`check_snapshot_parts` once it serves (each part is hashed when read, whatever).

        Raises:
            LedgerNotFoundError: the database holds no ledger (or an ``init`` that never finished).
            LedgerError: ``log_key`` is not the log key in force (the genesis's, or a rotation's).
            CorruptionError: the stored entries fail verification (located), or hold fewer
                entries than (or others than) the published checkpoint.
        """
        published = (
            None if published_checkpoint is None else PublishedCheckpoint(published_checkpoint)
        )
        store = open_store(url)
        try:
            if store.size() == 0:
                raise LedgerNotFoundError(
                    f"no ledger in {store!r} (its init never finished): "
                    "run `claimledger init` to create one"
                )
            return cls(
                store,
                log_key=log_key,
                next_log_keys=next_log_keys,
                snapshot_keys=snapshot_keys,
                clock=clock,
                published=published,
                snapshots=snapshots,
                resident_entries=resident_entries,
                parts_checked_later=parts_checked_later,
            )
        except BaseException:
            store.close()
            raise

    @classmethod
    def open_to_serve(cls, url: str, **options: Any) -> Ledger:
        """:meth:`open` as a server opens (``options`` are :meth:`open`'s): then
        :meth:`Views.settle` (so that the first search sorts nothing) and :func:`freeze_heap`
        (what the open built lives as long as the server: later collections need not walk it),
        with no collection from the open to the freeze (the first one after an open walked
        every object it had built, ≈ 1.5 s at 100,000 companies, to find nothing to free).
        It changes process-wide collector state: for a process that serves one ledger. The
        snapshot's parts are checked later: call :meth:`check_snapshot_parts` once serving."""
        with collector_paused():
            ledger = cls.open(url, parts_checked_later=True, **options)
            ledger.views.settle()
            freeze_heap()
        return ledger

    def close(self) -> None:
        """Stop the sequencer (after the queued entries) and close the store."""
        with self._queue_cv:
            self._closed = True
            self._queue_cv.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            self._try_persist_nodes(snapshot=True)  # what the sequencer had not written yet
        if self._pool is not None:
            self._pool.close()
        if self._spill is not None:
            self._spill.close()
        self._store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def store(self) -> EntryStore:
        """The underlying entry store."""
        return self._store

    @property
    def origin(self) -> str:
        """The log's origin (its checkpoint name)."""
        assert self.state.origin is not None  # noqa: S101 - set at open
        return self.state.origin

    @property
    def note_verifier(self) -> NoteVerifier:
        """The note verifier of the log key in force at the current size (SPEC §7.6)."""
        return log_note_verifier(self.state)

    def _signer_at(self, size: int) -> NoteSigner | None:
        """The note signer of the log key in force at ``size``, if this object holds it."""
        key = self.state.log_key_at(size)
        private = None if key is None else self._private.get(key.raw)
        return None if private is None else NoteSigner(self.origin, private)

    def _can_sign_at(self, size: int) -> bool:
        """Whether this object holds the log key in force at ``size`` (no signer is built: the
        sequencer asks this for every entry)."""
        key = self.state.log_key_at(size)
        return key is not None and key.raw in self._private

    def holds_log_key(self, key: PublicKey) -> bool:
        """Whether this object holds the private key of ``key`` (to sign once it is in force)."""
        return key.raw in self._private

    @property
    def size(self) -> int:
        """Entries in the log as this object knows it."""
        return self.state.size

    @property
    def spilled_parts(self) -> int:
        """Parts of streams written since the last snapshot now in the scratch file (views and
        rules, ledger/_spill.py), for metrics."""
        return len(self._spilled)

    @property
    def writable(self) -> bool:
        """Whether this object was opened with the log key (may append and sign)."""
        return bool(self._private)

    def refresh(self) -> int:
        """Read (and verify) the entries other writers appended since; return the new size.

        Raises:
            CorruptionError: a stored entry fails verification.
        """
        with self._lock:
            before = self.state.size
            self._catch_up()
            if self.state.size > before:
                self._others_append()
            self._adopt_snapshot()
            return self.state.size

    def _adopt_snapshot(self) -> None:
        """A read-only server takes on the writer's newest snapshot once it has read as far: the
        parts of that snapshot hold the state of every stream not written since, so it may drop
        them under its budget and read them back from there, as if it had opened from it. (Else
        the streams it applied entries to would stay in memory until it restarts, and a part of
        the snapshot it opened from, which the writer keeps for one more snapshot only, could be
        gone when it reads it.)"""
        if self._private or not self._snapshots or self.views_error is not None:
            return
        signature = self._store.snapshot_signature()
        if signature is None or signature == self._snap_signature:
            return
        row = self._store.latest_snapshot()
        if row is None or row[0] > self.state.size:
            return  # not read that far yet: a later refresh takes it on
        stored = StoredSnapshot(*row)
        core = read_core(stored, origin=self.origin, log_key=self.state.log_key_at(stored.size))
        self._snap_signature = stored.signature  # taken on or not, judged once
        if core is None or stored.root != subtree_hash(0, stored.size, self._node):
            _log.warning("the snapshot of %d entries is not taken on: unreadable", stored.size)
            return
        heads = self.state.heads
        unchanged = [
            name
            for kind, name in core.parts
            if kind == "s" and core.state.heads.get(name) == heads.get(name)
        ]
        with self.views.lock:
            for name in unchanged:
                for key in (("s", name), ("r", name)):
                    self._spilled.pop(key, None)
                    if key in core.parts:
                        self._parts[key] = core.parts[key]
            self.views.mark_stored(("s", name) for name in unchanged)
        self._snap_size = stored.size
        _log.info(
            "took on the snapshot of %d entries (%d streams unchanged since)",
            stored.size,
            len(unchanged),
        )
        self._keep_resident()

    # -- snapshots ------------------------------------------------------------------------------

    def _restore_snapshot(self, held: Sequence[PublicKey] = ()) -> None:
        """Start from the stored snapshot if it passes every check; else say why and start from
        genesis (the caller then replays the whole log).

        A snapshot taken after a log key rotation is signed by the rotated key (SPEC §16.1): it is
        read only if ``held`` (the log keys this object was given) includes that key; otherwise
        the log is replayed."""
        row = self._store.latest_snapshot()
        if row is None:
            return
        stored = StoredSnapshot(*row)
        try:
            size = self._store.size()
            if stored.size > size:
                raise SnapshotRefused(f"the database holds {size} entries")
            first = _raw(self._store.log_entries(0, 1)[0])
            last = _raw(self._store.log_entries(stored.size - 1, stored.size)[0])
            genesis = LogState()
            try:
                placed = genesis.open(first)
                genesis.check(placed)
                genesis.apply(placed)
            except VerificationError as exc:
                raise SnapshotRefused(f"the genesis entry does not verify ({exc})") from None
            if genesis.origin is None or genesis.log_key is None:
                raise SnapshotRefused("the first stored entry is not a genesis entry")
            derived = read_snapshot(
                stored,
                origin=genesis.origin,
                log_key=genesis.log_key,
                last=last,
                held=held,
                parts=None if self._parts_later else self._store.snapshot_parts,
                fetch=self._store.snapshot_part,
                on_corrupt=self._snapshot_corrupt,
            )
        except SnapshotRefused as exc:
            _log.warning(
                "the snapshot of %d entries is refused (%s): replaying the log from genesis",
                stored.size,
                exc,
            )
            return
        self.state, self.views, self._frontier = derived.state, derived.views, derived.frontier
        self.views.read_log(self._leaves)
        self._about, self._index_of = derived.about, derived.recent
        self._parts = derived.parts
        self._snap_size = stored.size
        self._snap_signature = stored.signature
        _log.info("opened from the snapshot of %d entries", stored.size)

    def snapshot(self) -> int:
        """Save a snapshot of the derived state now (the log key signs it); return its size.

        The Merkle nodes it covers are written first, in their own transaction; the snapshot
        replaces the stored one in one transaction.

        Raises:
            LedgerError: opened without the log key, or with snapshots off, or empty.
            StoreError: the store refused a write (the stored snapshot is then unchanged).
        """
        with self._lock:
            key = self.state.log_key
            private = None if key is None else self._private.get(key.raw)
            if self._corrupt_part:
                raise LedgerError(
                    "a part of this ledger's snapshot was found altered in the database: it "
                    "saves no snapshot from this state; restart it to replay the log"
                )
            if private is None or not self._snapshots:
                raise LedgerError("only a ledger opened with its log key saves snapshots")
            self._persist_nodes()  # a snapshot never covers nodes that are not stored
            budget = self._resident
            if self._reader is not None and budget is not None:
                # Under a budget, the streams' parts leave memory first (those written since
                # the last snapshot are spilled, then copied as they are): pickling the core
                # reuses the memory they held, rather than adding to it. (Not worth it for a
                # few: they would only be read back.)
                if self.views.resident_entries * RELEASE_SHARE > budget:
                    self.views.release()
                self._drop_rules()
            derived = Derived(
                self.state, self.views, self._frontier, self._about, self._index_of, self._parts
            )
            try:
                taken = take_snapshot(
                    derived,
                    self.origin,
                    private,
                    spilled=self._spilled,
                    read_spilled=self._read_spilled,
                )
            except ValueError as exc:
                raise LedgerError(str(exc)) from exc
            snap = taken.stored
            # Parts the replaced snapshot names are kept too: a server that opened from it
            # reads them on first touch. That is this object's previous one, unless another
            # writer (or another version) saved one since: then its parts are read from it, or
            # every part is kept if it cannot be read (named is None).
            keep = {*taken.digests.values(), *self._parts.values()}
            named: frozenset[bytes] | None = frozenset()
            if self._store.snapshot_signature() not in (None, self._snap_signature):
                row = self._store.latest_snapshot()
                if row is not None:
                    stored = StoredSnapshot(*row)
                    named = named_parts(
                        stored, origin=self.origin, log_key=self.state.log_key_at(stored.size)
                    )
            self._store.put_snapshot(
                (snap.size, snap.root, snap.state_root, snap.tag, snap.signature, snap.data),
                taken.parts,
                None if named is None else keep | named,
            )
            with self.views.lock:  # a part reads as stored only with its new digest
                self._parts.clear()
                self._parts.update(taken.digests)
                self.views.mark_stored(taken.taken)
                # Every spilled part is now stored as it was spilled (those of streams that
                # were dropped are read from the store from here on).
                self._spilled.clear()
                if self._spill is not None:
                    self._spill.clear()
            self._snap_size = snap.size
            self._snap_signature = snap.signature
            self._keep_resident()
            return snap.size

    def _leaves(self, start: int, end: int) -> list[tuple[int, str, int]]:
        """The log time, stream and position of the stored entries ``start .. end-1`` (what
        the views' log index reads back, :meth:`Views.read_log`)."""
        return [(e.log_time_ms, e.stream, e.position) for e in self._store.leaves(start, end)]

    def _keep_resident(self) -> None:
        """Hold this object to its memory budget (:data:`RESIDENT_ENTRIES`): the views drop
        the parts of the streams least recently used — those a snapshot holds unchanged, and
        those written since that are worth spilling (:meth:`Views.spill_to`: written out to this
        process's scratch file, ledger/_spill.py) — and the rules drop the state of the streams
        the views dropped.

        A part dropped unchanged stays in the database: a writer's snapshots name every part it
        dropped (unchanged), and keep the parts of the snapshot they replace; a read-only server
        drops only parts of streams unchanged since the snapshot it opened from, which every
        later snapshot names too (a part's key is the SHA-256 of its bytes). A spilled part is
        this process's own until a snapshot stores it."""
        if self._resident is None or not self._snapshots:
            return
        if self._reader is None:  # self._parts, changed in place from here on, is its view
            self._reader = PartReader(
                self._parts, lambda _key, d: self._store.snapshot_part(d), self._snapshot_corrupt
            )
            self.views.attach(self._read_part)
            self.views.spill_to(self._spill_part, self._spilled)
        self.views.keep_resident(self._resident, self._parts.__contains__)
        self._drop_rules(every=True)

    def _read_part(self, key: PartKey) -> tuple[Any, ...]:
        """Part ``key``'s values: spilled, or else from the newest snapshot's parts."""
        if key in self._spilled:
            return self._spill_reader(key)
        assert self._reader is not None  # noqa: S101 - set before anything is dropped
        return self._reader(key)

    def check_snapshot_parts(self) -> int:
        """Check that every part of the snapshot this object opened from (or saved, or took
        on) is stored — what an open with ``parts_checked_later`` left for later, meant for a
        thread of its own once the server serves. A part missing drops the snapshot, as one
        found altered when read does (:meth:`_snapshot_corrupt`: one error line; the next open
        replays the log; a read of that part fails meanwhile). Return how many are missing.

        Raises:
            StoreError: the store cannot be read.
        """
        with self._lock:
            wanted, signature = frozenset(self._parts.values()), self._snap_signature
        if not wanted:
            return 0
        missing = len(wanted.difference(self._store.snapshot_parts(wanted)))
        with self._lock:
            if missing and self._snap_signature == signature:  # not replaced meanwhile
                self._snapshot_corrupt()
                return missing
        return 0

    def _read_rules(self, stream: str) -> tuple[Any, ...]:
        """The rules' state of ``stream``: spilled, or else from the newest snapshot's parts."""
        return self._read_part(("r", stream))

    def _snapshot_corrupt(self) -> None:
        """A part of the snapshot this object read or saved is gone or altered in the database
        (an open, or :meth:`check_snapshot_parts`, checks only that each is there; each is
        hashed when read): drop that snapshot, so that the next open replays the log, and save
        none from this state (it names the part)."""
        _log.error(
            "a part of the snapshot of %d entries is gone or altered in the database: the "
            "snapshot is dropped, and the next open replays the log",
            self._snap_size,
        )
        self._snapshots = False
        self._corrupt_part = True
        with contextlib.suppress(StoreError):  # the refusal that follows says enough
            self._store.drop_snapshot(self._snap_signature)

    def _read_spilled(self, key: PartKey) -> bytes | None:
        return None if self._spill is None else self._spill.get(key)

    def _spill_part(self, key: PartKey, values: tuple[Any, ...]) -> None:
        """Write part ``key`` (its values now) to the scratch file and keep its SHA-256."""
        if self._spill is None:
            self._spill = PartSpill()
        data = dumps(values)
        self._spill.put(key, data)
        self._spilled[key] = hashlib.sha256(data).digest()

    def _drop_rules(self, *, every: bool = False) -> None:
        """Drop the rules' state of the streams whose views were dropped; with ``every``, of
        every stream whose views are not in memory (the rules also read the streams of entries
        they refused, which the views never see). A stream the views read back since (and may
        have written) keeps it. One written since the last snapshot (its views were spilled)
        has its rules' state spilled too, unless it was already, unchanged since."""
        if self.views_error is not None:
            return  # the views missed an entry the rules took: their marks say nothing
        dropped = self.views.take_dropped()
        if every:  # those whose rules' state is in memory (never read: nothing to drop)
            parts = self._parts
            dropped.update(n for n in self.state.in_memory() if ("r", n) in parts)
        if not dropped:
            return
        spilled = self._spilled
        with self.views.lock:
            dropped -= self.views.resident_streams()
            new = [n for n in dropped if ("s", n) in spilled and ("r", n) not in spilled]
            for n, rules in self.state.stream_rules(new).items():
                self._spill_part(("r", n), rules)
            readers: dict[str, Callable[[str], Any]] = {
                n: self._read_rules
                for n in dropped
                if ("r", n) in spilled or (("s", n) not in spilled and ("r", n) in self._parts)
            }
        self._dropped |= dropped
        if readers:
            self.state.evict(readers)

    def _others_append(self) -> None:
        """Another process appends to this log: stop dropping parts, and read back those
        dropped. Its snapshots keep only the parts it names and those of the snapshot they
        replace, so a part this writer dropped could be deleted by its second snapshot (10,000
        entries or more from now: this writer sees the first of them within its follower's
        interval, or at its next append)."""
        if self._resident is None or not self._private:
            return
        self._resident = None
        self.views.keep_resident(None, self._parts.__contains__)
        self.views.load_parts(self._dropped)
        self.state.stream_rules(self._dropped)  # reads them back
        _log.info(
            "another process appends to this log: keeping every part in memory from now on "
            "(%d streams' read back)",
            len(self._dropped),
        )
        self._dropped = set()

    def _snapshot_due(self) -> bool:
        grown = self.state.size - self._snap_size
        if not (
            self._can_sign_at(self.state.size)
            and self._snapshots
            and self.views_error is None
            and grown >= SNAPSHOT_MIN_ENTRIES
        ):
            return False
        if grown >= SNAPSHOT_GROWTH * self._snap_size:
            return True
        # Streams written since the last snapshot cannot be dropped: once they pass the memory
        # budget, a snapshot lets them go, if it rewrites at most DIRTY_PER_ENTRY entries' worth
        # of parts per new entry (a part is a whole stream).
        if self._resident is None or self.views.resident_entries <= self._resident:
            return False
        dirty = self.views.dirty_entries()
        return dirty > self._resident and grown * DIRTY_PER_ENTRY >= dirty

    # -- catching up with the store ---------------------------------------------------------------

    def _catch_up(self) -> None:
        """Apply every stored entry this object has not seen yet (startup, or after a conflict).

        Stored entries are re-verified with the same rules: a tampered database is refused. When
        at least :data:`CATCH_UP_POOL_FROM` entries are new (opening a large ledger), their
        stateless half — envelope, signature, statement — is opened in a :class:`SignaturePool`
        one chunk ahead of the rules, which still decide every entry here, in index order.
        """
        with self._lock, collector_paused():
            start = self.state.size
            entries = self._store.iter_log(start)
            if self._store.size() - start < CATCH_UP_POOL_FROM or CATCH_UP_WORKERS < 2:
                for stored in entries:
                    self._catch_up_one(stored, None)
            else:
                try:
                    with SignaturePool(CATCH_UP_WORKERS) as pool:
                        for part, opened in open_log(pool, entries, _raw):
                            for stored, signed in zip(part, opened, strict=True):
                                self._catch_up_one(stored, signed)
                except WorkerError as exc:
                    # The workers could not start or died: the same checks, on this core.
                    _log.warning("catching up on one core: %s", exc)
                    for stored in self._store.iter_log(self.state.size):
                        self._catch_up_one(stored, None)
            self._remember_map()
            self._try_persist_nodes()

    def _catch_up_one(self, stored: StoredEntry, opened: Opened | None) -> None:
        """Decide one stored entry again and apply it (``opened``: its result from a worker)."""
        raw = _raw(stored)
        try:
            placed: Placed | None = None
            if isinstance(opened, Signed) and self.state.key(opened.keyid) is not None:
                placed = self.state.place(raw, opened)
            if placed is None:
                # No worker result, a failure, or a key unknown here at this index: open it in
                # this process, so the error (or the success) is the sequential one.
                placed = self.state.open(raw)
            self.state.check(placed)
        except VerificationError as exc:
            raise CorruptionError(
                f"stored entry fails verification: {exc}",
                stream=stored.stream,
                position=stored.position,
                index=stored.index,
            ) from exc
        if placed.signed.entry_hash != stored.entry_hash:
            raise CorruptionError(
                "stored entry hash does not match its envelope",
                stream=stored.stream,
                position=stored.position,
                index=stored.index,
            )
        self.state.apply(placed)
        if self.state.state_root != stored.state_root:
            raise CorruptionError(
                "stored state root is not the state commitment replayed from the log",
                stream=stored.stream,
                position=stored.position,
                index=stored.index,
            )
        self._integrate(raw, placed.signed.entry_hash)
        self._apply_views(placed)
        if self.views.dropped_any:
            self._drop_rules()
        if len(self._unsaved) >= 2 * _CATCH_UP_CHUNK:
            self._try_persist_nodes()  # bounded memory while reading a large log

    def _integrate(self, raw: LogEntry, ehash: bytes) -> None:
        assert raw.state_root is not None  # noqa: S101 - every stored entry has one
        leaf = leaf_hash(
            leaf_data(raw.index, raw.stream, raw.position, raw.log_time_ms, ehash, raw.state_root)
        )
        for level, index, h in self._frontier.append(leaf):
            self._nodes[(level, index)] = h
            self._unsaved.append((level, index, h))
        recent = self._index_of
        recent[ehash] = raw.index
        if len(recent) > 2 * _RECENT_HASHES:  # keep the newest half (dicts keep insertion order)
            for old in list(islice(recent, len(recent) - _RECENT_HASHES)):
                del recent[old]

    def _remember_map(self, size: int | None = None, m: StateMap | None = None) -> None:
        """Keep the state map of ``size`` (default: the current one) among the newest few."""
        maps = self._maps
        if size is None or m is None:
            size, m = self.state.size, self.state.state_map
        maps.setdefault(size, m)
        if len(maps) > _KEPT_MAPS:
            del maps[next(iter(maps))]

    def _apply_views(self, placed: Placed) -> None:
        who = subject(placed.signed.statement)
        if who is not None:
            self._about.setdefault(who, []).append(placed.position)
        # The views are a projection: a failure there must not stop the log (the entry is
        # stored and in the tree). It is kept for the views' owner to see; views rebuild at open.
        try:
            self.views.apply(placed)
        except Exception as exc:
            if self.views_error is None:
                self.views_error = exc
            _log.exception("read views failed at index %d", placed.index)

    def _persist_nodes(self, *, keep_checkpoint: bool = False) -> None:
        """Write the nodes made since the last write to the store; trim the cache.

        With the log key, the signed checkpoint of the new size is kept in the same transaction:
        it lets a read-only process serve checkpoints and lets every later open detect a database
        that lost entries the log had signed (a rollback).

        O(new nodes): the nodes are collected as the tree grows, not found by scanning the cache.
        The marker is never lowered below what the store already claims (nodes are never
        deleted, so a marker set by another writer stays true), and never raised past nodes that
        are not written. Nodes stay cached until written.
        """
        size = self._frontier.size
        # Only a checkpoint this object can sign (after another writer's rotation it may not).
        keep = size > 0 and self._can_sign_at(size)
        keep = keep and (keep_checkpoint or self._kept < size)
        if self._unsaved or keep:
            done = self._store.nodes_size()
            if done < size or keep:
                note = self.checkpoint() if keep else None
                self._store.put_nodes(self._unsaved if done < size else [], max(size, done), note)
                if keep:
                    self._kept = size
            self._unsaved = []
        self._last_persist = time.monotonic()
        if len(self._nodes) > 4 * _NODE_CACHE_LEAVES:
            keep_from = size - _NODE_CACHE_LEAVES
            self._nodes = {k: h for k, h in self._nodes.items() if (k[1] << k[0]) >= keep_from}

    def flush(self) -> None:
        """Write the Merkle nodes and keep the signed checkpoint now, not within
        :data:`PERSIST_EVERY_S` (e.g. before copying the database file); and a snapshot, if one
        is due (:data:`SNAPSHOT_MIN_ENTRIES`).

        Raises:
            StoreError: the store refused the write.
        """
        with self._lock:
            self._persist_nodes()
            if self._snapshot_due():
                self.snapshot()

    def _try_persist_nodes(self, *, keep_checkpoint: bool = False, snapshot: bool = False) -> None:
        # Nodes are a projection and stay cached until written (next time, or rebuilt at the
        # next open): failing to write them (a full disk, a read-only database user) must not
        # fail an append whose entries are stored, nor a read-only open.
        try:
            self._persist_nodes(keep_checkpoint=keep_checkpoint)
        except StoreError:
            _log.exception("cannot store Merkle nodes; they stay cached and will be retried")
            return
        # Only where no submitter waits (idle, opening, closing): saving a snapshot pickles the
        # whole derived state under the lock, a pause that grows with the log (BENCHMARKS.md).
        if snapshot and self._snapshot_due():
            try:
                self.snapshot()
            except StoreError:
                _log.exception("cannot store a snapshot; the next open replays from the last")

    def _node(self, level: int, index: int) -> bytes:
        h = self._nodes.get((level, index))
        if h is None:
            h = self._store.get_node(level, index)
        return h

    # -- proofs and checkpoints ------------------------------------------------------------------

    def _check_kept_checkpoint(self, note: bytes | None) -> None:
        """Refuse a database that lost or changed entries the log signed a checkpoint over.

        Raises:
            CorruptionError: the kept checkpoint does not verify, is larger than the log
                (entries were removed: a rollback), or its root is not the root of the stored
                entries at its size (history was rewritten).
        """
        if note is None:
            return
        try:
            cp = verify_log_checkpoint(note, self.state)
        except VerificationError as exc:
            raise CorruptionError(f"the checkpoint kept in the database is invalid: {exc}") from exc
        size = self._frontier.size
        if cp.size > size:
            raise CorruptionError(
                f"the log signed a checkpoint of {cp.size} entries but the database holds "
                f"{size}: entries were removed (rollback)"
            )
        root = self._frontier.root() if cp.size == size else subtree_hash(0, cp.size, self._node)
        if root != cp.root:
            raise CorruptionError(
                f"the stored entries do not match the checkpoint the log signed at size "
                f"{cp.size}: history was rewritten"
            )
        self._checkpoint = (cp.size, note)

    def _check_published(self) -> None:
        """Refuse a database that does not reach the checkpoint recorded as published.

        Raises:
            LedgerError: the file is unreadable or not this log's checkpoint.
            CorruptionError: the database holds fewer entries than that checkpoint, or others.
        """
        if self._published is None:
            return
        cp = self._published.read(lambda note: verify_log_checkpoint(note, self.state))
        if cp is None:
            return
        size = self._frontier.size
        check_against_published(
            self._published,
            cp,
            size,
            lambda n: self._frontier.root() if n == size else subtree_hash(0, n, self._node),
        )

    def _publish(self, size: int, note: bytes) -> None:
        """Record a checkpoint in the published-checkpoint file before it leaves this object
        (in a receipt, from :meth:`checkpoint`, or kept in the database for read-only servers).

        Raises:
            StoreError: the file cannot be written.
        """
        if self._published is not None:
            self._published.write(size, note)

    def checkpoint(self) -> bytes:
        """The signed checkpoint note of the current tree (deterministic per size).

        A ledger opened without the log key serves the newest checkpoint the writer kept in the
        database of at most the entries this object has read and verified (it may lag them by the
        batch being written). It does not read the store's newer entries itself: whoever keeps
        it current (the server's follower, :meth:`refresh`) does, so the checkpoint served never
        covers entries this object has not verified, and never races the follower.

        Raises:
            LedgerError: read-only, and no checkpoint of at most its size was ever kept.
        """
        with self._lock:
            size = self._frontier.size
            signer = self._signer_at(size)
            if not self._private:
                kept = self._store.kept_checkpoint(size)
                if kept is None:
                    raise LedgerError(
                        "this ledger was opened without its log key, and the database keeps no"
                        f" checkpoint of at most its {size} entries"
                    )
                return kept[1]
            if self._checkpoint is None or self._checkpoint[0] != size:
                cp = Checkpoint(self.origin, size, self._frontier.root())
                if signer is None:
                    raise LogKeyNotHeldError(self._missing_key(size))
                self._checkpoint = (size, sign_checkpoint(cp, signer))
            self._publish(*self._checkpoint)
            return self._checkpoint[1]

    def _keep_handover(self, size: int) -> None:
        """Keep the hand-over checkpoint of a log key rotation (SPEC §7.6): the checkpoint of
        ``size``, the log once the rotation is in it, signed by the key still in force, so that
        it can be served after that key is gone and clients pinned to it can follow."""
        try:
            self._store.keep_checkpoint(size, self.checkpoint_at(size))
        except (LedgerError, StoreError) as exc:
            # The entries are stored; while this object holds the old key it can still sign the
            # note on request (checkpoint_at). Say so rather than fail an accepted append.
            _log.warning("could not keep the hand-over checkpoint of size %d: %s", size, exc)

    def _missing_key(self, size: int) -> str:
        return (
            f"this ledger does not hold the log key in force at size {size}, "
            f"{log_note_verifier(self.state, size).vkey()} (SPEC §7.6): open it with that key"
        )

    def checkpoint_at(self, size: int) -> bytes:
        """A checkpoint note of the tree of ``size``: the cosigned one kept for that size if
        there is one, else the one kept for that size (every checkpoint the writer kept stays in
        the database), else the current one if it has that size, else one signed now (which
        needs the log key; Ed25519 is deterministic and a note has no time, so it is the same
        note the log signed, or would have signed, at that size).

        Raises:
            LedgerError: ``size`` is not in 1..size of the log, or no note of that size can be
                had without the log key.
        """
        with self._lock:
            if not 0 < size <= self._frontier.size:
                raise LedgerError(f"no checkpoint of size {size}: the log has {self.size} entries")
            cosigned = self._store.cosigned_checkpoint(size)
            if cosigned is not None:
                return cosigned
            kept = self._store.kept_checkpoint(size)
            if kept is not None and kept[0] == size:
                return kept[1]
            if not self._private:
                note = self.checkpoint()
                if checkpoint_size_of(note) != size:
                    raise LedgerError(
                        f"a read-only ledger has no checkpoint of size {size} to serve"
                    )
                return note
            if size == self._frontier.size:
                return self.checkpoint()
            cp = Checkpoint(self.origin, size, subtree_hash(0, size, self._node))
            signer = self._signer_at(size)
            if signer is None:
                raise LogKeyNotHeldError(self._missing_key(size))
            note = sign_checkpoint(cp, signer)
            self._publish(size, note)
            return note

    def checkpoint_as_of(self, as_of_ms: int) -> tuple[int, bytes]:
        """The newest kept checkpoint whose log time is at most ``as_of_ms``: the record as the
        log had signed it at that time (a checkpoint's log time is its last entry's).

        Returns:
            Its size and note (the cosigned note of that size, if one was kept).

        Raises:
            LedgerError: no checkpoint was kept by then.
        """
        with self._lock:
            cut = min(self.views.size_at(as_of_ms), self._frontier.size)
            kept = self._store.kept_checkpoint(cut) if cut > 0 else None
            if kept is None:
                raise LedgerError(
                    f"no checkpoint of this log was kept at or before {format_timestamp(as_of_ms)}"
                )
            return kept[0], self._store.cosigned_checkpoint(kept[0]) or kept[1]

    def cosigned_checkpoint(self, size: int | None = None) -> bytes | None:
        """The checkpoint note with witness cosignatures of ``size`` (default: the newest) that
        reached the server's witness policy's quorum, if one was kept (:meth:`keep_cosigned`)."""
        return self._store.cosigned_checkpoint(size)

    def keep_cosigned(self, note: bytes) -> Checkpoint:
        """Keep a checkpoint note of this log that carries witness cosignatures.

        The caller checked the cosignatures against its policy; this checks that the note is
        this log's: signed by its key, at most its size, with the root of its entries.

        Raises:
            LedgerError: the note is not a checkpoint of this log's entries.
            StoreError: the store refused the write.
        """
        try:
            cp = verify_log_checkpoint(note, self.state)
        except VerificationError as exc:
            raise LedgerError(f"not a checkpoint of this log: {exc}") from exc
        with self._lock:
            if not 0 < cp.size <= self._frontier.size:
                raise LedgerError(f"checkpoint size {cp.size} is not in 1..{self.size}")
            root = (
                self._frontier.root()
                if cp.size == self._frontier.size
                else subtree_hash(0, cp.size, self._node)
            )
        if root != cp.root:
            raise LedgerError(f"checkpoint of size {cp.size} does not have this log's root")
        self._store.put_cosigned(cp.size, note)
        return cp

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` (O(log n) reads)."""
        with self._lock:
            self._check_size(size)
            return self._prove(lambda get: inclusion_proof(index, size, get))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof between trees of ``size1`` and ``size2``."""
        with self._lock:
            self._check_size(size2)
            return self._prove(lambda get: consistency_proof(size1, size2, get))

    def _prove(self, proof: Callable[[Callable[[int, int], bytes]], list[Hash]]) -> list[bytes]:
        """Run ``proof`` with every node it reads fetched in one query.

        Which nodes a proof reads depends only on its index and sizes, never on their values:
        a dry run with placeholder hashes names them, and the ones not in the node cache come
        from the store in one round trip instead of one per node (PostgreSQL: ~0.4 ms each).
        """
        wanted: list[tuple[int, int]] = []

        def record(level: int, index: int) -> bytes:
            if (level, index) not in self._nodes:
                wanted.append((level, index))
            return _PLACEHOLDER

        proof(record)
        fetched = self._store.get_nodes(wanted) if wanted else {}

        def get(level: int, index: int) -> bytes:
            h = self._nodes.get((level, index)) or fetched.get((level, index))
            return h if h is not None else self._store.get_node(level, index)

        return list(proof(get))

    def state_proof(self, size: int, records: Sequence[tuple[RecordKind, str]]) -> StateProof:
        """The state commitment at tree ``size``, with the records of these streams and parties
        (SPEC §11.4): what a sparse client needs to know a record is whole.

        Raises:
            LedgerError: ``size`` is not a size of this tree.
            CorruptionError: the stored state root at ``size`` is not the replayed one.
        """
        with self._lock:
            self._check_size(size)
            m = self._maps.get(size)
        if m is None:
            m = self._rebuild_map(size)  # O(size): an older size than the kept ones
            with self._lock:
                self._remember_map(size, m)
        (last,) = self._store.leaves(size - 1, size)
        if m.root() != last.state_root:
            raise CorruptionError(
                f"the stored state root at size {size} is not the replayed state", index=size - 1
            )
        leaf = Leaf(
            last.index,
            last.stream,
            last.position,
            last.log_time_ms,
            last.entry_hash,
            last.state_root,
        )
        keys = {"stream": stream_key, "party": party_key}
        return StateProof(
            leaf,
            tuple(self.inclusion_proof(size - 1, size)),
            tuple(RecordProof(kind, ident, m.prove(keys[kind](ident))) for kind, ident in records),
        )

    def registry_about(self, party: str, size: int | None = None) -> list[LogEntry]:
        """The registry entries about ``party`` (its registry record, SPEC §11.1) below ``size``."""
        with self._lock:
            positions = list(self._about.get(party, ()))
        out: list[LogEntry] = []
        for pos in positions:
            (e,) = self.stream_entries(REGISTRY_STREAM, pos, pos + 1)
            if size is None or e.index < size:
                out.append(e)
        return out

    def _rebuild_map(self, size: int) -> StateMap:
        """The state map at an older ``size``, from the stored leaves (what each registry entry
        is about is known since the open: no payload is read again)."""
        with self._lock:
            about = {pos: who for who, positions in self._about.items() for pos in positions}
        commitment = Commitment()
        for lo in range(0, size, _CATCH_UP_CHUNK):
            for leaf in self._store.leaves(lo, min(size, lo + _CATCH_UP_CHUNK)):
                who = about.get(leaf.position) if leaf.stream == REGISTRY_STREAM else None
                commitment.add(leaf.stream, leaf.index, leaf.position, leaf.entry_hash, who)
        return commitment.map

    def _check_size(self, size: int) -> None:
        if not 0 < size <= self._frontier.size:
            raise LedgerError(f"tree size {size} is not in 1..{self._frontier.size}")

    # -- the write path ------------------------------------------------------------------------

    def prepare(self, envelope_bytes: bytes) -> Signed:
        """Parse an envelope, find its key, verify its signature and parse its statement.

        Stateless given the key; callers may run it in parallel. A key this object has not seen
        may have been registered by another writer: it catches up once before refusing.

        Raises:
            VerificationError: malformed envelope, unknown key, bad signature, invalid statement.
        """
        env = Envelope.parse(envelope_bytes)
        key = self.state.key(env.signature.keyid)
        if key is None and self._store.size() > self.state.size:
            self.refresh()
            key = self.state.key(env.signature.keyid)
        if key is None:
            raise UnknownKeyError(
                f"key {env.signature.keyid} is not registered", field="/signatures/0/keyid"
            )
        return open_envelope(env, key)

    def submit(self, envelope_bytes: bytes) -> Receipt:
        """Append one envelope and return its receipt (the same receipt if already appended).

        Raises:
            VerificationError: the envelope is invalid or a rule refuses it (ChainError carries
                the current head of the stream).
            LedgerError: read-only, closed, or the store failed.
        """
        return self.submit_signed([self.prepare(envelope_bytes)])[0].result()

    def submit_many(self, envelopes: Sequence[bytes]) -> list[Receipt | VerificationError]:
        """Append several envelopes in order; each gets a receipt or its own error.

        An envelope may be signed with a key registered by an earlier envelope of the same call.

        Raises:
            LedgerError: read-only, closed, or the store failed.
        """
        out: list[Receipt | VerificationError | None] = [None] * len(envelopes)
        ready: list[Signed] = []
        slots: list[int] = []

        def flush() -> None:
            for i, fut in zip(slots, self.submit_signed(ready), strict=True):
                failure = fut.exception()
                out[i] = fut.result() if failure is None else _as_verification_error(failure)
            ready.clear()
            slots.clear()

        for i, (raw, opened) in enumerate(zip(envelopes, self._open_all(envelopes), strict=True)):
            if isinstance(opened, UnknownKeyError) and ready:
                flush()  # the key may be registered by an earlier envelope of this call
                try:
                    opened = self.prepare(raw)
                except VerificationError as again:
                    opened = again
            if isinstance(opened, VerificationError):
                out[i] = opened
                continue
            ready.append(opened)
            slots.append(i)
        flush()
        return [r for r in out if r is not None]

    def _open_all(self, envelopes: Sequence[bytes]) -> list[Signed | VerificationError]:
        """:meth:`prepare` every envelope; in worker processes when there are many."""
        if len(envelopes) < POOL_FROM:
            out: list[Signed | VerificationError] = []
            for raw in envelopes:
                try:
                    out.append(self.prepare(raw))
                except VerificationError as exc:
                    out.append(exc)
            return out
        with self._lock:
            keys: dict[str, bytes] = {kid: k.key.raw for kid, k in self.state.keys.items()}
            if self._pool is None:
                self._pool = SignaturePool()
        return self._pool.open_many(envelopes, keys)

    def submit_signed(self, items: Sequence[Signed], *, wait: bool = True) -> list[Future[Receipt]]:
        """Queue prepared entries for the sequencer; returns one future per entry.

        With ``wait`` (the default) the futures are resolved on return. A future fails with
        LedgerError if the sequencer stops before deciding it; it never hangs.

        Raises:
            LedgerError: read-only, closed, or called from the sequencer itself (a view hook).
        """
        if not self._private:
            raise LedgerError("this ledger was opened read-only (no log key)")
        if threading.current_thread() is self._thread:
            raise LedgerError("submit from inside the sequencer would wait for itself")
        pend = [_Pending(s, Future()) for s in items]
        with self._queue_cv:
            if self._closed:
                raise LedgerError("the ledger is closed")
            self._queue.extend(pend)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._sequencer, name="claimledger-sequencer", daemon=True
                )
                self._thread.start()
            self._queue_cv.notify_all()
        if wait:
            for p in pend:
                p.future.exception()  # wait
        return [p.future for p in pend]

    def _sequencer(self) -> None:
        stopped: BaseException = LedgerError("the ledger was closed before this entry was decided")
        try:
            while True:
                idle = False
                with self._queue_cv:
                    while not self._queue and not self._closed:
                        if not self._unsaved:
                            self._queue_cv.wait()
                        elif not self._queue_cv.wait(timeout=PERSIST_EVERY_S):
                            idle = True  # nothing came: write what waits, then wait again
                            break
                    if not idle:
                        if not self._queue and self._closed:
                            return
                        batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                if idle:
                    with self._lock:
                        self._try_persist_nodes(snapshot=True)
                    continue
                try:
                    began = time.perf_counter()
                    self._sequence(batch)
                    if self.batch_hook is not None:  # every submitter is answered already
                        self.batch_hook(len(batch), time.perf_counter() - began)
                except BaseException as exc:
                    for p in batch:
                        if not p.future.done():
                            p.future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        stopped = LedgerError(f"the sequencer stopped: {exc!r}")
                        raise
        finally:
            # Whatever ends this thread, nobody may wait forever for an answer from it.
            with self._queue_cv:
                left, self._queue = self._queue, []
                if self._thread is threading.current_thread():
                    self._thread = None  # the next submit starts a new sequencer
            for p in left:
                if not p.future.done():
                    p.future.set_exception(stopped)

    def _sequence(self, batch: list[_Pending]) -> None:
        for attempt in range(MAX_ATTEMPTS):
            if attempt > 2:
                time.sleep(random.uniform(0, 0.001 * attempt))  # noqa: S311 - jitter only
            with self._lock:
                state = self.state
                state.begin()
                try:
                    decisions, placed, roots = self._decide(batch)
                    if self._stale_refusal(decisions):
                        raise ConflictError("refused on a stale prefix")
                    stored = [_stored(pl, r) for pl, r in zip(placed, roots, strict=True)]
                    if stored:
                        self._store.append(stored)
                except ConflictError:
                    state.rollback()
                    self._catch_up()  # another writer got there first: decide again
                    self._others_append()
                    continue
                except BaseException:
                    state.rollback()
                    raise
                state.commit()
                self._remember_map()
                # The entries are durable: from here on nothing may leave the tree behind.
                for pl, entry in zip(placed, stored, strict=True):
                    self._integrate(_raw(entry), pl.signed.entry_hash)
                for pl in placed:
                    self._apply_views(pl)
                if placed and (
                    time.monotonic() - self._last_persist >= PERSIST_EVERY_S
                    or len(self._unsaved) >= PERSIST_NODES_MAX
                ):
                    self._try_persist_nodes()
                self._answer(batch, decisions, stored)
                self._drop_rules()
                for pl in placed:
                    if isinstance(pl.signed.statement.body, LogKeyRotate):
                        self._keep_handover(pl.index + 1)
                return
        raise LedgerError("could not append: the log kept changing under this writer")

    def _stale_refusal(self, decisions: dict[int, Placed | int | Exception]) -> bool:
        """Whether a refusal was decided while other writers had appended entries not yet seen.

        A refusal must be the decision of the true log prefix (a ChainError must report the
        current head, an unknown party may just have been registered elsewhere).
        """
        if not any(isinstance(d, Exception) for d in decisions.values()):
            return False
        return self._store.size() > self.state.size - sum(
            1 for d in decisions.values() if isinstance(d, Placed)
        )

    def _decide(
        self, batch: list[_Pending]
    ) -> tuple[dict[int, Placed | int | Exception], list[Placed], list[bytes]]:
        """Check and apply the batch in order; rejected entries change nothing.

        Returns the decisions, the entries placed and the state root after each of them.
        """
        now = max(self._clock(), self.state.last_log_time_ms)
        decisions: dict[int, Placed | int | Exception] = {}
        placed: list[Placed] = []
        roots: list[bytes] = []
        seen: dict[bytes, int] = {}
        for i, p in enumerate(batch):
            ehash = p.signed.entry_hash
            if ehash in self._index_of:
                decisions[i] = self._index_of[ehash]  # idempotent repeat of a stored entry
                continue
            if ehash in seen:
                decisions[i] = -1 - seen[ehash]  # repeat within this batch
                continue
            _, length = self.state.head(p.signed.statement.stream)
            pl = Placed(p.signed, self.state.size, length, now)
            try:
                self.state.check(pl)
            except ChainError as exc:
                stored = self._stored_index(p.signed)  # an older repeat, beyond the recent ones
                decisions[i] = exc if stored is None else stored
                continue
            except VerificationError as exc:
                decisions[i] = exc
                continue
            if not self._can_sign_at(pl.index + 1):
                # Another writer logged a rotation to a key this one does not hold: storing the
                # entry would make a log this writer cannot sign a checkpoint of.
                decisions[i] = LogKeyNotHeldError(
                    self._missing_key(pl.index + 1) + ", and so cannot append this entry"
                )
                continue
            body = p.signed.statement.body
            if isinstance(body, LogKeyRotate) and not self.holds_log_key(
                PublicKey.from_b64(body.key)
            ):
                decisions[i] = NotAuthorisedError(
                    f"this ledger does not hold the private key of the new log key {body.key}: "
                    "it could not sign from fromSize on; open it with that key as a next log "
                    "key first (docs/operating/log-key-rotation.md)",
                    field="/body/key",
                    **pl.location(),  # type: ignore[arg-type]
                )
                continue
            self.state.apply(pl)
            decisions[i] = pl
            seen[ehash] = len(placed)
            placed.append(pl)
            roots.append(self.state.state_root)
        return decisions, placed, roots

    def _stored_index(self, signed: Signed) -> int | None:
        """The index of ``signed`` if it is already stored (searching its stream from the head).

        ``prev`` pins the one position where a statement can be: right after the entry whose
        hash it names. Walking back from the head, that position comes before its predecessor.
        """
        st = signed.statement
        length = self.state.head(st.stream)[1]
        if st.prev == genesis_prev(st.stream):
            first = self._store.stream_entries(st.stream, 0, 1)
            return first[0].index if first and first[0].entry_hash == signed.entry_hash else None
        hi, floor = length, max(0, length - _REPEAT_SEARCH)  # bounded: prev may be garbage
        chunk = 8  # a stale prev is usually just behind the head: read a little first
        while hi > floor:
            lo = max(floor, hi - chunk)
            chunk = min(2 * chunk, 256)
            for e in reversed(self._store.stream_entries(st.stream, lo, hi)):
                if e.entry_hash == signed.entry_hash:
                    return e.index
                if e.entry_hash.hex() == st.prev:
                    return None
            hi = lo
        return None

    def _answer(
        self,
        batch: list[_Pending],
        decisions: dict[int, Placed | int | Exception],
        stored_all: list[StoredEntry],
    ) -> None:
        size = self._frontier.size
        note = self.checkpoint() if size else b""
        memo: dict[tuple[int, int], Hash] = {}  # right-edge subtrees, shared by the proofs
        first = stored_all[0].index if stored_all else 0
        for i, p in enumerate(batch):
            d = decisions[i]
            try:
                if isinstance(d, Exception):
                    p.future.set_exception(d)
                    continue
                if isinstance(d, int):
                    index = d if d >= 0 else stored_all[-1 - d].index
                    original = self._receipt_for_index(index, size, note, memo)
                    p.future.set_result(dataclasses.replace(original, appended=False))
                    continue
                p.future.set_result(self._receipt(stored_all[d.index - first], size, note, memo))
            except Exception as exc:  # one failed receipt must not leave the others unanswered
                if not p.future.done():
                    p.future.set_exception(exc)

    def _receipt(
        self,
        e: StoredEntry,
        size: int,
        note: bytes,
        memo: dict[tuple[int, int], Hash] | None = None,
    ) -> Receipt:
        proof = tuple(inclusion_proof(e.index, size, self._node, memo=memo))
        return Receipt(
            e.index,
            e.stream,
            e.position,
            e.entry_hash,
            e.log_time_ms,
            e.state_root,
            size,
            proof,
            note,
        )

    def _receipt_for_index(
        self,
        index: int,
        size: int,
        note: bytes,
        memo: dict[tuple[int, int], Hash] | None = None,
    ) -> Receipt:
        (stored,) = self._store.log_entries(index, index + 1)
        return self._receipt(stored, size, note, memo)

    # -- reads -------------------------------------------------------------------------------

    def receipt(self, index: int) -> Receipt:
        """A fresh receipt for the entry at ``index`` against the current checkpoint."""
        with self._lock:
            size = self._frontier.size
            if not 0 <= index < size:
                raise LedgerError(f"no entry at index {index}")
            return self._receipt_for_index(index, size, self.checkpoint())

    def log_entries(self, start: int, end: int) -> list[LogEntry]:
        """Raw entries with global indexes in [start, end)."""
        return [_raw(s) for s in self._store.log_entries(start, end)]

    def iter_log(self, start: int = 0) -> Iterator[LogEntry]:
        """Every raw entry from ``start`` on, in index order, in constant memory."""
        for s in self._store.iter_log(start):
            yield _raw(s)

    def stream_entries(self, stream: str, start: int = 0, end: int | None = None) -> list[LogEntry]:
        """Raw entries of ``stream`` with positions in [start, end)."""
        return [_raw(s) for s in self._store.stream_entries(stream, start, end)]

    def head(self, stream: str) -> tuple[str, int]:
        """The stream's head (hex hash to use as ``prev``) and its length."""
        with self._lock:
            return self.state.head(stream)


def checkpoint_size_of(note: bytes) -> int:
    """The size line of a checkpoint note this ledger kept (already verified when kept)."""
    return int(note.split(b"\n", 2)[1])


def _stored(pl: Placed, state_root: bytes) -> StoredEntry:
    return StoredEntry(
        pl.index,
        pl.signed.statement.stream,
        pl.position,
        pl.log_time_ms,
        pl.signed.envelope.to_bytes(),
        pl.signed.entry_hash,
        state_root,
    )


def _raw(s: StoredEntry) -> LogEntry:
    return LogEntry(s.index, s.stream, s.position, s.log_time_ms, s.envelope, s.state_root)


def _as_verification_error(exc: BaseException) -> VerificationError:
    if isinstance(exc, VerificationError):
        return exc
    raise exc
