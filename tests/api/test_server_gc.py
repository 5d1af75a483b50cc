"""The server process runs with the ledger's collector settings (ledger/_gc.py)."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import app_from_env
from bench._workload import init_ledger
from ledger._gc import GC_THRESHOLD

pytestmark = pytest.mark.usefixtures("restore_gc")


def test_the_server_tunes_the_collector_and_freezes_what_the_open_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    init_ledger(url).close()
    monkeypatch.setenv("CLAIMLEDGER_DB", url)
    monkeypatch.delenv("CLAIMLEDGER_LOG_KEY", raising=False)
    monkeypatch.delenv("CLAIMLEDGER_OPEN_WORKERS", raising=False)
    gc.set_threshold(700, 10, 10)
    gc.unfreeze()
    app = app_from_env()
    assert gc.get_freeze_count() == 0  # nothing happens before the server starts
    with TestClient(app) as client:
        deadline = time.monotonic() + 30  # the ledger opens in the background
        while client.get("/healthz").status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.get("/healthz").status_code == 200
        assert gc.get_threshold()[0] == GC_THRESHOLD
        assert gc.get_freeze_count() > 0
