"""A server over a national regime's log (issue 10 §2): ``python -m bench.bench_server``.

A national regime has about 100,000 services. This benchmark builds a log of ``--size`` entries
for ``--providers`` companies (default 10^6 and 100,000: ten entries each — claims, tests and
verdicts, the bench_verify workload) through the rules alone (:mod:`bench._bulk`; the registry
through the ledger), once, into a SQLite file it reuses. The bulk log holds entries only: no
Merkle nodes, no snapshot. (10^6 entries build in ≈ 5 minutes, 10^7 in ≈ 45; a first open of
10^7 would take hours: docs/BENCHMARKS.md.) Then, each in a fresh process (peak memory is that
process's ``VmHWM``; the catch-up's worker processes are not counted), with the ledger's default
memory budget or ``--budget`` entries, it measures:

* ``first-open``: a writer's first open (``Ledger.open`` with the log key): it verifies every
  entry again and builds the Merkle nodes and the views, then saves the first snapshot (a long
  open does), then closes;
* ``open-reader`` / ``open-writer``: an open from the snapshot that left;
* ``serve-reader`` / ``serve-writer``: a server's start from it (``Ledger.open_to_serve``: the
  open, ``settle`` and the heap frozen, with no collection between); the writer then times its
  first search and its first state proof (the name index and the state map's nodes are read
  when first needed);
* ``one-company``: a read-only open, then one company's whole record (the views' replay);
* ``companies``: a writer, then ``--companies`` companies' records
  (default all), with how many companies' parts are left in memory;
* ``restart``: a writer's open after ``--more`` entries were appended since the snapshot;
* ``writes``: a writer, then one claim each by ``--companies`` companies (default all),
  appended 4,096 at a time, then a snapshot: the streams written since the snapshot (every
  company's) are spilled past the budget (it appends to the log: later runs reuse it).

Peak memory at two sizes for the same companies says whether a server holds memory flat as the
log grows (target: at most 1.2 times, issue 10 §2).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench._bulk import grow
from bench._util import machine, run_like_the_shells, stamp
from bench._workload import (
    ORIGIN,
    init_ledger,
    provider,
    provider_key,
    register_parties,
    signed_envelope,
    submit_all,
)
from bench.bench_verify import _paths as _notes
from bench.bench_verify import _peak_rss_kb
from ledger import Ledger, open_store
from tests.attest.examples import example_claim_body
from tests.attest.logbuilder import LOG_KEY, key

MORE = 1_000


def build(db: Path, size: int, providers: int) -> float:
    """Build the bulk log at ``db``; return the seconds it took."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    t0 = time.perf_counter()
    url = f"sqlite:///{db}"
    with init_ledger(url) as ledger:
        register_parties(ledger, providers)
    notes = grow(
        url, providers=providers, size=size, notes_at={size}, origin=ORIGIN, log_key=key(LOG_KEY)
    )
    _notes(db).write_text(json.dumps({"providers": providers, **notes}))
    return time.perf_counter() - t0


def append_more(led: Ledger, providers: int, more: int) -> None:
    """Append one claim each for ``more`` companies spread over all, chained to their heads,
    4,096 at a time."""

    def claims() -> Iterator[bytes]:
        for p in range(0, providers, max(1, providers // more))[:more]:
            name = provider(p)
            body = example_claim_body("report.authority")
            prev = led.head(name)[0]
            yield signed_envelope(
                "claim.publish", name, prev, name, body, provider_key(p)
            ).to_bytes()

    submit_all(led, claims())


def step(
    name: str, url: str, providers: int, companies: int, more: int, budget: int | None = None
) -> dict[str, Any]:
    """Run one measurement (in a fresh process); return what it measured."""
    run_like_the_shells()
    writer: dict[str, Any] = {"log_key": key(LOG_KEY)}
    given: dict[str, Any] = {} if budget is None else {"resident_entries": budget}
    out: dict[str, Any] = {}
    if name == "append":  # not measured: the entries a restart reads (in a process of its own)
        with Ledger.open(url, **writer) as led:
            out["before"] = led.size
            append_more(led, providers, more)
        return out
    t0 = time.perf_counter()
    opener = {} if name in ("open-reader", "one-company", "serve-reader") else writer
    open_ = Ledger.open_to_serve if name.startswith("serve-") else Ledger.open
    with open_(url, **opener, **given) as led:
        out["opened_s"] = time.perf_counter() - t0
        out["size"] = led.size
        out["snapshot"] = led._snap_size  # the snapshot it opened from, or saved
        if name == "serve-writer":  # what waits for the first visitor: read when first needed
            t1 = time.perf_counter()
            led.views.find_names(provider(providers // 3)[:-2])
            out["first_search_s"] = time.perf_counter() - t1
            t1 = time.perf_counter()
            led.state_proof(led.size, [("stream", provider(providers // 3))])
            out["first_proof_s"] = time.perf_counter() - t1
        if name == "one-company":
            out["items"] = len(led.views.replay(provider(providers // 2)).timeline)
        elif name == "companies":
            for p in range(companies):
                led.views.replay(provider(p))
            out["left"] = led.views.loaded_parts()
        elif name == "writes":
            before = led.size
            append_more(led, providers, companies)
            out["size"], out["new"] = led.size, led.size - before
            out["resident"] = led.views.resident_entries
            led.snapshot()  # whatever a snapshot would be due at: the peak includes one
        spill = led._spill
        out["spilled_mb"] = None if spill is None else spill.written / 1e6
    out["s"] = time.perf_counter() - t0  # the close included (first-open: its last snapshot)
    out["rss_mb"] = _peak_rss_kb() / 1024
    if name == "first-open":  # the snapshot its close left
        with open_store(url) as store:
            row = store.latest_snapshot()
            out["snapshot"] = None if row is None else row[0]
            out["core_mb"] = None if row is None else len(row[5]) / 1e6
    return out


def _run_step(
    name: str, db: Path, providers: int, companies: int, more: int, budget: int | None
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.bench_server", "--step", name, "--db", str(db)]
    cmd += ["--providers", str(providers), "--companies", str(companies), "--more", str(more)]
    if budget is not None:
        cmd += ["--budget", str(budget)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)  # noqa: S603
    if done.returncode:
        raise SystemExit(f"step {name} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


STEPS = {
    "first-open": "a writer's first open (replays the bulk log, saves a snapshot) + close",
    "open-reader": "open from the snapshot, read-only",
    "open-writer": "open from the snapshot, writer",
    "serve-reader": "a read-only server's start from the snapshot (Ledger.open_to_serve)",
    "serve-writer": "a writer server's start from the snapshot, then its first search and proof",
    "one-company": "read-only open + one company's record",
    "companies": "writer + {companies:,} companies' records",
    "restart": "writer's open after {more:,} entries appended since the snapshot",
    "writes": "writer + one claim each by {companies:,} companies + snapshot",
}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="a server over a national regime's log")
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--providers", type=int, default=100_000)
    ap.add_argument("--companies", type=int, default=None, help="default: all")
    ap.add_argument("--more", type=int, default=MORE)
    ap.add_argument(
        "--budget", type=int, default=None, help="memory budget, in entries (default: ledger's)"
    )
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="a tiny log in a temporary directory")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--steps", default=",".join(STEPS), help="which measurements, in order")
    ap.add_argument("--step", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.size, args.providers, args.more = 11_000, 100, 20  # past the first snapshot
    companies = args.providers if args.companies is None else args.companies
    if args.step is not None:
        url = f"sqlite:///{args.db}"
        print(json.dumps(step(args.step, url, args.providers, companies, args.more, args.budget)))
        return
    with tempfile.TemporaryDirectory(prefix="claimledger-bench-") as tmp:
        name = f"claimledger-bench-server-{args.providers}-{args.size}.db"
        db = args.db or Path(tmp if args.quick else tempfile.gettempdir()) / name
        print(f"# bench_server — {stamp()} — {machine()}")
        print(run_like_the_shells())
        if not (db.exists() and _notes(db).exists()):
            took = build(db, args.size, args.providers)
            print(f"built {args.size:,} entries for {args.providers:,} companies in {took:,.0f} s")
        else:
            print(f"reusing {db} (a first open below finds its snapshot, if one was saved)")
        if args.build_only:
            return
        for name in args.steps.split(","):
            before = None
            if name == "restart":
                before = _run_step("append", db, args.providers, companies, args.more, None)
                before = before["before"]
            r = _run_step(name, db, args.providers, companies, args.more, args.budget)
            if before is not None:
                r["new"] = r["size"] - before
            what = STEPS[name].format(companies=companies, more=args.more)
            extra = "".join(
                (f", {k} {r[k]:,.2f}" if k.endswith("_s") else f", {k} {r[k]:,.1f}")
                if isinstance(r[k], float)
                else f", {k} {r[k]}"
                for k in (
                    "size",
                    "snapshot",
                    "items",
                    "left",
                    "new",
                    "resident",
                    "core_mb",
                    "spilled_mb",
                    "first_search_s",
                    "first_proof_s",
                )
                if k in r and r[k] is not None
            )
            print(
                f"  {what}: {r['s']:,.2f} s (open {r['opened_s']:,.2f} s), "
                f"peak {r['rss_mb']:,.0f} MiB{extra}",
                flush=True,
            )


if __name__ == "__main__":
    main()
