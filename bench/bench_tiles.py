"""The static read side (C2SP tlog-tiles, SPEC §14): ``python -m bench.bench_tiles``.

1. Builds a SQLite ledger of the benchmark workload (bench/_workload.py) at 10^4 entries, exports
   its tiles (timed: ``export_tiles`` from nothing, and the time to open the ledger before it),
   grows it to 10^5 entries and exports again (incremental), then exports 10^5 into an empty
   directory (from nothing), then appends 1,000 entries and exports them (incremental).
2. Serves the 10^5 export three ways on 127.0.0.1 — ``claimledger serve`` (the API's
   ``/tile/...`` routes, from the database), nginx serving the directory as static files, and
   ``python -m http.server`` — and loads each with ``wrk -t1 -c16 -d10s`` for one full hash tile
   (``tile/0/x000/100``... level 0, 8 KiB), one full entry bundle and one envelope bundle.
3. Measures proofs computed from tiles over HTTP from the static nginx: for random inclusion and
   consistency proofs at the exported size, a fresh ``TileHashReader`` each (a cold client): tiles
   fetched and wall time per proof; and the API's ``/v1/log/proof/...`` for the same proofs.

wrk shares the machine's cores with the servers; every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from attest.tiles import TileHashReader, TileRef
from bench._nginx import find_nginx
from bench._util import machine, stamp
from bench._workload import init_ledger, ledger_keys, register_parties, signed_entries
from bench.bench_cached_reads import _load, claimledger_serve, free_port, wrk
from bench.bench_verify import _ingest
from ledger import Ledger, SignaturePool, export_tiles, open_store

HOST = "127.0.0.1"
PROVIDERS = 100


def _grow(ledger: Ledger, pool: SignaturePool, envelopes: Iterator[bytes], to: int) -> None:
    _ingest(ledger, pool, envelopes, to - ledger.size, ledger_keys(ledger))
    ledger.flush()


def _export(db: str, out: Path, *, bundles: bool = False) -> tuple[float, float, int, int]:
    """Open the database (a bare store, or with ``bundles`` the ledger, which replays the log)
    and export; (open s, export s, files, bytes)."""
    t0 = time.perf_counter()
    if bundles:
        with Ledger.open(db) as ledger:
            t1 = time.perf_counter()
            done = export_tiles(ledger, out)
            t2 = time.perf_counter()
    else:
        store = open_store(db)
        t1 = time.perf_counter()
        done = export_tiles(store, out)
        t2 = time.perf_counter()
        store.close()
    return t1 - t0, t2 - t1, done.files, done.bytes


@contextmanager
def static_nginx(root: Path, directory: Path, port: int) -> Iterator[str]:
    """nginx (2 workers) serving ``directory`` as static files on ``127.0.0.1:port``."""
    prefix = root / "nginx-static"
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    temp = prefix / "temp"
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"worker_processes 2; pid {prefix}/nginx.pid; error_log {prefix}/logs/error.log;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; sendfile on; tcp_nopush on;\n"
        f"  client_body_temp_path {temp}; proxy_temp_path {temp};\n"
        f"  fastcgi_temp_path {temp}; uwsgi_temp_path {temp}; scgi_temp_path {temp};\n"
        f"  server {{ listen {HOST}:{port}; root {directory};\n"
        "    location = /checkpoint { default_type 'text/plain; charset=utf-8';"
        " add_header Cache-Control 'public, max-age=5'; }\n"
        "    location /tile/ { default_type application/octet-stream;"
        " add_header Cache-Control 'public, max-age=31536000, immutable'; }\n"
        "  }\n}\n"
    )
    temp.mkdir(exist_ok=True)
    with _serving(
        [find_nginx(), "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"], port
    ) as b:
        yield b


@contextmanager
def http_server(directory: Path, port: int) -> Iterator[str]:
    """``python -m http.server`` serving ``directory``."""
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", HOST, "-d", str(directory)]
    with _serving(cmd, port) as base:
        yield base


@contextmanager
def _serving(cmd: list[str], port: int) -> Iterator[str]:
    """Run a static file server ``cmd`` listening on ``port`` until the block ends."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    base = f"http://{HOST}:{port}"
    try:
        _wait(base, proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _wait(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(base + "/checkpoint", timeout=1)
            return
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"{base} did not start")
            time.sleep(0.1)


def _proofs(static: str, api: str, size: int, count: int) -> None:
    rng = random.Random(1)
    with httpx.Client(base_url=static) as client, httpx.Client(base_url=api) as api_client:

        def fetch(level: int, index: int, width: int) -> bytes:
            r = client.get("/" + TileRef("hash", level, index, width).path)
            r.raise_for_status()
            return r.content

        for what in ("inclusion", "consistency"):
            tiles = 0
            t0 = time.perf_counter()
            pairs = [(rng.randrange(size), rng.randint(1, size - 1)) for _ in range(count)]
            for index, old in pairs:
                reader = TileHashReader(size, fetch)
                if what == "inclusion":
                    reader.inclusion_proof(index)
                else:
                    reader.consistency_proof(old)
                tiles += len(reader.fetched)
            per = (time.perf_counter() - t0) / count * 1000
            t0 = time.perf_counter()
            for index, old in pairs:
                if what == "inclusion":
                    params = {"index": index, "size": size}
                    api_client.get("/v1/log/proof/inclusion", params=params).raise_for_status()
                else:
                    params = {"from": old, "to": size}
                    api_client.get("/v1/log/proof/consistency", params=params).raise_for_status()
            api_per = (time.perf_counter() - t0) / count * 1000
            print(
                f"| {what} proof at size {size:,} | {tiles / count:.1f} tiles "
                f"({tiles / count * 8:.0f} KiB) | {per:.2f} ms | {api_per:.2f} ms |"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--proofs", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None, help="keep the database and exports here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-tiles-") as tmp:
        root = args.dir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)  # nginx's workers (another user) read the export below it
        db_path = root / "tiles.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        db = f"sqlite:///{db_path}"
        print(f"machine: {machine()}; {stamp()}; load: {_load()}")
        out, fresh = root / "site", root / "site-fresh"
        t0 = time.perf_counter()
        with SignaturePool() as pool, init_ledger(db) as ledger:
            register_parties(ledger, PROVIDERS)
            envelopes = signed_entries(args.size + 1000, PROVIDERS)
            _grow(ledger, pool, envelopes, args.small)
            print(f"built {ledger.size:,} entries in {time.perf_counter() - t0:.0f} s")
            rows = []
            o, e, f, b = _export(db, out)
            rows.append((f"{args.small:,} from nothing", o, e, f, b))
            _grow(ledger, pool, envelopes, args.size)
            o, e, f, b = _export(db, out)
            rows.append((f"{args.small:,} -> {args.size:,} (incremental)", o, e, f, b))
            o, e, f, b = _export(db, fresh)
            rows.append((f"{args.size:,} from nothing", o, e, f, b))
            _grow(ledger, pool, envelopes, args.size + 1000)
            o, e, f, b = _export(db, fresh)
            rows.append((f"{args.size:,} -> {args.size + 1000:,} (incremental)", o, e, f, b))
            o, e, f, b = _export(db, root / "site-bundles", bundles=True)
            rows.append((f"{args.size + 1000:,} with {PROVIDERS} evidence bundles", o, e, f, b))
        print("| export | open (s) | export_tiles (s) | files | MB |\n|---|---:|---:|---:|---:|")
        for name, o, e, f, b in rows:
            print(f"| {name} | {o:.1f} | {e:.2f} | {f:,} | {b / 1e6:.1f} |")
        size = args.size + 1000
        n = min(100, size // 256 - 1)
        paths = {
            "hash tile (8,192 B)": "/" + TileRef("hash", 0, n).path,
            "entry bundle": "/" + TileRef("entries", 0, n).path,
            "envelope bundle": "/" + TileRef("envelopes", 0, n).path,
        }
        for name, path in paths.items():
            print(f"  {name}: {path[1:]} = {(fresh / path[1:]).stat().st_size:,} bytes")
        log_key = Path(tmp) / "keys" / "log.key"
        log_key.parent.mkdir(exist_ok=True)
        from tests.attest.logbuilder import LOG_KEY, key

        log_key.write_bytes(key(LOG_KEY).to_pem(None, unsafe_unencrypted=True))
        opts = {"threads": 1, "connections": 16, "seconds": args.seconds}
        with (
            claimledger_serve(db, log_key, free_port()) as api,
            static_nginx(root, fresh, free_port()) as static,
            http_server(fresh, free_port()) as pyhttp,
        ):
            print(f"wrk -t1 -c16 -d{args.seconds}s --latency; load: {_load()}")
            print(
                "| tile | API (req/s, p50/p99 ms) | nginx static | python http.server |"
                "\n|---|---:|---:|---:|"
            )
            for name, path in paths.items():
                for base in (api, static, pyhttp):
                    r = httpx.get(base + path)
                    if r.content != (fresh / path[1:]).read_bytes():
                        sys.exit(
                            f"{base}{path}: {r.status_code}, {len(r.content)} bytes, not the file"
                        )
                cells = [wrk(b + path, **opts) for b in (api, static, pyhttp)]
                print(
                    f"| {name} | "
                    + " | ".join(f"{c.rate:,.0f} ({c.p50_ms:.2f}/{c.p99_ms:.2f})" for c in cells)
                    + " |"
                )
            print(
                "| proof from tiles (cold client, HTTP from nginx) | tiles fetched | time "
                "| same proof from the API |"
            )
            _proofs(static, api, size, args.proofs)
        print(f"load after: {_load()}")
        if args.dir is None:
            os.sync()


if __name__ == "__main__":
    main()
