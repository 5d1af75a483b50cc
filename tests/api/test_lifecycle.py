"""The server's life: it answers at once while its ledger opens in the background (``503
starting``), ``/healthz`` and ``/readyz`` apart, and readiness lost when it falls behind its
database (docs/operating/monitoring.md). The real processes (SIGTERM under load, a ledger that
cannot be opened) are in ``tests/cli/test_shutdown.py``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import app_from_env, create_app
from api.routers import health
from attest.statements import REGISTRY_STREAM
from bench._workload import init_ledger as init_bench_ledger
from ledger import RESIDENT_ENTRIES, Ledger, open_store
from tests.api.conftest import KEYS, LOG_KEY, P, init_ledger
from tests.api.test_metrics import scrape
from tests.attest.examples import AUTHORITY, example_party_register_body
from tests.attest.logbuilder import key
from tests.ledger.actors import P as SP
from tests.ledger.actors import Q, envelope
from tests.ledger.test_snapshot import _two_companies

pytestmark = pytest.mark.usefixtures("restore_gc")  # app_from_env tunes the collector


def _until(client: Any, path: str, status: int) -> Any:
    deadline = time.monotonic() + 30
    while True:
        r = client.get(path)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.02)


def test_routes_answer_starting_while_the_ledger_opens(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    init_bench_ledger(url).close()
    monkeypatch.setenv("CLAIMLEDGER_DB", url)
    for name in ("CLAIMLEDGER_LOG_KEY", "CLAIMLEDGER_OPEN_WORKERS", "CLAIMLEDGER_FOLLOW_S"):
        monkeypatch.delenv(name, raising=False)
    release = threading.Event()
    real_open = Ledger.open

    def slow_open(*args: Any, **kwargs: Any) -> Ledger:
        assert release.wait(30)  # the open of a large log takes minutes
        return real_open(*args, **kwargs)

    monkeypatch.setattr(Ledger, "open", slow_open)
    with TestClient(app_from_env()) as client:
        r = client.get("/healthz")
        assert (r.status_code, r.json()) == (503, {"status": "starting", "writable": False})
        assert r.headers["retry-after"] == "5"
        for path in ("/readyz", "/v1/log", "/v1/log/checkpoint", f"/v1/streams/{P}", "/"):
            r = client.get(path)
            assert r.status_code == 503, path
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"] == "https://claimledger.dev/problems/starting"
            assert r.headers["retry-after"] == "5"
        m = scrape(client)  # metrics answer while starting
        assert m[("claimledger_ledger_open", ())] == 0
        assert ("claimledger_checkpoint_size", ()) not in m

        release.set()
        r = _until(client, "/healthz", 200)
        assert r.json() == {"status": "ok", "size": 1, "writable": False}
        r = client.get("/readyz")
        assert (r.status_code, r.json()) == (200, {"status": "ready", "size": 1, "storeSize": 1})
        assert client.get("/v1/log").status_code == 200
        m = scrape(client)
        assert m[("claimledger_ledger_open", ())] == 1
        assert m[("claimledger_ledger_open_seconds", ())] > 0
    # The lifespan closed the ledger it opened: the database can be opened for writing again.
    with Ledger.open(url, log_key=key(LOG_KEY)) as ledger:
        assert ledger.size == 1


def test_readyz_fails_when_the_server_falls_behind_its_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(health, "BEHIND_S", 0.3)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    init_ledger(url).close()
    with (
        Ledger.open(url, log_key=key(LOG_KEY)) as served,
        Ledger.open(url, log_key=key(LOG_KEY)) as other,
        TestClient(create_app(served, follow_s=0)) as client,  # nothing follows the store
    ):
        assert client.get("/readyz").status_code == 200
        body = example_party_register_body(P, "provider", keys=[KEYS[P]])
        other.submit(envelope(other, "party.register", REGISTRY_STREAM, AUTHORITY, body))
        assert client.get("/readyz").status_code == 200  # behind since now: allowed a while
        r = _until(client, "/readyz", 503)
        assert r.status_code == 503
        assert r.json()["type"] == "https://claimledger.dev/problems/not-ready"
        assert (r.json()["size"], r.json()["storeSize"]) == (1, 2)
        assert client.get("/healthz").status_code == 200  # alive all the same
        served.refresh()  # what a follower does
        assert client.get("/readyz").json()["size"] == 2


@pytest.mark.parametrize(
    ("value", "expected"), [("", RESIDENT_ENTRIES), ("1000", 1000), ("all", None)]
)
def test_the_memory_budget_setting_reaches_the_ledger_and_its_gauge(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, expected: int | None
) -> None:
    """``CLAIMLEDGER_RESIDENT_ENTRIES``: a writer's budget for streams' state, in entries."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with init_ledger(url) as led:
        led.submit(envelope(led, "party.register", REGISTRY_STREAM, AUTHORITY, _register_p()))
    monkeypatch.setenv("CLAIMLEDGER_DB", url)
    for name in ("CLAIMLEDGER_LOG_KEY", "CLAIMLEDGER_OPEN_WORKERS", "CLAIMLEDGER_FOLLOW_S"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLAIMLEDGER_RESIDENT_ENTRIES", value)
    seen: dict[str, Any] = {}
    real_open = Ledger.open

    def spy(*args: Any, **kwargs: Any) -> Ledger:
        seen.update(kwargs)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(Ledger, "open", spy)
    with TestClient(app_from_env()) as client:
        assert _until(client, "/healthz", 200).status_code == 200
        assert scrape(client)[("claimledger_resident_entries", ())] == 0  # no provider entry
        assert scrape(client)[("claimledger_spilled_parts", ())] == 0
    assert seen["resident_entries"] == expected


def _register_p() -> dict[str, Any]:
    return example_party_register_body(P, "provider", keys=[KEYS[P]])


def test_a_server_checks_its_snapshot_s_parts_once_it_serves(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server opens without checking that every part of its snapshot is stored (≈ 0.3 s at
    100,000 companies), then checks in a thread: a part missing drops the snapshot (the next
    open replays the log) with an error line, while the server goes on serving."""
    db = tmp_path / "ledger.db"
    url = f"sqlite:///{db}"
    digests = _two_companies(url)
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM claimledger_snapshot_parts WHERE digest = ?", (digests[("s", Q)],))
    monkeypatch.setenv("CLAIMLEDGER_DB", url)
    for name in ("CLAIMLEDGER_LOG_KEY", "CLAIMLEDGER_OPEN_WORKERS", "CLAIMLEDGER_FOLLOW_S"):
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.INFO, logger="ledger._ledger"), TestClient(app_from_env()) as c:
        assert _until(c, "/healthz", 200).status_code == 200
        assert "opened from the snapshot" in caplog.text
        deadline = time.monotonic() + 30
        while "the snapshot is dropped" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "the snapshot is dropped" in caplog.text
        assert c.get(f"/v1/streams/{SP}").status_code == 200  # its part is there
    with open_store(url) as store:
        assert store.latest_snapshot() is None
