"""``POST /v1/entries`` under concurrency: the envelope is opened on the event loop and the
sequencer's answer is awaited there (no thread held per entry in flight), so many submissions
share the ledger's group commit and each gets its own receipt and status.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx

from api import create_app
from bench._workload import init_ledger, register_parties, signed_entries
from bench.bench_http import by_client
from ledger import Ledger

JSON = {"content-type": "application/json"}


async def _send_all(app: object, per_client: list[list[bytes]]) -> list[list[httpx.Response]]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:

        async def client(envelopes: list[bytes]) -> list[httpx.Response]:
            return [await http.post("/v1/entries", content=e, headers=JSON) for e in envelopes]

        return list(await asyncio.gather(*(client(mine) for mine in per_client)))


def test_concurrent_submissions_each_get_their_own_receipt(tmp_path: Path) -> None:
    with init_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        register_parties(ledger, 8)
        start = ledger.size
        envelopes = list(signed_entries(96, 8))
        per_client = by_client(envelopes, 8)
        out = asyncio.run(_send_all(create_app(ledger), per_client))
        indexes = []
        for responses in out:
            for r in responses:
                assert r.status_code == 201, r.text
                indexes.append(r.json()["index"])
        assert sorted(indexes) == list(range(start, start + len(envelopes)))
        assert ledger.size == start + len(envelopes)

        # Sent again, concurrently with new entries: the originals come back with 200.
        again = [[*mine[:3]] for mine in per_client]
        out = asyncio.run(_send_all(create_app(ledger), again))
        assert {r.status_code for rs in out for r in rs} == {200}
        assert ledger.size == start + len(envelopes)


def test_a_submission_waiting_for_a_busy_sequencer_leaves_the_event_loop_free(
    tmp_path: Path,
) -> None:
    """The envelope is opened on the event loop, so nothing there may wait for the ledger's
    lock, which the sequencer holds through a whole commit (``committed_size`` takes it).
    """
    with init_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        register_parties(ledger, 1)
        (envelope,) = signed_entries(1, 1)
        app = create_app(ledger)
        held, release = threading.Event(), threading.Event()

        def hold_the_lock(led: Ledger) -> None:
            with led._lock:  # as the sequencer does while it commits
                held.set()
                release.wait(5)

        holder = threading.Thread(target=hold_the_lock, args=(ledger,), daemon=True)
        holder.start()
        assert held.wait(30)

        async def scenario() -> None:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                t0 = time.monotonic()
                post = asyncio.create_task(http.post("/v1/entries", content=envelope, headers=JSON))
                for _ in range(20):
                    await asyncio.sleep(0.01)
                assert time.monotonic() - t0 < 2  # the loop ran on while the lock was held
                assert not post.done()  # the entry waits for the sequencer, not the loop
                release.set()
                r = await asyncio.wait_for(post, 30)
                assert r.status_code == 201, r.text

        try:
            asyncio.run(scenario())
        finally:
            release.set()
            holder.join(30)
