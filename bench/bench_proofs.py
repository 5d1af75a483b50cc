"""Proof latency from the stored node table: ``python -m bench.bench_proofs``.

For trees of 10^4, 10^5 and 10^6 leaves, the node table is built directly from synthetic leaf
hashes with a :class:`~attest.merkle.MerkleFrontier` and ``EntryStore.put_nodes`` (building a
10^6-entry ledger through full signing would take most of an hour here; the proofs read only the
node table, so they cannot tell the difference). SQLite files under /tmp are reused when
present; PostgreSQL schemas (all three sizes) are built and dropped in each run.

Proofs are computed the way ``Ledger.inclusion_proof`` and ``Ledger.consistency_proof`` compute
them, ``attest.merkle.inclusion_proof(index, size, get_node)`` with ``EntryStore.get_node`` (one
query per node; the ledger's in-memory cache of recent nodes is left out, so these are the cold
figures). Printed per size: p50 and p99 latency of that, next to the baseline of the same proofs
computed from nodes already in memory, and a batched variant that asks the store for all the
nodes a proof needs in one ``get_nodes`` query (on SQLite only 30 samples: its query scans the
whole node table, see docs/BENCHMARKS.md). Target: p50 under 1 ms, O(log n) growth.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from attest.merkle import (
    MerkleFrontier,
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from bench._util import machine, stamp
from ledger import EntryStore, StoreError, open_store

PG_BASE = os.environ.get("CLAIMLEDGER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")

NodeGetter = Callable[[int, int], bytes]


def leaf(i: int) -> bytes:
    """Synthetic leaf hash ``i``."""
    return hashlib.sha256(b"leaf %d" % i).digest()


def build(store: EntryStore, size: int) -> bytes:
    """Store every node of the tree of ``size`` synthetic leaves; return its root."""
    frontier = MerkleFrontier()
    batch: list[tuple[int, int, bytes]] = []
    for i in range(size):
        batch.extend(frontier.append(leaf(i)))
        if len(batch) >= 100_000:
            store.put_nodes(batch, frontier.size)
            batch = []
    store.put_nodes(batch, frontier.size)
    return frontier.root()


def root_of(size: int) -> bytes:
    frontier = MerkleFrontier()
    for i in range(size):
        frontier.append(leaf(i))
    return frontier.root()


def _prefetching(
    store: EntryStore,
) -> Callable[[Callable[[NodeGetter], Sequence[bytes]]], Sequence[bytes]]:
    """Run a proof twice: first to learn which nodes it reads, then on one batched query."""

    def run(proof: Callable[[NodeGetter], Sequence[bytes]]) -> Sequence[bytes]:
        wanted: list[tuple[int, int]] = []

        def record(level: int, index: int) -> bytes:
            wanted.append((level, index))
            return b"\x00" * 32

        proof(record)  # which nodes depends only on the index and sizes, not on their hashes
        nodes = store.get_nodes(wanted)
        return proof(lambda lv, ix: nodes[(lv, ix)])

    return run


def _percentiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return s[len(s) // 2], s[min(len(s) - 1, int(len(s) * 0.99))]


def measure(
    store: EntryStore, size: int, root: bytes, samples: int, label: str, batched_samples: int
) -> None:
    rng = random.Random(size)
    cases = [(rng.randrange(size), rng.randrange(1, size)) for _ in range(samples)]
    memory: dict[tuple[int, int], bytes] = {}
    prefetch = _prefetching(store)
    results: dict[str, dict[str, list[float]]] = {}
    reads: dict[str, int] = {}
    for kind in ("inclusion", "consistency"):

        def proof_for(
            case: tuple[int, int], kind: str = kind
        ) -> Callable[[NodeGetter], Sequence[bytes]]:
            index, size1 = case
            if kind == "inclusion":
                return lambda get: inclusion_proof(index, size, get)
            return lambda get: consistency_proof(size1, size, get)

        per: dict[str, list[float]] = {"get_node": [], "get_nodes": [], "memory": []}
        for n, case in enumerate(cases):
            p = proof_for(case)
            t0 = time.perf_counter_ns()
            got = p(store.get_node)
            t1 = time.perf_counter_ns()
            per["get_node"].append((t1 - t0) / 1e6)
            if n < batched_samples:
                t1 = time.perf_counter_ns()
                batched = prefetch(p)
                t2 = time.perf_counter_ns()
                assert batched == got
                per["get_nodes"].append((t2 - t1) / 1e6)
            for lv_ix in _keys(p):
                memory[lv_ix] = store.get_node(*lv_ix)
            t3 = time.perf_counter_ns()
            inmem = p(lambda lv, ix: memory[(lv, ix)])
            t4 = time.perf_counter_ns()
            assert inmem == got
            per["memory"].append((t4 - t3) / 1e6)
        results[kind] = per
        reads[kind] = len(_keys(proof_for(cases[0])))
    # the proofs are right
    index, size1 = cases[0]
    verify_inclusion(leaf(index), index, size, inclusion_proof(index, size, store.get_node), root)
    verify_consistency(
        size1,
        size,
        consistency_proof(size1, size, store.get_node),
        root_of(size1) if size1 <= 200_000 else _root_from_store(store, size1),
        root,
    )
    for kind, per in results.items():
        a50, a99 = _percentiles(per["get_node"])
        b50, b99 = _percentiles(per["get_nodes"])
        m50, m99 = _percentiles(per["memory"])
        print(
            f"{label} n={size:>9,} {kind:<11}: get_node p50 {a50:6.3f} ms p99 {a99:6.3f} ms | "
            f"one get_nodes ({len(per['get_nodes'])}) p50 {b50:6.3f} p99 {b99:6.3f} | "
            f"in memory (baseline) p50 {m50:6.3f} p99 {m99:6.3f} | ~{reads[kind]} nodes | "
            f"p50 < 1 ms on Ledger's path (one get_nodes): {'yes' if b50 < 1 else 'NO'}"
        )


def _root_from_store(store: EntryStore, size: int) -> bytes:
    from attest.merkle import subtree_hash

    return subtree_hash(0, size, store.get_node)


def _keys(proof: Callable[[NodeGetter], Sequence[bytes]]) -> list[tuple[int, int]]:
    wanted: list[tuple[int, int]] = []

    def record(level: int, index: int) -> bytes:
        wanted.append((level, index))
        return b"\x00" * 32

    proof(record)
    return wanted


def sqlite_store(size: int, root_dir: Path) -> tuple[EntryStore, bytes, str]:
    path = root_dir / f"claimledger-bench-proofs-{size}.db"
    url = f"sqlite:///{path}"
    if path.exists():
        try:
            store = open_store(url)
        except StoreError:  # an older storage format: build it again
            pass
        else:
            if store.nodes_size() == size:
                return store, root_of(size), "reused"
            store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = open_store(url, create=True)
    t0 = time.perf_counter()
    root = build(store, size)
    return store, root, f"built in {time.perf_counter() - t0:.0f} s"


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="proof latency from the node table")
    ap.add_argument("--quick", action="store_true", help="tiny sizes in a temporary directory")
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args(argv)
    sizes = [10_000, 100_000, 1_000_000]
    pg_sizes = [10_000, 100_000, 1_000_000]
    root_dir = Path(tempfile.gettempdir())
    if args.quick:
        sizes, pg_sizes, args.samples = [1_000, 5_000], [1_000], 100
        root_dir = Path(tempfile.mkdtemp(prefix="claimledger-bench-"))
    print(f"# bench_proofs — {stamp()} — {machine()}")
    for size in sizes:
        store, root, how = sqlite_store(size, root_dir)
        print(f"sqlite n={size:,}: node table {how}")
        try:
            measure(store, size, root, args.samples, "sqlite  ", min(args.samples, 30))
        finally:
            store.close()
    if args.no_postgres:
        return
    import psycopg

    for size in pg_sizes:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        try:
            with open_store(f"{PG_BASE}?schema={schema}", create=True) as store:
                t0 = time.perf_counter()
                root = build(store, size)
                print(f"postgres n={size:,}: node table built in {time.perf_counter() - t0:.0f} s")
                n = min(args.samples, 500)
                measure(store, size, root, n, "postgres", n)
        finally:
            with psycopg.connect(PG_BASE, autocommit=True) as pg:
                pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()
