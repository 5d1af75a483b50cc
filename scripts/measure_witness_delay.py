"""Measure how long a cosigned checkpoint takes to follow the log under sustained ingest.

Run ``python -m scripts.measure_witness_delay [--seconds 20] [--dir DIR]``: it makes a SQLite
ledger, starts a real witness process (``claimledger witness serve``) on loopback, runs a
:class:`ledger.Witnessing` thread over the ledger, submits claims one by one (every 20 ms) for
the given time, and prints, per entry, the delay from its receipt to the first cosigned
checkpoint that covers it, and per round, the time from the checkpoint seen to the cosigned one
kept (docs/architecture/witness.md).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attest.loglist import logs_v0_entry
from attest.policy import parse_policy
from ledger import Witnessing
from tests.ledger.actors import P, Q, claim, init_ledger, register_story
from witness import init_witness

REPO = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def measure(seconds: float, directory: Path) -> None:
    """Run the measurement in ``directory`` and print the delays."""
    ledger = init_ledger(f"sqlite:///{directory / 'ledger.db'}")
    register_story(ledger)
    keys = init_witness(directory / "witness", "witness.example/w1")
    vkey = ledger.note_verifier.vkey()
    logs = directory / "logs.txt"
    logs.write_text("logs/v0\n" + logs_v0_entry(vkey, None, 86400, "ops@example"))
    port = _port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "cli", "witness", "serve", "--dir", str(directory / "witness")]
    proc = subprocess.Popen(
        [*command, "--logs", str(logs), "--listen", f"127.0.0.1:{port}"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/{'0' * 64}", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        policy = parse_policy(
            (
                f"log {vkey}\nwitness ml {keys.mldsa44.verifier.vkey()} {base}\n"
                f"witness ed {keys.ed25519.verifier.vkey()} {base}\n"
                "group w1 all ml ed\nquorum w1\n"
            ).encode()
        )
        witnessing = Witnessing(ledger, policy)
        witnessing.start()
        covered: list[tuple[float, int]] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                covered.append((time.monotonic(), witnessing.cosigned_size))
                time.sleep(0.005)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        receipts: list[tuple[int, float]] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            receipt = ledger.submit(claim(ledger, P if len(receipts) % 2 else Q))
            receipts.append((receipt.tree_size, time.monotonic()))
            time.sleep(0.02)
        time.sleep(5)
        stop.set()
        watcher.join()
        witnessing.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        ledger.close()
    delays = []
    for size, at in receipts:
        when = next((t for t, s in covered if s >= size and t >= at), None)
        if when is not None:
            delays.append(when - at)
    rounds = list(witnessing.delays)
    print(f"{len(receipts)} entries in {seconds:.0f} s, {len(delays)} covered by a cosigned one")
    print(
        f"receipt -> cosigned checkpoint: median {_quantile(delays, 0.5):.3f} s, "
        f"p95 {_quantile(delays, 0.95):.3f} s, max {max(delays):.3f} s"
    )
    print(
        f"{len(rounds)} rounds, checkpoint seen -> cosigned kept: median "
        f"{_quantile(rounds, 0.5):.3f} s, max {max(rounds):.3f} s"
    )


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to submit")
    parser.add_argument("--dir", type=Path, default=None, help="a new directory to work in")
    args = parser.parse_args(argv)
    if args.dir is not None:
        args.dir.mkdir(parents=True)
        measure(args.seconds, args.dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            measure(args.seconds, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
