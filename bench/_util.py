"""Small timing helpers shared by the benchmarks (best-of-N wall clock, single thread)."""

from __future__ import annotations

import gc
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger import tune_gc


def rate(fn: Callable[[], object], n: int, *, repeat: int = 5) -> float:
    """Calls per second of ``fn``: ``n`` calls per round, best of ``repeat`` rounds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def verify_baseline(message_bytes: int = 1500, n: int = 4000) -> float:
    """Single-core ``cryptography`` Ed25519 verifies per second over a message of that size.

    The baseline of the ingest and verification benchmarks; best of 5 rounds.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    msg = bytes(i % 251 for i in range(message_bytes))
    pub, sig = key.public_key(), key.sign(msg)
    return rate(lambda: pub.verify(sig, msg), n)


@dataclass(frozen=True, slots=True)
class Baselines:
    """Single-core Ed25519 verifies per second by OpenSSL and by libsodium, measured in one run.

    The ledger checks signatures with libsodium (keys/_ed25519.py); earlier figures were given
    against OpenSSL alone, so both ratios are printed."""

    openssl: float
    libsodium: float

    def describe(self, cores: int = 1) -> str:
        on = f"; x {cores} cores" if cores > 1 else ""
        return (
            f"baseline: Ed25519 verify, one core: OpenSSL (cryptography) {self.openssl:8,.0f} /s, "
            f"libsodium (PyNaCl) {self.libsodium:8,.0f} /s{on}"
        )

    def ratios(self, rate: float, cores: int = 1) -> str:
        """``rate`` against each baseline (times ``cores``)."""
        return (
            f"{rate / (cores * self.openssl):.2f}x OpenSSL, "
            f"{rate / (cores * self.libsodium):.2f}x libsodium"
        )


def baselines(message_bytes: int = 1500, n: int = 4000) -> Baselines:
    """Both single-core baselines over a message of that size; best of 5 rounds each."""
    from nacl.bindings import crypto_sign_open

    from keys import PrivateKey

    key = PrivateKey.from_seed(bytes(range(32)))
    msg = bytes(i % 251 for i in range(message_bytes))
    signed, raw = key.sign(msg) + msg, key.public_key.raw
    return Baselines(
        verify_baseline(message_bytes, n), rate(lambda: crypto_sign_open(signed, raw), n)
    )


def run_like_the_shells() -> str:
    """Apply the collector settings ``claimledger``'s CLI and server run with; say so."""
    tune_gc()
    return f"gc: young-generation threshold {gc.get_threshold()[0]:,} (as the CLI and server run)"


def machine() -> str:
    """A one-line description of this machine for the results table."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def stamp() -> str:
    """Today's UTC date for the results table."""
    return datetime.now(UTC).strftime("%Y-%m-%d")
