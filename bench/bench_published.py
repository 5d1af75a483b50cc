"""What the published-checkpoint floor costs the write path: ``python -m bench.bench_published``.

The floor (``serve --published-checkpoint FILE``, ledger/_published.py) writes the checkpoint of
every sequencer batch to a file (temp file, fsync, rename, fsync of the directory) before the
batch's receipts leave. This measures durable ingest through the Ledger on a SQLite file (and
PostgreSQL) without and with the file, alternating the two so that a busy machine hurts both
alike: ``submit_many`` in batches (one file write per batch) and ``submit`` (one per entry).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from bench._util import machine, run_like_the_shells, stamp
from bench._workload import init_ledger, register_parties, signed_entries
from bench.bench_ingest import _Backend
from ledger import Ledger, PublishedCheckpoint
from tests.attest.logbuilder import LOG_KEY, key


def _run(
    url: str, envelopes: Sequence[bytes], batch: int, single: int, floor: Path | None
) -> tuple[float, float]:
    """(entries/s in batches, entries/s one per transaction) on the ledger at ``url``."""
    with Ledger.open(url, log_key=key(LOG_KEY), published_checkpoint=floor) as led:
        n = len(envelopes) - single
        t0 = time.perf_counter()
        for k in range(0, n, batch):
            out = led.submit_many(envelopes[k : min(n, k + batch)])
            assert not any(isinstance(r, Exception) for r in out)
        batched = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for e in envelopes[n:]:
            led.submit(e)
        one = single / (time.perf_counter() - t0)
    return batched, one


def _file_writes(tmp: Path, n: int = 200) -> None:
    """Median and p90 of one floor write: in place (what the ledger does) against the design it
    replaced (a temporary file, fsynced, renamed over the old one, the directory fsynced)."""
    note = b"x" * 300

    def timed(write: Callable[[int], None]) -> str:
        times = []
        for i in range(n):
            t0 = time.perf_counter()
            write(i + 1)
            times.append(time.perf_counter() - t0)
        times.sort()
        return f"median {times[n // 2] * 1e3:.2f} ms, p90 {times[n * 9 // 10] * 1e3:.2f} ms"

    floor = PublishedCheckpoint(tmp / "floor")

    def renamed(i: int) -> None:
        target, temp = tmp / "renamed", tmp / ".renamed.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, note)
        os.fsync(fd)
        os.close(fd)
        os.replace(temp, target)
        dfd = os.open(tmp, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)

    db = sqlite3.connect(tmp / "scale.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (x BLOB)")

    def commit(i: int) -> None:
        db.execute("INSERT INTO t VALUES (?)", (note,))
        db.commit()

    print(f"floor write in place (pwrite + fdatasync): {timed(lambda i: floor.write(i, note))}")
    print(f"temp file + fsync + rename + dir fsync:    {timed(renamed)}")
    print(f"for scale, a SQLite commit (WAL, FULL):    {timed(commit)}")
    db.close()


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--entries", type=int, default=6_000, help="per run, batched + single")
    ap.add_argument("--single", type=int, default=500)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--writes-only", action="store_true", help="only the cost of one write")
    args = ap.parse_args(argv)
    print(f"# bench_published — {stamp()} — {machine()}")
    print(run_like_the_shells())
    providers = 50
    envelopes = list(signed_entries(args.entries, providers))
    kinds = ["sqlite"] if args.no_postgres else ["sqlite", "postgres"]
    with tempfile.TemporaryDirectory(prefix="claimledger-bench-") as tmp:
        _file_writes(Path(tmp))
        if args.writes_only:
            return
        for kind in kinds:
            backend = _Backend(kind, Path(tmp))
            rates: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
            try:
                for _ in range(args.rounds):
                    for with_floor in (False, True):
                        url = backend.new_url()
                        with init_ledger(url) as led:
                            register_parties(led, providers)
                        floor = Path(tmp) / f"floor-{uuid.uuid4().hex[:8]}" if with_floor else None
                        rates[with_floor].append(
                            _run(url, envelopes, args.batch, args.single, floor)
                        )
            finally:
                backend.cleanup()
            for with_floor in (False, True):
                b = [r[0] for r in rates[with_floor]]
                s = [r[1] for r in rates[with_floor]]
                label = "with the floor file" if with_floor else "without          "
                print(
                    f"{kind}: {label}: batches of {args.batch}: "
                    f"{statistics.median(b):8,.0f} /s (runs {min(b):,.0f}-{max(b):,.0f}); "
                    f"one per transaction: {statistics.median(s):6,.0f} /s "
                    f"(runs {min(s):,.0f}-{max(s):,.0f})"
                )


if __name__ == "__main__":
    main()
