"""bench_browser_verify runs (it is not in tests/ledger/test_bench_smoke.py: it needs Chromium).

It rotted once unnoticed: it verified a record without the state proof v2 bundles carry. Run as a
subprocess, so that its own Playwright session never meets this process's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.web.conftest import CHROMIUM, _unavailable

ROOT = Path(__file__).resolve().parents[2]


def test_bench_browser_verify_runs_on_a_small_record() -> None:
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_browser_verify", "--entries", "20", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "browser: verifyBundle (engine, bundle downloaded)" in out.stdout
    assert "the 2 s target" in out.stdout  # the figures are printed; their values are not tested
