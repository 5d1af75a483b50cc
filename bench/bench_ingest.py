"""Durable ingest of pre-signed entries through the Ledger: ``python -m bench.bench_ingest``.

Prints, for a SQLite file and for PostgreSQL, entries/s of:

* ``submit_many`` in batches (the write path as it is: ``Ledger.prepare`` runs in the caller's
  thread, one entry after another, then the sequencer);
* the same batches opened by a :class:`ledger._pool.SignaturePool` (pipelined: batch k+1 is in the
  workers while batch k is sequenced) and handed to ``Ledger.submit_signed`` — the hook that
  would parallelise the write path;
* one entry per transaction (``Ledger.submit``);

each next to the single-core ``cryptography`` Ed25519 verify rate measured in the same run (the
baseline; targets 0.8x batched, 0.25x one per transaction), then where the time goes (µs per entry
of ``prepare`` and of the rest) and disk bytes per entry against envelope bytes.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from attest.rules import Signed
from bench._util import Baselines, baselines, machine, run_like_the_shells, stamp
from bench._workload import init_ledger, ledger_keys, register_parties, signed_entries
from ledger import Ledger
from ledger._pool import PendingOpen, SignaturePool

PG_BASE = os.environ.get("CLAIMLEDGER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _batched(ledger: Ledger, envelopes: Sequence[bytes], batch: int) -> None:
    for k in range(0, len(envelopes), batch):
        out = ledger.submit_many(envelopes[k : k + batch])
        bad = [r for r in out if isinstance(r, Exception)]
        assert not bad, bad[0]


def _pooled(ledger: Ledger, envelopes: Sequence[bytes], batch: int, pool: SignaturePool) -> None:
    keys = ledger_keys(ledger)
    parts = [envelopes[k : k + batch] for k in range(0, len(envelopes), batch)]
    pending: PendingOpen | None = None
    for part in [*parts, None]:
        job = None if part is None else pool.submit(part, keys)
        if pending is not None:
            opened = pending.result()
            signed = [s for s in opened if isinstance(s, Signed)]
            assert len(signed) == len(opened), next(s for s in opened if not isinstance(s, Signed))
            for f in ledger.submit_signed(signed):
                f.result()
        pending = job


def _single(ledger: Ledger, envelopes: Sequence[bytes]) -> None:
    for e in envelopes:
        ledger.submit(e)


def _timed(fn: Callable[[], None], n: int) -> float:
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


class _Backend:
    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        self.root = root
        self.urls: list[str] = []

    def new_url(self) -> str:
        tag = uuid.uuid4().hex[:10]
        url = (
            f"sqlite:///{self.root / f'ingest-{tag}.db'}"
            if self.kind == "sqlite"
            else f"{PG_BASE}?schema=bench_{tag}"
        )
        self.urls.append(url)
        return url

    def disk_bytes(self, url: str) -> tuple[int, int]:
        """(bytes of the events table, bytes of everything) for the ledger at ``url``."""
        if self.kind == "sqlite":
            path = url.removeprefix("sqlite:///")
            conn = sqlite3.connect(path)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                try:
                    row = conn.execute(
                        "SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'claimledger_events%' "
                        "OR name LIKE 'sqlite_autoindex_claimledger_events%'"
                    ).fetchone()
                    events = int(row[0] or 0)
                except sqlite3.OperationalError:  # no dbstat: report the file only
                    events = 0
            finally:
                conn.close()
            return events, os.path.getsize(path)
        import psycopg

        base, _, schema = url.partition("?schema=")
        with psycopg.connect(base, autocommit=True) as pg:
            pg.execute(f"SET search_path TO {schema}")
            pg.execute("VACUUM ANALYZE claimledger_events")
            row = pg.execute(
                "SELECT pg_total_relation_size('claimledger_events'), "
                "(SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c "
                " JOIN pg_namespace n ON n.oid = c.relnamespace "
                " WHERE n.nspname = current_schema() AND c.relkind = 'r')"
            ).fetchone()
            assert row is not None
            return int(row[0]), int(row[1])

    def cleanup(self) -> None:
        if self.kind == "sqlite":
            for url in self.urls:
                for suffix in ("", "-wal", "-shm"):
                    Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(PG_BASE, autocommit=True) as pg:
            for url in self.urls:
                schema = url.partition("?schema=")[2]
                pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def run_backend(
    backend: _Backend,
    envelopes: list[bytes],
    single: int,
    providers: int,
    batch: int,
    base: Baselines,
    pool: SignaturePool,
) -> None:
    n = len(envelopes)
    name = backend.kind

    def fresh() -> Ledger:
        ledger = init_ledger(backend.new_url())
        register_parties(ledger, providers)
        return ledger

    with fresh() as ledger:
        r = _timed(lambda: _batched(ledger, envelopes, batch), n)
        print(f"{name}: submit_many, batches of {batch}:  {r:8,.0f} /s  ({base.ratios(r)})")
        m = min(n, 2000)
        t0 = time.perf_counter()
        for e in envelopes[:m]:
            ledger.prepare(e)
        prep_us = (time.perf_counter() - t0) / m * 1e6
        total_us = 1e6 / r
        print(
            f"{name}: where the time goes: prepare {prep_us:.0f} us/entry (sequential, caller's "
            f"thread), rest {total_us - prep_us:.0f} us/entry of {total_us:.0f}"
        )
        size = ledger.size
        url = backend.urls[-1]
    events, total = backend.disk_bytes(url)
    env_bytes = sum(len(e) for e in envelopes) / n
    print(
        f"{name}: disk per entry: {total / size:,.0f} bytes in all, {events / size:,.0f} in the "
        f"events table; envelope {env_bytes:,.0f} bytes ({total / size / env_bytes:.2f}x)"
    )
    with fresh() as ledger:
        r = _timed(lambda: _pooled(ledger, envelopes, batch, pool), n)
        print(
            f"{name}: SignaturePool({pool.workers}) + submit_signed, batches of {batch}: "
            f"{r:8,.0f} /s  ({base.ratios(r)})"
        )
    with fresh() as ledger:
        r = _timed(lambda: _single(ledger, envelopes[:single]), single)
        print(f"{name}: submit, one entry per transaction: {r:8,.0f} /s  ({base.ratios(r)})")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--single", type=int, default=1_000)
    ap.add_argument("--providers", type=int, default=50)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.entries, args.single, args.providers = 200, 30, 5
    print(f"# bench_ingest — {stamp()} — {machine()}")
    print(run_like_the_shells())
    base = baselines()
    print(base.describe())
    t0 = time.perf_counter()
    envelopes = list(signed_entries(args.entries, args.providers))
    dt = time.perf_counter() - t0
    avg = sum(len(e) for e in envelopes) / len(envelopes)
    print(
        f"pre-signed {len(envelopes):,} envelopes over {args.providers} providers in {dt:.1f} s "
        f"(avg {avg:,.0f} bytes)"
    )
    kinds = ["sqlite"] if args.no_postgres else ["sqlite", "postgres"]
    with (
        tempfile.TemporaryDirectory(prefix="claimledger-bench-") as tmp,
        SignaturePool(args.workers) as pool,
    ):
        pool.start()
        for kind in kinds:
            backend = _Backend(kind, Path(tmp))
            try:
                run_backend(backend, envelopes, args.single, args.providers, args.batch, base, pool)
            finally:
                backend.cleanup()


if __name__ == "__main__":
    main()
