"""Opening a ledger with and without a snapshot (issue 10 §1): ``python -m bench.bench_open``.

One log is grown through the sizes asked for (default 10^4, 10^5, 10^6; the bench_verify
workload: 50 providers' claims, tests and verdicts, or ``--providers``), on SQLite and on
PostgreSQL. At each size, with the writer closed, it times:

* ``Ledger.open`` replaying the whole log (``snapshots=False``, catch-up in worker processes: what
  every open cost before snapshots), up to ``--replay-max`` entries;
* the writer's close, which saves a snapshot when one is due (the log grew by a quarter), and
  a snapshot right after (``Ledger.snapshot``: nothing new, the core only), with the stored
  snapshot's size in bytes;
* ``Ledger.open`` from that fresh snapshot, with the log key (a writer) and without (a read-only
  server);
* ``Ledger.open`` from it after 1,000 more entries were appended (what a restart costs: the
  snapshot, plus O(new entries));
* what reading from a fresh snapshot defers: a read-only open followed by one company's replay
  (the first touch reads that stream's parts) and by every company's (all of them), in time and
  in peak memory (a fresh process each);
* a second snapshot after those 1,000 entries (only the parts they changed are written);
* a read-only open followed by the whole log's feed (its expiring verdicts are in the core: it
  reads only the parts of the streams its newest items are on);
* a writer with a memory budget of ``--resident`` entries (``Ledger.open(resident_entries=...)``)
  replaying every company's record: time, peak memory, and the parts left in memory (issue 10 §2).

Target: open with a fresh snapshot under 2 s at 10^6 entries. Each open is a new ``Ledger`` in
this process, best of ``--repeat``; the database files stay in the OS page cache (a warm restart).
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench._util import machine, run_like_the_shells, stamp
from bench._workload import init_ledger, ledger_keys, register_parties, signed_entries
from bench.bench_verify import PROVIDERS, _ingest
from ledger import Ledger
from ledger._pool import SignaturePool
from tests.attest.logbuilder import LOG_KEY, key

PG_BASE = os.environ.get("CLAIMLEDGER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
MORE = 1_000
RESIDENT = 50_000


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _open(url: str, *, writer: bool, snapshots: bool = True) -> None:
    with Ledger.open(url, log_key=key(LOG_KEY) if writer else None, snapshots=snapshots):
        pass


def _snapshot_bytes(url: str) -> tuple[int, int]:
    """The stored snapshot's core and parts, in bytes."""
    with Ledger.open(url) as led:
        row = led.store.latest_snapshot()
        parts = sum(len(led.store.snapshot_part(d) or b"") for d in led._parts.values())
    return (0 if row is None else len(row[5])), parts


def _rss_mb(url: str, companies: int, resident: int = 0) -> float:
    """Peak resident memory of a fresh process that opens read-only (or, with ``resident``, as
    a writer with that budget) and replays ``companies`` companies' records, in MB."""
    code = (
        "import sys; from bench.bench_open import _open_and_read; "
        "from bench.bench_verify import _peak_rss_kb; "
        "_open_and_read(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])); print(_peak_rss_kb())"
    )
    done = subprocess.run(  # noqa: S603 (this interpreter, our code)
        [sys.executable, "-c", code, url, str(companies), str(resident)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    return int(done.stdout.split()[-1]) / 1024


def _open_and_read(url: str, companies: int, resident: int = 0) -> int:
    """A read-only open (with ``resident``: a writer's, with that memory budget), then the
    replay of the first ``companies`` providers' records; return the parts left in memory."""
    writer = {"log_key": key(LOG_KEY), "resident_entries": resident} if resident else {}
    with Ledger.open(url, **writer) as led:  # type: ignore[arg-type]
        for stream in [s for s in led.views.streams() if s != "registry"][:companies]:
            led.views.replay(stream)
        return led.views.loaded_parts()


def _open_and_feed(url: str) -> None:
    """A read-only open, then the whole log's feed."""
    with Ledger.open(url) as led:
        led.views.feed()


def grow_and_measure(
    url: str,
    sizes: Sequence[int],
    replay_max: int,
    repeat: int,
    say: Callable[[str], None],
    more: int = MORE,
    resident: int = RESIDENT,
    providers: int = PROVIDERS,
) -> list[dict[str, Any]]:
    """Grow the log at ``url`` through ``sizes``, measuring at each; return the rows."""
    rows: list[dict[str, Any]] = []
    grown = 0.0  # seconds spent growing the log (measurements excluded)
    with SignaturePool() as pool:
        writer = init_ledger(url)
        register_parties(writer, providers)
        total = max(sizes) + more * len(sizes)
        envelopes: Iterator[bytes] = signed_entries(total, providers)
        keys = ledger_keys(writer)
        for n in sorted(sizes):
            t0 = time.perf_counter()
            _ingest(writer, pool, envelopes, n - writer.size, keys)
            t = time.perf_counter()
            writer.close()  # writes what waits and, when one is due, a snapshot
            closed = time.perf_counter() - t
            grown += time.perf_counter() - t0
            n = writer.size
            say(f"  {n:>9,} entries (grown in {grown:.0f} s so far, snapshots included)")
            row: dict[str, Any] = {"size": n, "close_s": closed}
            say(f"    the writer's close (a snapshot when due): {closed:8.2f} s")
            if n <= replay_max:
                row["replay_s"] = _best(lambda: _open(url, writer=False, snapshots=False), 1)
                say(f"    open, replaying every entry:      {row['replay_s']:8.2f} s")
            with Ledger.open(url, log_key=key(LOG_KEY)) as led:
                t = time.perf_counter()
                led.snapshot()
                row["snapshot_s"] = time.perf_counter() - t
            core, parts = _snapshot_bytes(url)
            row["snapshot_bytes"], row["core_bytes"] = core + parts, core
            say(
                f"    a snapshot with nothing new:      {row['snapshot_s']:8.2f} s "
                f"({row['snapshot_bytes'] / 1e6:,.1f} MB, {row['snapshot_bytes'] / n:,.0f} B/entry;"
                f" core {core / 1e6:,.2f} MB)"
            )
            row["snap_writer_s"] = _best(lambda: _open(url, writer=True), repeat)
            row["snap_reader_s"] = _best(lambda: _open(url, writer=False), repeat)
            say(f"    open from it, writer:             {row['snap_writer_s']:8.2f} s")
            say(f"    open from it, read-only:          {row['snap_reader_s']:8.2f} s")
            row["first_company_s"] = _best(lambda: _open_and_read(url, 1), repeat)
            row["all_companies_s"] = _best(lambda: _open_and_read(url, providers), 1)
            say(f"    read-only open + 1 company's replay:  {row['first_company_s']:8.2f} s")
            say(f"    read-only open + all {providers} companies': {row['all_companies_s']:8.2f} s")
            row["rss_open_mb"] = _rss_mb(url, 0)
            row["rss_one_mb"] = _rss_mb(url, 1)
            row["rss_all_mb"] = _rss_mb(url, providers)
            say(
                f"    peak memory, read-only open: {row['rss_open_mb']:,.0f} MB; + 1 company: "
                f"{row['rss_one_mb']:,.0f} MB; + all companies: {row['rss_all_mb']:,.0f} MB"
            )
            row["feed_s"] = _best(lambda: _open_and_feed(url), repeat)
            say(f"    read-only open + the whole log's feed:  {row['feed_s']:8.2f} s")
            t = time.perf_counter()
            left = _open_and_read(url, providers, resident)
            row["budget_all_s"] = time.perf_counter() - t
            row["rss_budget_mb"] = _rss_mb(url, providers, resident)
            say(
                f"    writer with a budget of {resident:,} entries + all {providers} companies': "
                f"{row['budget_all_s']:8.2f} s, peak memory {row['rss_budget_mb']:,.0f} MB, "
                f"{left} of {providers} companies' parts left in memory"
            )
            writer = Ledger.open(url, log_key=key(LOG_KEY))
            _ingest(writer, pool, envelopes, more, keys)
            writer.close()  # below the snapshot threshold: the snapshot stays where it was
            row["snap_plus_s"] = _best(lambda: _open(url, writer=True), repeat)
            say(f"    open from it + {more:,} new entries:  {row['snap_plus_s']:8.2f} s")
            with Ledger.open(url, log_key=key(LOG_KEY)) as led:
                t = time.perf_counter()
                led.snapshot()
                row["again_s"] = time.perf_counter() - t
            say(f"    a snapshot again after those:     {row['again_s']:8.2f} s")
            rows.append(row)
            writer = Ledger.open(url, log_key=key(LOG_KEY))
        writer.close()
    return rows


def _sqlite_file(directory: Path) -> tuple[str, Callable[[], None]]:
    db = directory / f"claimledger-bench-open-{uuid.uuid4().hex[:8]}.db"

    def drop() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)

    return f"sqlite:///{db}", drop


def _pg_schema() -> tuple[str, Callable[[], None]]:
    name = f"cl_bench_open_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_BASE, autocommit=True) as pg:
        pg.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))

    def drop() -> None:
        with psycopg.connect(PG_BASE, autocommit=True) as pg:
            pg.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))

    return f"{PG_BASE}?schema={name}", drop


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Ledger.open with and without a snapshot")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--replay-max", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    ap.add_argument("--resident", type=int, default=None, help="a writer's budget, in entries")
    ap.add_argument("--providers", type=int, default=PROVIDERS, help="companies in the workload")
    args = ap.parse_args(argv)
    sizes = args.sizes or ([100, 300] if args.quick else [10_000, 100_000, 1_000_000])
    more = 50 if args.quick else MORE
    resident = args.resident or (20 if args.quick else RESIDENT)
    print(f"# bench_open — {stamp()} — {machine()}")
    print(run_like_the_shells())
    for backend in args.backends.split(","):
        print(f"{backend}:", flush=True)
        if backend == "sqlite":
            url, drop = _sqlite_file(args.dir)
        else:
            url, drop = _pg_schema()
        try:
            grow_and_measure(
                url,
                sizes,
                args.replay_max,
                args.repeat,
                lambda s: print(s, flush=True),
                more,
                resident,
                args.providers,
            )
        finally:
            drop()


if __name__ == "__main__":
    main()
