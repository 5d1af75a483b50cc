"""Grow a benchmark log fast, without a ledger, for the 10^7-entry verification (issue 10 §2).

The ledger decides an appended entry in about 540 µs on this machine (rules, views, receipts,
Merkle nodes), so ten million entries through it take hours. :func:`grow` takes the envelopes of
:func:`bench._workload.signed_entries`, signed in worker processes, and decides each with the rules
of :class:`attest.verify.LogVerifier` — the same checks, state and state root as the ledger's —
stores it with :meth:`EntryStore.append <ledger._store.EntryStore.append>`, and signs checkpoint
notes of the Merkle root at the sizes asked for. It writes the log's entries and nothing else (no
Merkle nodes, snapshots or views): a log for :func:`ledger._verify.verify_ledger`, which reads
only the entries and re-checks everything, signatures included, from genesis.

It does not verify signatures itself (it signed them): that is the verification it builds for.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from collections.abc import Iterator
from itertools import islice

from attest import canonical
from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from attest.dsse import Envelope
from attest.entry import LogEntry, entry_hash
from attest.rules import Signed
from attest.statements import parse_statement
from attest.verify import LogVerifier
from bench._workload import signed_entries
from keys import PrivateKey
from ledger import open_store
from ledger._store import StoredEntry

BATCH = 4096
"""Envelopes a signer sends at a time, and entries stored in one transaction."""


def _sign_part(
    n: int, providers: int, part: tuple[int, int], out: multiprocessing.Queue[list[bytes] | None]
) -> None:
    envelopes = signed_entries(n, providers, part)
    while batch := list(islice(envelopes, BATCH)):
        out.put(batch)
    out.put(None)


def _signed(parts: int, n: int, providers: int) -> Iterator[bytes]:
    """The ``n`` envelopes, signed by ``parts`` processes, each stream's in its order."""
    ctx = multiprocessing.get_context("spawn")
    queues = [ctx.Queue(maxsize=8) for _ in range(parts)]
    procs = [
        ctx.Process(target=_sign_part, args=(n, providers, (k, parts), q), daemon=True)
        for k, q in enumerate(queues)
    ]
    for p in procs:
        p.start()
    try:
        live = list(queues)
        while live:
            for q in list(live):
                batch = q.get()
                if batch is None:
                    live.remove(q)
                else:
                    yield from batch
    finally:
        for p in procs:
            p.kill()
            p.join()


def _opened(data: bytes) -> Signed:
    envelope = Envelope.parse_stored(data)
    statement = parse_statement(canonical.decode_object(envelope.payload))
    return Signed(
        envelope, statement, entry_hash(envelope), hashlib.sha256(envelope.payload).digest()
    )


def grow(
    url: str,
    *,
    providers: int,
    size: int,
    notes_at: set[int],
    origin: str,
    log_key: PrivateKey,
    signers: int = 2,
) -> dict[str, str]:
    """Grow the log at ``url`` (its registry already written) to ``size`` entries.

    Returns the checkpoint notes at the sizes of ``notes_at`` (and at ``size``), by size.
    """
    notes: dict[str, str] = {}
    signer = NoteSigner(origin, log_key)
    with open_store(url) as store:
        verifier = LogVerifier()
        for s in store.iter_log():
            verifier.feed(
                LogEntry(s.index, s.stream, s.position, s.log_time_ms, s.envelope, s.state_root)
            )
        state = verifier.state
        batch: list[StoredEntry] = []
        for data in _signed(signers, size - verifier.size, providers):
            now = max(time.time_ns() // 1_000_000, state.last_log_time_ms)  # the log's clock
            signed = _opened(data)
            stream = signed.statement.stream
            raw = LogEntry(verifier.size, stream, state.head(stream)[1], now, data)
            verifier.feed_opened(raw, state.place(raw, signed))
            batch.append(
                StoredEntry(
                    raw.index,
                    stream,
                    raw.position,
                    now,
                    data,
                    signed.entry_hash,
                    state.state_root,
                )
            )
            if len(batch) == BATCH or verifier.size in notes_at:
                store.append(batch)
                batch = []
            if verifier.size in notes_at:
                cp = Checkpoint(origin, verifier.size, verifier.root())
                notes[str(verifier.size)] = sign_checkpoint(cp, signer).decode()
        store.append(batch)
        if verifier.size != size:
            raise RuntimeError(f"grew to {verifier.size} entries, not {size}")
        cp = Checkpoint(origin, size, verifier.root())
        notes[str(size)] = sign_checkpoint(cp, signer).decode()
    return notes
