"""Replay as of a date for a company with 10,000 entries (issue 3 target: under 100 ms).

Run ``python -m bench.bench_replay``. The baseline printed next to it is the time to fold the
same company's current state, measured in the same run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from bench._util import machine, stamp
from tests.ledger.test_views import FAR_FUTURE, P, build_large_company


def _best(fn: Callable[[], object], repeat: int = 20) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 entries instead of 10,000")
    args = parser.parse_args()
    n = 1_000 if args.quick else 10_000
    print(f"# bench_replay — {stamp()} — {machine()}")
    views, mid = build_large_company(n)
    now = _best(lambda: views.replay(P))
    half = _best(lambda: views.replay(P, as_of_ms=mid))
    full = _best(lambda: views.replay(P, as_of_ms=FAR_FUTURE - 1))
    print(f"company entries:                {n:>10,}")
    print(f"replay, current state (base):   {now * 1000:10.2f} ms")
    print(f"replay as of the middle date:   {half * 1000:10.2f} ms  (target < 100 ms)")
    print(f"replay as of after the end:     {full * 1000:10.2f} ms  (target < 100 ms)")


if __name__ == "__main__":
    main()
