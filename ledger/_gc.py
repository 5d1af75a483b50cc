"""Garbage-collector settings for a process that runs a ledger (the shells and the workers).

A ledger keeps, for as long as it is open, several small container objects per entry (the rules'
state, the read views' facts, the Merkle cache), and allocates many more while it opens and
decides entries. CPython's cyclic collector runs a young-generation pass every 700 net
allocations and, as those objects age, older passes that walk them all again: in batches of 256
the sequencer spent ≈ 35 % of its time there (≈ 120 → ≈ 75 µs per entry with the settings below,
docs/BENCHMARKS.md). Nothing a ledger builds relies on the cyclic collector to be freed promptly.

These change process-wide settings, so the library never applies them on its own: ``claimledger``
(the CLI and the server) and the signature worker processes do.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["GC_THRESHOLD", "collector_paused", "freeze_heap", "heap_frozen", "tune_gc"]

GC_THRESHOLD = 20_000
"""Net allocations between young-generation collections (CPython's default is 700)."""


def tune_gc() -> None:
    """Collect the young generation less often (never more often than already configured)."""
    gen0, gen1, gen2 = gc.get_threshold()
    if gen0:  # 0 means the collector is disabled: leave it so
        gc.set_threshold(max(gen0, GC_THRESHOLD), gen1, gen2)


_frozen = False


def freeze_heap() -> None:
    """Move every live object to the permanent generation (e.g. after ``Ledger.open``).

    The state an open rebuilt lives as long as the ledger; later collections no longer walk it.
    No collection runs first: an open's garbage is freed by reference counting (a full
    collection after the server's open of 10^6 entries for 100,000 companies found no
    unreachable object, and took 1.5 s), so at most a few cycles an open left would stay, once.
    """
    global _frozen
    gc.freeze()
    _frozen = True


def heap_frozen() -> bool:
    """Whether this process froze its heap (:func:`freeze_heap`): state built later (a snapshot's
    part read on first touch) is then frozen too. ``gc.get_freeze_count()`` would say as much, but
    it walks the whole permanent generation (6 ms at 10^4 entries)."""
    return _frozen


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a ledger builds state that lives as long as it: a
    snapshot written or read (a part read on first touch included), a catch-up.

    Each makes or walks up to millions of objects; each collection of the oldest generation walks
    every object alive, so with the collector on, reading a snapshot of 100,000 entries took 3x as
    long, and reading it in parts (each part's objects triggering collections of all the earlier
    ones) 2x as long again. Re-entrant; it changes nothing when the collector is already off.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
