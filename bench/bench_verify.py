"""Full verification of a 100,000-entry log: ``python -m bench.bench_verify``.

The log (50 providers' claims, tests and verdicts, ≈1.9 KB envelopes) is built once into a SQLite
file under /tmp (reused when present, with the checkpoint notes at both sizes beside it). Prints:

* entries/s of :func:`ledger._verify.verify_ledger` with one worker per core, next to
  cores x the single-core ``cryptography`` Ed25519 verify rate measured in the same run
  (target 0.8x), and the same with no workers (everything in one process) for reference;
* entries/s of ``Ledger.open`` (which decides every stored entry again), its catch-up in worker
  processes and on one core;
* peak memory (``ru_maxrss`` of the verifying process, in a fresh subprocess per size) at the full
  size and at a tenth of it, with the share of the rules' state held in memory: as
  ``verify_ledger`` runs by default (what grows with the log in a temporary SQLite file,
  ``ledger/_spill.py``; issue 10 §2's target: at most 1.2x from 10^5 to 10^7) and with
  everything in memory (``MemoryIndex``, for comparison).

``--memory-only --size 10000000`` measures only the default verification's peak memory, at 10^5,
10^6 and 10^7 entries of one log, which it grows through the rules alone (``bench/_bulk.py``:
about 4,400 entries/s here, where the ledger appends about 1,300/s while it signs them too).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from attest.rules import Signed
from attest.verify import MemoryIndex
from bench._bulk import grow
from bench._util import baselines, machine, run_like_the_shells, stamp
from bench._workload import (
    ORIGIN,
    init_ledger,
    ledger_keys,
    register_parties,
    signed_entries,
)
from ledger import Ledger, StoreError, open_store
from ledger import _ledger as ledger_module
from ledger._pool import PendingOpen, SignaturePool
from ledger._verify import verify_ledger
from tests.attest.logbuilder import LOG_KEY, key

PROVIDERS = 50


def _paths(db: Path) -> Path:
    return db.with_suffix(".notes.json")


def _ingest(
    ledger: Ledger,
    pool: SignaturePool,
    envelopes: Iterator[bytes],
    count: int,
    keys: dict[str, bytes],
) -> None:
    """Append ``count`` envelopes, opening batch k+1 in the pool while batch k is sequenced."""
    pending: PendingOpen | None = None
    while count > 0 or pending is not None:
        part = list(islice(envelopes, min(count, 512)))
        count -= len(part)
        job = pool.submit(part, keys) if part else None
        if pending is not None:
            opened = pending.result()
            signed = [s for s in opened if isinstance(s, Signed)]
            assert len(signed) == len(opened), opened
            for f in ledger.submit_signed(signed):
                f.result()
        pending = job


def build(db: Path, sizes: Sequence[int], *, fast: bool = False) -> dict[str, str]:
    """Build the log at ``db`` with checkpoint notes at ``sizes`` entries (ascending).

    Through the ledger, or with ``fast`` through the rules alone (:mod:`bench._bulk`).
    """
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    notes: dict[str, str] = {}
    t0 = time.perf_counter()
    if fast:
        with init_ledger(f"sqlite:///{db}") as ledger:
            register_parties(ledger, PROVIDERS)
        notes = grow(
            f"sqlite:///{db}",
            providers=PROVIDERS,
            size=sizes[-1],
            notes_at=set(sizes),
            origin=ORIGIN,
            log_key=key(LOG_KEY),
        )
    else:
        with SignaturePool() as pool, init_ledger(f"sqlite:///{db}") as ledger:
            register_parties(ledger, PROVIDERS)
            envelopes = signed_entries(sizes[-1] - ledger.size, PROVIDERS)
            keys = ledger_keys(ledger)
            for n in sizes:
                _ingest(ledger, pool, envelopes, n - ledger.size, keys)
                assert ledger.size == n
                notes[str(n)] = ledger.checkpoint().decode()
    how = "through the rules alone" if fast else "through the ledger"
    print(f"built {sizes[-1]:,} entries into {db} {how} in {time.perf_counter() - t0:.0f} s")
    _paths(db).write_text(json.dumps(notes))
    return notes


def _cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _deep_size(obj: object) -> int:
    """Bytes held by ``obj`` and everything it references (containers, slotted dataclasses)."""
    seen: set[int] = set()
    stack = [obj]
    total = 0
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list | tuple | set | frozenset):
            stack.extend(o)
        elif dataclasses.is_dataclass(o) and not isinstance(o, type):
            # (a field derived on first use may be unset: PublicKey's)
            stack.extend(getattr(o, f.name, None) for f in dataclasses.fields(o))
    return total


def _peak_rss_kb() -> int:
    """This process's own peak RSS in KiB.

    ``VmHWM`` where Linux has it: ``ru_maxrss`` survives ``exec``, so a child started from a big
    parent would report the parent's peak (the benchmark's parent holds a 100,000-entry ledger).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(db: Path, size: int, workers: int | None, index: str) -> None:
    """Verify the first ``size`` entries and print peak memory as JSON (run in a subprocess)."""
    run_like_the_shells()
    notes = json.loads(_paths(db).read_text())
    t0 = time.perf_counter()
    out = verify_ledger(
        f"sqlite:///{db}",
        notes[str(size)].encode(),
        workers=workers,
        index=MemoryIndex() if index == "memory" else None,
    )
    dt = time.perf_counter() - t0
    peak_kb = _peak_rss_kb()
    state = _deep_size(dataclasses.replace(out.state))
    print(json.dumps({"size": out.checkpoint.size, "rss_kb": peak_kb, "state": state, "s": dt}))


def _measure_memory(db: Path, size: int, workers: int | None, index: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.bench_verify", "--child", str(size), "--db", str(db)]
    cmd += ["--index", index]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)  # noqa: S603
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="full verification of a log")
    ap.add_argument("--quick", action="store_true", help="tiny sizes in a temporary directory")
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument(
        "--memory-only",
        action="store_true",
        help="only the peak memory of the default verification, at a hundredth, a tenth and "
        "all of --size; the log is built through the rules alone (bench/_bulk.py), not the "
        "ledger, for 10^7 entries",
    )
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--index", choices=("spill", "memory"), default="spill", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        child(args.db, args.child, args.workers, args.index)
        return
    with tempfile.TemporaryDirectory(prefix="claimledger-bench-") as tmp:
        if args.quick:
            args.size = 6000 if args.memory_only else 600
            args.db = Path(tmp) / "verify-quick.db"
        default = Path(tempfile.gettempdir()) / f"claimledger-bench-verify-{args.size}.db"
        run(args.db or default, args)


def _current_format(db: Path) -> bool:
    """Whether the cached database is of the storage format this code reads."""
    try:
        open_store(f"sqlite:///{db}").close()
    except StoreError:
        return False
    return True


def run(db: Path, args: argparse.Namespace) -> None:
    size, small = args.size, args.size // 10
    print(f"# bench_verify — {stamp()} — {machine()}")
    print(run_like_the_shells())
    cores = os.cpu_count() or 1
    base = baselines()
    print(base.describe(cores))
    sizes = (small // 10, small, size) if args.memory_only else (small, size)
    if not (db.exists() and _paths(db).exists() and _current_format(db)):
        for stale in (db, _paths(db), Path(f"{db}-wal"), Path(f"{db}-shm")):
            stale.unlink(missing_ok=True)
        build(db, sizes, fast=args.memory_only)
    else:
        print(f"reusing {db}")
    notes = json.loads(_paths(db).read_text())
    if args.memory_only:
        _report_memory(db, sizes, args.workers, "spill", "on disk (the default)")
        return
    note = notes[str(size)].encode()
    pool = SignaturePool(args.workers)
    pool.start()
    own0, kids0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    verify_ledger(f"sqlite:///{db}", note, pool=pool)
    dt = time.perf_counter() - t0
    own = _cpu(resource.RUSAGE_SELF) - own0
    pool.close()  # children's CPU time is counted once they have exited
    kids = _cpu(resource.RUSAGE_CHILDREN) - kids0
    r = size / dt
    print(
        f"verify_ledger, {pool.workers} workers, {size:,} entries: {r:8,.0f} /s  "
        f"({base.ratios(r, cores)}, of {cores} cores)"
    )
    print(
        f"  CPU per entry: {own / size * 1e6:.0f} us in the verifying process (read, unpickle, "
        f"rules, tree), {kids / size * 1e6:.0f} us in the workers (open + pickle, start-up "
        f"included); {(own + kids) / dt:.2f} cores busy"
    )
    own0 = _cpu(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    verify_ledger(f"sqlite:///{db}", notes[str(small)].encode(), workers=0)
    dt0 = time.perf_counter() - t0
    r0 = small / dt0
    print(f"verify_ledger, no workers, {small:,} entries:  {r0:8,.0f} /s  ({base.ratios(r0)})")
    print(
        f"  CPU per entry: {(_cpu(resource.RUSAGE_SELF) - own0) / small * 1e6:.0f} us "
        f"(the signature check is {1e6 / base.libsodium:.0f} us of it); bound with {cores} "
        f"cores and no overhead: {cores * r0:,.0f} /s ({base.ratios(cores * r0, cores)})"
    )
    for workers in (ledger_module.CATCH_UP_WORKERS, 1):
        ledger_module.CATCH_UP_WORKERS, saved = workers, ledger_module.CATCH_UP_WORKERS
        try:
            t0 = time.perf_counter()
            with Ledger.open(f"sqlite:///{db}", snapshots=False) as led:
                opened = led.size
            dt = time.perf_counter() - t0
        finally:
            ledger_module.CATCH_UP_WORKERS = saved
        how = f"{workers} workers" if workers > 1 else "one core"
        print(
            f"Ledger.open (re-decides every entry), catch-up on {how}, {opened:,} entries: "
            f"{opened / dt:8,.0f} /s  ({dt:.1f} s)"
        )
    for index, how in (("spill", "on disk (the default)"), ("memory", "in memory")):
        _report_memory(db, (small, size), args.workers, index, how)


def _report_memory(
    db: Path, sizes: Sequence[int], workers: int | None, index: str, how: str
) -> None:
    """Peak memory of verifying the first ``sizes`` entries (each in a fresh process), against
    the smallest."""
    mem = {n: _measure_memory(db, n, workers, index) for n in sizes}
    small = sizes[0]
    lo = mem[small]
    for size in sizes[1:]:
        hi = mem[size]
        print(
            f"peak RSS of the verifying process, growing state {how}: "
            f"{hi['rss_kb'] / 1024:.1f} MiB at {size:,} vs {lo['rss_kb'] / 1024:.1f} MiB at "
            f"{small:,} ({hi['rss_kb'] / lo['rss_kb']:.2f}x; {hi['s']:.1f} s vs {lo['s']:.1f} s)"
        )
        print(
            f"  the rules' state in memory at the end: {hi['state'] / 2**20:.1f} MiB vs "
            f"{lo['state'] / 2**20:.1f} MiB ({(hi['state'] - lo['state']) / (size - small):.0f} "
            "bytes per entry)"
        )


if __name__ == "__main__":
    main()
