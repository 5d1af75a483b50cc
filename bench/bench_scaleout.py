"""Several servers over one PostgreSQL database: ``python -m bench.bench_scaleout``.

For 1, 2 and 3 ``claimledger serve`` processes (each with the log key, each accepting writes) over
one fresh PostgreSQL schema with ``--providers`` registered providers, on 127.0.0.1, it measures:

* **lag**: with appends paced at ``--rate`` entries/s spread over the servers, the time from the
  moment a client holds an entry's receipt from one server to the moment each *other* server's
  ``/v1/log/checkpoint`` covers it (an observer thread per server polls every 5 ms), p50/p99/max;
* **writes**: unpaced appends from 4 client threads per server (each thread owns its providers'
  streams and talks to one server), entries/s acknowledged in total;
* **reads**: ``wrk -t1 -c8`` on every server at once for ``--seconds`` (GET a stream's head,
  uncached), requests/s in total (skipped, and said so, when ``wrk`` is not installed).

Everything runs on this machine: the servers, PostgreSQL and the load share its cores, so the
rates show what one more server costs or buys here, not what more machines would buy.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from attest.dsse import Envelope
from bench._util import machine, stamp
from bench._workload import init_ledger, provider, register_parties, signed_entries
from bench.bench_cached_reads import claimledger_serve, free_port
from tests.attest.logbuilder import LOG_KEY, key

PG = os.environ.get("CLAIMLEDGER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parent.parent
JSON = {"content-type": "application/json"}


@contextmanager
def _schema() -> Iterator[str]:
    name = f"cl_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield f"{PG}?schema={name}"
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@contextmanager
def _servers(url: str, log_key: Path, n: int) -> Iterator[list[str]]:
    with ExitStack() as stack:
        yield [stack.enter_context(claimledger_serve(url, log_key, free_port())) for _ in range(n)]


def _size(client: httpx.Client, base: str) -> int:
    return int(client.get(base + "/v1/log/checkpoint").text.split("\n")[1])


@dataclass
class _Observer:
    """Polls one server's checkpoint; remembers when each size was first served."""

    base: str
    seen: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, size) on change
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        last = -1
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                try:
                    size = _size(client, self.base)
                except httpx.HTTPError:
                    continue
                if size != last:
                    self.seen.append((time.monotonic(), size))
                    last = size
                time.sleep(0.005)

    def first_covering(self, index: int) -> float | None:
        for t, size in self.seen:
            if size > index:
                return t
        return None


def _stream_of(envelope: bytes) -> str:
    import orjson

    env = Envelope.parse_stored(envelope)
    stream: str = orjson.loads(env.payload)["stream"]
    return stream


def _by_stream(envelopes: Sequence[bytes]) -> list[list[bytes]]:
    by: dict[str, list[bytes]] = defaultdict(list)
    for e in envelopes:
        by[_stream_of(e)].append(e)
    return list(by.values())


def _post_all(base: str, chains: list[list[bytes]], acks: list[tuple[int, float, str]]) -> None:
    """Post each chain in order (one stream at a time, round-robin across the chains)."""
    with httpx.Client(timeout=30) as client:
        pending = [iter(c) for c in chains]
        while pending:
            for it in list(pending):
                e = next(it, None)
                if e is None:
                    pending.remove(it)
                    continue
                r = client.post(base + "/v1/entries", content=e, headers=JSON)
                if r.status_code != 201:
                    raise RuntimeError(f"{base}: {r.status_code} {r.text[:200]}")
                acks.append((r.json()["index"], time.monotonic(), base))


def lag_phase(bases: list[str], chains: list[list[bytes]], rate: float) -> list[float]:
    """Paced appends, round-robin over servers; lag of every other server, in seconds."""
    observers = [_Observer(b) for b in bases]
    threads = [threading.Thread(target=o.run, daemon=True) for o in observers]
    for t in threads:
        t.start()
    acks: list[tuple[int, float, str]] = []
    with httpx.Client(timeout=30) as client:
        t0 = time.monotonic()
        n = 0
        iters = [iter(c) for c in chains]
        while iters:
            for k, it in enumerate(list(iters)):
                e = next(it, None)
                if e is None:
                    iters.remove(it)
                    continue
                base = bases[k % len(bases)]  # a stream always goes to the same server
                wait = t0 + n / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                r = client.post(base + "/v1/entries", content=e, headers=JSON)
                if r.status_code != 201:
                    raise RuntimeError(f"{base}: {r.status_code} {r.text[:200]}")
                acks.append((r.json()["index"], time.monotonic(), base))
                n += 1
    time.sleep(1.0)
    for o in observers:
        o.stop.set()
    for t in threads:
        t.join()
    lags = []
    for index, acked, via in acks:
        for o in observers:
            if o.base == via:
                continue
            seen = o.first_covering(index)
            lags.append(float("inf") if seen is None else max(0.0, seen - acked))
    return lags


def write_phase(bases: list[str], chains: list[list[bytes]], clients_per_server: int) -> float:
    """Unpaced appends; acknowledged entries per second over all servers."""
    workers = len(bases) * clients_per_server
    shares: list[list[list[bytes]]] = [[] for _ in range(workers)]
    for i, chain in enumerate(chains):
        shares[i % workers].append(chain)
    acks: list[tuple[int, float, str]] = []
    threads = [
        threading.Thread(target=_post_all, args=(bases[w % len(bases)], shares[w], acks))
        for w in range(workers)
    ]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(acks) / (time.monotonic() - t0)


def read_phase(bases: list[str], path: str, seconds: int) -> float | None:
    """``wrk -t1 -c8`` on every server at once; total requests per second."""
    if shutil.which("wrk") is None:
        return None
    procs = [
        subprocess.Popen(  # noqa: S603
            ["wrk", "-t1", "-c8", f"-d{seconds}s", base + path],  # noqa: S607
            stdout=subprocess.PIPE,
            text=True,
        )
        for base in bases
    ]
    total = 0.0
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 60)
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if m is None:
            raise RuntimeError(f"wrk said: {out}")
        total += float(m.group(1))
    return total


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", default="1,2,3", help="server counts to measure")
    ap.add_argument("--providers", type=int, default=64)
    ap.add_argument("--lag-entries", type=int, default=300)
    ap.add_argument("--rate", type=float, default=20.0, help="paced appends per second (lag)")
    ap.add_argument("--write-entries", type=int, default=1500)
    ap.add_argument("--seconds", type=int, default=5, help="wrk duration (reads)")
    args = ap.parse_args(argv)

    print(f"# bench_scaleout  {stamp()}  {machine()}")
    print(f"# load before: {os.getloadavg()[0]:.2f} (1-min average)")
    print(f"# PostgreSQL {PG}; {args.providers} providers; lag at {args.rate:g} entries/s\n")
    print("| servers | lag p50 | lag p99 | lag max | writes (entries/s) | reads (req/s) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    envelopes = list(signed_entries(args.lag_entries + args.write_entries, args.providers))
    chains = _by_stream(envelopes)
    for n in (int(x) for x in args.servers.split(",")):
        with tempfile.TemporaryDirectory() as d, _schema() as url:
            tmp = Path(d)
            with init_ledger(url) as led:
                register_parties(led, args.providers)
            log_key = tmp / "log.key"
            key(LOG_KEY).save(log_key, None, unsafe_unencrypted=True)
            lag_chains = [c[: max(1, len(c) * args.lag_entries // len(envelopes))] for c in chains]
            rest = [c[len(lc) :] for c, lc in zip(chains, lag_chains, strict=True)]
            with _servers(url, log_key, n) as bases:
                lags = lag_phase(bases, lag_chains, args.rate)  # none with 1 server
                writes = write_phase(bases, [c for c in rest if c], 4)
                reads = read_phase(bases, f"/v1/streams/{provider(0)}", args.seconds)
            if lags:
                lag = " | ".join(f"{_pct(lags, q) * 1000:.0f} ms" for q in (0.5, 0.99, 1.0))
            else:
                lag = "— | — | —"
            shown = "wrk missing" if reads is None else f"{reads:,.0f}"
            print(f"| {n} | {lag} | {writes:,.0f} | {shown} |", flush=True)
    if lags:
        print(f"\n# lag samples at the last count: {len(lags)}; mean {statistics.mean(lags):.3f} s")


if __name__ == "__main__":
    main()
