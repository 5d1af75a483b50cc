"""``POST /v1/entries`` with ``open_workers``: envelopes opened in worker processes, in groups.

Every outcome must be the inline one (same status, same problem object, same receipt), the
workers live exactly as long as the application's lifespan, and a key the workers were not given,
or a worker that died, falls back to opening in the server process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import ServerConfigError, app_from_env, create_app
from api.opener import Opener
from attest.statements import REGISTRY_STREAM
from bench._workload import init_ledger as init_bench_ledger
from bench._workload import register_parties, signed_entries
from bench.bench_http import by_client
from ledger import Ledger
from tests.api.conftest import LOG_KEY, Api, P, Story
from tests.api.test_errors import CASES, problem
from tests.api.test_server import PASSPHRASE, _start, _stop
from tests.attest.examples import AUTHORITY, example_claim_body, example_key_add_body
from tests.attest.logbuilder import key
from tests.conftest import REPO, wait_ready

JSON = {"content-type": "application/json"}


def _opener(app: FastAPI) -> Opener:
    opener = app.state.opener
    assert isinstance(opener, Opener)
    return opener


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A dead child not reaped yet is a zombie: gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def pooled(sqlite_ledger: Ledger) -> Iterator[tuple[Api, Api]]:
    """(a client of an app opening in 2 workers, a client of an inline app), one ledger."""
    app = create_app(sqlite_ledger, open_workers=2)
    with TestClient(app) as pooled, TestClient(create_app(sqlite_ledger)) as inline:
        assert _opener(app).running
        yield Api(pooled), Api(inline)


def test_submissions_through_the_workers_get_201_then_200(pooled: tuple[Api, Api]) -> None:
    api, _ = pooled
    Story(api).register()
    env = api.sign("claim.publish", P, P, example_claim_body())
    first = api.post(env)
    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/v1/entries/{first.json()['index']}"
    again = api.post(env)
    assert again.status_code == 200, again.text
    assert again.json()["index"] == first.json()["index"]
    assert again.headers["location"] == first.headers["location"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_refusal_is_the_inline_one(pooled: tuple[Api, Api], case: str) -> None:
    api, inline = pooled
    Story(api).register()
    make, name, status = CASES[case]
    env = make(api)
    size = api.size()
    expected = problem(inline.post(env), name, status)
    assert problem(api.post(env), name, status) == expected
    assert api.size() == size


def test_a_key_registered_by_another_writer_is_found(tmp_path: Path, sqlite_ledger: Ledger) -> None:
    """The workers were never given the key: ``prepare`` catches up and finds it.

    No follower (``follow_s=0``): it would read the key first, and this is about ``prepare``."""
    app = create_app(sqlite_ledger, open_workers=2, follow_s=0)
    with TestClient(app) as client:
        api = Api(client)
        Story(api).register()
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
        with Ledger.open(url, log_key=key(LOG_KEY)) as other:
            other.submit(
                api.sign("key.add", REGISTRY_STREAM, AUTHORITY, example_key_add_body(P, 4))
            )
        assert sqlite_ledger.state.key(str(key(4).public_key.key_id)) is None
        r = api.post(api.sign("claim.publish", P, P, example_claim_body(), key_no=4))
        assert r.status_code == 201, r.text
        assert _opener(app).running


def test_concurrent_submissions_are_grouped_and_each_gets_its_receipt(tmp_path: Path) -> None:
    async def send_all(app: FastAPI, per_client: list[list[bytes]]) -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:

                async def client(envelopes: list[bytes]) -> list[httpx.Response]:
                    return [
                        await http.post("/v1/entries", content=e, headers=JSON) for e in envelopes
                    ]

                out = await asyncio.gather(*(client(mine) for mine in per_client))
            assert _opener(app).running
        assert app.state.opener is None
        return [r for rs in out for r in rs]

    with init_bench_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        register_parties(ledger, 8)
        start = ledger.size
        envelopes = list(signed_entries(96, 8))
        app = create_app(ledger, open_workers=2)
        responses = asyncio.run(send_all(app, by_client(envelopes, 16)))
        assert {r.status_code for r in responses} == {201}
        indexes = sorted(r.json()["index"] for r in responses)
        assert indexes == list(range(start, start + len(envelopes)))
        again = asyncio.run(send_all(create_app(ledger, open_workers=2), [envelopes[:5]]))
        assert {r.status_code for r in again} == {200}
        assert ledger.size == start + len(envelopes)


def test_the_workers_live_as_long_as_the_app(sqlite_ledger: Ledger) -> None:
    app = create_app(sqlite_ledger, open_workers=2)
    assert app.state.opener is None  # not before the lifespan starts
    with TestClient(app) as client:
        opener = _opener(app)
        pids = opener.worker_pids()
        assert len(pids) == 2
        assert all(_alive(pid) for pid in pids)
        Story(Api(client)).register()
    assert app.state.opener is None
    assert not opener.running
    assert not any(_alive(pid) for pid in pids)


def test_a_dead_worker_falls_back_to_opening_inline(sqlite_ledger: Ledger) -> None:
    app = create_app(sqlite_ledger, open_workers=2)
    with TestClient(app) as client:
        api = Api(client)
        Story(api).register()
        opener = _opener(app)
        for pid in opener.worker_pids():
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in opener.worker_pids()) and time.monotonic() < deadline:
            time.sleep(0.05)
        r = api.post(api.sign("claim.publish", P, P, example_claim_body()))
        assert r.status_code == 201, r.text
        assert not opener.running
        r = api.post(api.sign("claim.publish", P, P, example_claim_body("report.authority")))
        assert r.status_code == 201, r.text


def test_no_workers_for_a_read_only_server_nor_below_two(sqlite_ledger: Ledger) -> None:
    for app in (
        create_app(sqlite_ledger, writable=False, open_workers=2),
        create_app(sqlite_ledger, open_workers=1),
        create_app(sqlite_ledger),
    ):
        with TestClient(app):
            assert app.state.opener is None
    with TestClient(create_app(sqlite_ledger, writable=False, open_workers=2)) as client:
        problem(Api(client).post(b"{}"), "read-only", 503)
    with pytest.raises(ValueError, match="open_workers"):
        create_app(sqlite_ledger, open_workers=-1)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        *(("CLAIMLEDGER_OPEN_WORKERS", v) for v in ("two", "-1", "1.5")),
        *(("CLAIMLEDGER_RESIDENT_ENTRIES", v) for v in ("0", "-5", "lots", "1e6")),
    ],
)
def test_a_bad_setting_stops_the_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    monkeypatch.setenv("CLAIMLEDGER_DB", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.delenv("CLAIMLEDGER_LOG_KEY", raising=False)
    monkeypatch.setenv(name, value)
    with pytest.raises(ServerConfigError, match=name):
        app_from_env()


def test_a_real_server_with_open_workers(tmp_path: Path) -> None:
    """``CLAIMLEDGER_OPEN_WORKERS=2``: the story over TCP, then a clean shutdown."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    init_bench_ledger(url).close()
    keyfile = tmp_path / "log.key"
    key(LOG_KEY).save(keyfile, PASSPHRASE.encode())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMLEDGER_")}
    env.update(
        CLAIMLEDGER_DB=url,
        CLAIMLEDGER_LOG_KEY=str(keyfile),
        CLAIMLEDGER_PASSPHRASE=PASSPHRASE,
        CLAIMLEDGER_OPEN_WORKERS="2",
        PYTHONPATH=str(REPO),
    )
    log = tmp_path / "server.log"
    proc, base = _start(env, log)
    try:
        wait_ready(proc, base, "/healthz", log)
        with httpx.Client(base_url=base, timeout=30) as http:
            api = Api(http)
            Story(api).run()
            problem(api.post(b'{"payload": '), "invalid-envelope", 400)
    finally:
        assert _stop(proc) in (0, -signal.SIGTERM)
    text = log.read_text()
    assert "Application shutdown complete" in text
    assert "Traceback" not in text
    assert "could not start" not in text


def test_a_bad_log_vkeys_setting_stops_the_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``CLAIMLEDGER_LOG_VKEYS`` (keys trusted for snapshots after a rotation) must be vkeys."""
    monkeypatch.setenv("CLAIMLEDGER_DB", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.delenv("CLAIMLEDGER_LOG_KEY", raising=False)
    monkeypatch.setenv("CLAIMLEDGER_LOG_VKEYS", "claimledger.example/log+00000000+AAAA")
    with pytest.raises(ServerConfigError, match="CLAIMLEDGER_LOG_VKEYS"):
        app_from_env()
