"""The server process runs with the ledger's collector settings (ledger/_gc.py)."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import ledger._ledger as ledger_module
from api import app_from_env
from bench._workload import init_ledger, register_parties
from ledger import Ledger, freeze_heap
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


def test_the_open_runs_no_collection_before_freezing_what_it_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No collection from the start of the server's open to the frozen heap: none walks the
    open's objects (≈ 1.5 s for 100,000 companies, to find nothing to free)."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with init_ledger(url) as ledger:
        register_parties(ledger, 300)  # an open that allocates well past the young threshold
    monkeypatch.setenv("CLAIMLEDGER_DB", url)
    monkeypatch.delenv("CLAIMLEDGER_LOG_KEY", raising=False)
    monkeypatch.setenv("CLAIMLEDGER_OPEN_WORKERS", "0")
    monkeypatch.setattr(ledger_module, "CATCH_UP_POOL_FROM", 10**9)  # all in this process
    events: list[int] = []
    opening = threading.Event()
    real_open = Ledger.open

    def watched_open(*args: Any, **kwargs: Any) -> Ledger:
        opening.set()
        return real_open(*args, **kwargs)

    def watched_freeze() -> None:
        freeze_heap()
        opening.clear()

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and opening.is_set():
            events.append(info["generation"])

    monkeypatch.setattr(Ledger, "open", watched_open)  # the class api opens with
    monkeypatch.setattr(ledger_module, "freeze_heap", watched_freeze)  # Ledger.open_to_serve
    monkeypatch.setattr("api.tune_gc", lambda: None)  # CPython's threshold: collections are due
    gc.set_threshold(700, 10, 10)
    gc.unfreeze()
    gc.callbacks.append(record)
    try:
        with TestClient(app_from_env()) as client:
            deadline = time.monotonic() + 30
            while client.get("/healthz").status_code == 503 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert client.get("/healthz").status_code == 200
    finally:
        gc.callbacks.remove(record)
    assert events == []
