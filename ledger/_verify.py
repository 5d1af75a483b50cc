"""Full client-side verification of a log: streaming, constant memory, all cores (SPEC §8.3).

:func:`verify_log` gives exactly the verdict of :class:`attest.verify.LogVerifier` fed entry by
entry — the same first failure, with the same error — but checks signatures in a
:class:`~ledger._pool.SignaturePool` while the calling process runs the rules:

1. entries are read in chunks (2,048 by default); the public keys that registry entries of a
   chunk introduce are collected (unverified: a key id is the hash of its key, so a key map can
   only ever say "the key with this id is this key"; whether it belonged to the signer and was
   unrevoked at that index is for the rules);
2. the chunk is handed to the workers, which parse each envelope, verify its signature and parse
   its statement;
3. meanwhile the calling process feeds the previous chunk, in index order, to
   :meth:`LogVerifier.feed_opened <attest.verify.LogVerifier.feed_opened>`.

Whenever a worker could not open an entry (any error, or a key it was not given), or opened it
with a key the rules' state does not know at that index, the calling process opens it again itself
with :meth:`LogState.open <attest.rules.LogState.open>`, so the error raised is the one the
sequential verifier raises. The genesis entry (index 0) is always opened there: it is signed by
the key it introduces.

Memory: two chunks of raw entries and their results are in flight, plus the rules' state of
parties, keys and stream heads and the Merkle frontier (these grow with the parties and streams,
not the entries). What grows with the entries — one record per claim, test record, verdict and
engagement (a verdict may name any earlier claim), and what each key signed — is kept by default
in a temporary SQLite file (:class:`ledger._spill.SpillIndex`), so memory stays flat as the log
grows (issue 10 §2); pass ``index=attest.verify.MemoryIndex()`` to keep it in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from attest.checkpoint import Checkpoint
from attest.entry import LogEntry
from attest.errors import VerificationError
from attest.rules import Placed, Signed
from attest.verify import LogVerifier, VerifiedLog, VerifierIndex
from ledger._ledger import Ledger
from ledger._pool import DEFAULT_CHUNK, Opened, SignaturePool, open_log
from ledger._spill import SpillIndex
from ledger._store import EntryStore, StoredEntry, open_store

__all__ = ["DEFAULT_CHUNK", "verify_ledger", "verify_log"]

Progress = Callable[[int], None]


def verify_log(
    entries: Iterable[LogEntry],
    note: bytes,
    *,
    genesis_hash: bytes | None = None,
    trusted: Checkpoint | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    pool: SignaturePool | None = None,
    chunk: int = DEFAULT_CHUNK,
    index: VerifierIndex | None = None,
) -> VerifiedLog:
    """Verify raw entries ``0 .. n-1`` (in index order) and the checkpoint ``note`` of them.

    Args:
        entries: the raw entries, from any source; read once, ``chunk`` at a time.
        note: the signed checkpoint note that must cover exactly these entries.
        genesis_hash: the pinned ledger fingerprint, if any.
        trusted: a checkpoint verified earlier, which the log must extend.
        workers: signature worker processes (``None``: one per core; 0 or 1: none).
        progress: called after each chunk with the number of entries verified so far.
        pool: an open pool to use instead of starting one (``workers`` is then ignored).
        chunk: entries per step.
        index: where the verifier keeps what grows with the log; by default a
            :class:`~ledger._spill.SpillIndex` (a temporary SQLite file, deleted with the
            returned state), so that memory stays flat however long the log.

    Returns:
        The verified checkpoint, the genesis hash and the rules' final state.

    Raises:
        VerificationError: the first failure (located by stream, position and global index for
            an entry), exactly as :class:`~attest.verify.LogVerifier` reports it.
        WorkerError: a worker process died.
    """
    verifier = LogVerifier(
        genesis_hash=genesis_hash, trusted=trusted, index=SpillIndex() if index is None else index
    )
    _verify_entries(verifier, ((e, None) for e in entries), workers, progress, pool, chunk)
    return verifier.finish(note)


def verify_ledger(
    ledger_or_url: Ledger | str,
    note: bytes | None = None,
    *,
    genesis_hash: bytes | None = None,
    trusted: Checkpoint | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    pool: SignaturePool | None = None,
    chunk: int = DEFAULT_CHUNK,
    index: VerifierIndex | None = None,
) -> VerifiedLog:
    """Verify every entry stored in a ledger database, and a checkpoint of them all.

    A URL is opened as a bare store (not with :meth:`Ledger.open`, which would replay the log
    sequentially first). Besides everything :func:`verify_log` checks, each stored entry hash
    must be the hash of its stored envelope.

    Args:
        ledger_or_url: an open :class:`~ledger.Ledger`, or a database URL.
        note: the checkpoint note to verify against; defaults to the ledger's current
            checkpoint when a ledger opened with its log key is given. Required with a URL.
        genesis_hash, trusted, workers, progress, pool, chunk, index: as for
            :func:`verify_log`.

    Raises:
        VerificationError: as :func:`verify_log`, or a stored entry hash is wrong.
        CorruptionError: a stored row is unreadable, or its two copies of metadata disagree.
        WorkerError: a worker process died.
        ValueError: no ``note`` and none can be had.
    """
    if note is None and not isinstance(ledger_or_url, Ledger):
        raise ValueError("verifying a database by URL needs the checkpoint note to verify")
    verifier = LogVerifier(
        genesis_hash=genesis_hash, trusted=trusted, index=SpillIndex() if index is None else index
    )
    if isinstance(ledger_or_url, Ledger):
        if note is None:
            note = ledger_or_url.checkpoint()
        return _verify_store(ledger_or_url.store, note, verifier, workers, progress, pool, chunk)
    assert note is not None  # noqa: S101 - refused above
    with open_store(ledger_or_url) as store:
        return _verify_store(store, note, verifier, workers, progress, pool, chunk)


def _verify_store(
    store: EntryStore,
    note: bytes,
    verifier: LogVerifier,
    workers: int | None,
    progress: Progress | None,
    pool: SignaturePool | None,
    chunk: int,
) -> VerifiedLog:
    def raw(s: StoredEntry) -> tuple[LogEntry, bytes]:
        return LogEntry(
            s.index, s.stream, s.position, s.log_time_ms, s.envelope, s.state_root
        ), s.entry_hash

    entries = (raw(s) for s in store.iter_log(0, batch=chunk, end=_note_size(note)))
    _verify_entries(verifier, entries, workers, progress, pool, chunk)
    return verifier.finish(note)


def _note_size(note: bytes) -> int | None:
    """The tree size a checkpoint note states (unverified: only to know where to stop)."""
    lines = note.split(b"\n", 2)
    if len(lines) == 3 and lines[1].isdigit() and len(lines[1]) < 20:
        return int(lines[1])
    return None  # malformed: read everything; the note's verification will say what is wrong


_Item = tuple[LogEntry, bytes | None]  # the raw entry, and the entry hash its source claims


def _verify_entries(
    verifier: LogVerifier,
    entries: Iterable[_Item],
    workers: int | None,
    progress: Progress | None,
    pool: SignaturePool | None,
    chunk: int,
) -> None:
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, not {chunk}")
    if pool is None:
        with SignaturePool(workers) as own:
            _pipeline(verifier, entries, own, progress, chunk)
    else:
        _pipeline(verifier, entries, pool, progress, chunk)


def _pipeline(
    verifier: LogVerifier,
    entries: Iterable[_Item],
    pool: SignaturePool,
    progress: Progress | None,
    chunk: int,
) -> None:
    for part, opened in open_log(pool, entries, lambda item: item[0], chunk=chunk):
        _feed(verifier, part, opened)  # chunk k, while the workers open chunk k + 1
        if progress is not None:
            progress(verifier.size)


def _feed(verifier: LogVerifier, part: list[_Item], opened: list[Opened | None]) -> None:
    state = verifier.state
    for (raw, claimed_hash), r in zip(part, opened, strict=True):
        placed: Placed | None = None
        if isinstance(r, Signed) and state.key(r.keyid) is not None:
            placed = state.place(raw, r)
        if placed is None:
            # The genesis, a failure, or a key the state does not know: open it as the
            # sequential verifier does, so that the error (or the success) is the same.
            placed = state.open(raw)
        verifier.feed_opened(raw, placed)
        if claimed_hash is not None and claimed_hash != placed.signed.entry_hash:
            raise VerificationError(
                f"stored entry hash {claimed_hash.hex()} is not the hash of the stored envelope",
                stream=raw.stream,
                position=raw.position,
                index=raw.index,
            )
