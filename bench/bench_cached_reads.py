"""Public reads from the app, through the caching proxy, and as static files:
``python -m bench.bench_cached_reads``.

Builds the demo ledger (``claimledger demo``'s) in a temporary directory and starts, on loopback:

* ``claimledger serve`` over it (a real process, as an operator runs it);
* nginx with the shipped configuration (``deploy/nginx/claimledger.conf``, rendered by
  ``bench/_nginx.py``) in front of it, and, in the same nginx, a server block that serves the very
  bytes the app answered (saved to files) as static files: the ceiling for any cache.

Then, in the same run, ``wrk -t1 -c16 -d10s --latency`` against each target for the company page
(``/providers/pixelstream``), the company's evidence bundle (``/v1/streams/pixelstream/bundle``)
and the checkpoint (``/v1/log/checkpoint``): requests/s and p50/p99 latency. It also measures the
app alone answering conditional requests (``If-None-Match`` with the current ETag: ``304`` without
rendering) for the page and the bundle, to show what the checkpoint-bound ETag saves a proxy's
revalidation. Target (issue 16): through the proxy >= 0.5x static.

wrk shares the machine's cores with the servers; the load goes to 127.0.0.1 only and every
process is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench._nginx import nginx
from bench._util import machine, stamp
from cli._demo import build_demo

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Run:
    """One wrk run."""

    rate: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if m is None:
        raise ValueError(f"not a wrk latency: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(
    url: str, *, threads: int, connections: int, seconds: int, header: str | None = None
) -> Run:
    """Run wrk against ``url``; parse its rate, latency percentiles and non-2xx count."""
    binary = shutil.which("wrk")
    if binary is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    command = [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if header is not None:
        command[1:1] = ["-H", header]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Run(rate, p50, p99, int(bad.group(1)) if bad else 0)


@contextmanager
def claimledger_serve(db: str, log_key: Path, port: int) -> Iterator[str]:
    """``claimledger serve`` as a real process on ``127.0.0.1:port`` until the block ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMLEDGER_")}
    env["PYTHONPATH"] = str(REPO)
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "cli",
            "serve",
            "--db",
            db,
            "--log-key",
            str(log_key),
            "--port",
            str(port),
        ],
        cwd=log_key.parent.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/v1/log/checkpoint", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("claimledger serve did not start")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--company", default="pixelstream")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--nginx-workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-cached-") as tmp:
        root = Path(tmp)
        db = f"sqlite:///{root / 'demo.db'}"
        build_demo(db, root / "keys", today_ms=time.time_ns() // 1_000_000)
        print(f"machine: {machine()}; {stamp()}")
        reads = {
            "company page": f"/providers/{args.company}",
            "company bundle": f"/v1/streams/{args.company}/bundle",
            "checkpoint": "/v1/log/checkpoint",
        }
        static_dir = root / "static"
        static_dir.mkdir()
        app_port, proxy_port, static_port = free_port(), free_port(), free_port()
        with claimledger_serve(db, root / "keys" / "log.key", app_port) as app:
            size = httpx.get(app + "/v1/log", timeout=30).json()["size"]
            print(f"demo ledger: {size} entries")
            etags: dict[str, str] = {}
            files: dict[str, str] = {}
            for i, (name, path) in enumerate(reads.items()):
                r = httpx.get(app + path, timeout=30)
                r.raise_for_status()
                etags[name] = r.headers["etag"]
                files[name] = f"/read{i}"
                (static_dir / f"read{i}").write_bytes(r.content)
                print(f"  {name}: {path}, {len(r.content):,} bytes")
            extra = (
                f"    server {{ listen {HOST}:{static_port}; root {static_dir};"
                " location / { default_type application/octet-stream; } }\n"
            )
            with nginx(
                root / "nginx",
                port=proxy_port,
                upstream=f"{HOST}:{app_port}",
                workers=args.nginx_workers,
                extra=extra,
            ) as proxy:
                static = f"http://{HOST}:{static_port}"
                opts = {
                    "threads": args.threads,
                    "connections": args.connections,
                    "seconds": args.seconds,
                }
                print(
                    f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s --latency; "
                    f"nginx {args.nginx_workers} workers; load: {_load()}"
                )
                print(
                    f"| read | app (req/s, p50/p99 ms) | proxy | static | proxy/static "
                    f"| proxy/app |\n|{'---|' * 6}"
                )
                for name, path in reads.items():
                    httpx.get(proxy + path, timeout=30)  # the first request fills the cache
                    a = wrk(app + path, **opts)
                    p = wrk(proxy + path, **opts)
                    s = wrk(static + files[name], **opts)
                    for who, run in (("app", a), ("proxy", p), ("static", s)):
                        if run.non_2xx:
                            print(f"  warning: {run.non_2xx} non-2xx answers from {who}")
                    print(
                        f"| {name} | {_cell(a)} | {_cell(p)} | {_cell(s)} "
                        f"| {p.rate / s.rate:.2f}x | {p.rate / a.rate:.0f}x |"
                    )
                print("app alone, conditional (If-None-Match with the current ETag: 304):")
                for name in ("company page", "company bundle"):
                    # The page's tag changes with the minute (expiry is judged per minute):
                    # start within one minute, take the tag then, check it is answered 304.
                    left = 60 - time.time() % 60
                    if left < args.seconds + 2:
                        time.sleep(left + 0.5)
                    etags[name] = httpx.get(app + reads[name], timeout=30).headers["etag"]
                    check = httpx.get(
                        app + reads[name], headers={"if-none-match": etags[name]}, timeout=30
                    )
                    if check.status_code != 304:
                        sys.exit(f"{name}: the app answered {check.status_code}, not 304")
                    c = wrk(
                        app + reads[name],
                        header=f"If-None-Match: {etags[name]}",
                        **opts,
                    )
                    print(f"| {name}, 304 | {_cell(c)} |")
                print(f"load after: {_load()}")


def _cell(run: Run) -> str:
    return f"{run.rate:,.0f} ({run.p50_ms:.2f}/{run.p99_ms:.2f})"


def _load() -> str:
    """The 1, 5 and 15-minute load averages (the machine may be shared)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
