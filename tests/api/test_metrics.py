"""``GET /metrics``: submissions by outcome, HTTP latency by route template, the sequencer's
batches, checkpoint size and age, witness lag; one registry per application
(docs/operating/monitoring.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api import create_app
from attest.policy import parse_policy
from attest.statements import REGISTRY_STREAM
from ledger import Ledger, Witnessing
from tests.api.conftest import KEYS, Api, P, Story, init_ledger
from tests.api.test_witness_endpoints import _cosigned, _policy
from tests.attest.examples import AUTHORITY, example_claim_body, example_party_register_body
from tests.ledger.actors import envelope

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(http: Any) -> Samples:
    """Every sample of ``/metrics`` by (name, sorted labels)."""
    r = http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def appends(samples: Samples, outcome: str) -> float:
    return samples.get(("claimledger_appends_total", (("outcome", outcome),)), 0.0)


def requests(samples: Samples, method: str, route: str, status: int) -> float:
    labels = (("method", method), ("route", route), ("status", str(status)))
    return samples.get(("claimledger_http_request_duration_seconds_count", labels), 0.0)


def test_submissions_are_counted_by_outcome_and_requests_by_route(sqlite_ledger: Ledger) -> None:
    with TestClient(create_app(sqlite_ledger)) as client:
        api = Api(client)
        Story(api).run()  # 8 entries appended
        claim = api.sign("claim.publish", P, P, example_claim_body())
        assert api.post(claim).status_code == 201
        assert api.post(claim).status_code == 200  # the same entry again: a repeat
        stale = api.sign("claim.publish", P, P, example_claim_body(), prev="0" * 64)
        assert api.post(stale).status_code == 409
        assert api.post(b'{"payload": ').status_code == 400
        big = client.post(
            "/v1/entries", content=b"x" * 300_000, headers={"content-type": "application/json"}
        )
        assert big.status_code == 413  # refused by the body-limit middleware
        batch = b"[" + api.sign("claim.publish", P, P, example_claim_body()) + b", {}]"
        r = client.post(
            "/v1/entries:batch", content=batch, headers={"content-type": "application/json"}
        )
        assert (r.json()["accepted"], r.json()["rejected"]) == (1, 1)
        assert client.get(f"/v1/streams/{P}").status_code == 200
        assert client.get("/no/such/thing").status_code == 404
        assert client.get("/v1/streams/nobody-here").status_code == 404
        size = client.get("/healthz").json()["size"]
        m = scrape(client)

    assert appends(m, "accepted") == 8 + 1 + 1
    assert appends(m, "repeat") == 1
    assert appends(m, "chain-conflict") == 1
    assert appends(m, "invalid-envelope") == 2  # one single submission, one batch item
    assert appends(m, "too-large") == 1
    assert appends(m, "not-found") == 0  # a 404 of a read is not a submission

    assert requests(m, "POST", "/v1/entries", 201) == 9
    assert requests(m, "POST", "/v1/entries", 409) == 1
    assert requests(m, "POST", "/v1/entries", 413) == 1
    # (the client reads stream heads before it signs: more GETs than the two above)
    assert requests(m, "GET", "/v1/streams/{stream}", 200) >= 1
    assert requests(m, "GET", "/v1/streams/{stream}", 404) >= 1
    assert requests(m, "GET", "<unmatched>", 404) == 1
    routes = {
        dict(labels).get("route") for (name, labels) in m if name.startswith("claimledger_http")
    }
    assert not any(P in str(route) or "nobody" in str(route) for route in routes)

    # Every single submission that reached the sequencer went through one of its batches.
    assert m[("claimledger_sequencer_batch_entries_sum", ())] >= 8 + 1 + 1 + 1
    assert m[("claimledger_sequencer_batch_seconds_count", ())] >= 1
    assert m[("claimledger_sequencer_batch_seconds_sum", ())] > 0
    assert m[("claimledger_checkpoint_size", ())] == size == 1 + 8 + 1 + 1
    assert 0 <= m[("claimledger_checkpoint_age_seconds", ())] < 60
    assert m[("claimledger_ledger_open", ())] == 1
    assert m[("claimledger_writable", ())] == 1
    assert ("process_resident_memory_bytes", ()) in m
    assert ("claimledger_witness_lag_seconds", ()) not in m  # no witness policy


def test_each_application_counts_apart(sqlite_ledger: Ledger) -> None:
    first, second = create_app(sqlite_ledger), create_app(sqlite_ledger)
    with TestClient(first) as one, TestClient(second) as two:
        Api(one).submit(
            "party.register",
            REGISTRY_STREAM,
            AUTHORITY,
            example_party_register_body(P, "provider", keys=[KEYS[P]]),
        )
        assert appends(scrape(one), "accepted") == 1
        assert appends(scrape(two), "accepted") == 0
        # Its own first scrape only (a request is counted once answered).
        assert requests(scrape(two), "GET", "/metrics", 200) == 1


def test_witness_lag_is_the_age_of_the_oldest_entry_not_yet_cosigned(ledger: Ledger) -> None:
    policy = _policy(ledger)
    ledger.keep_cosigned(_cosigned(ledger))  # size 1 cosigned
    app = create_app(ledger, witness_policy=policy)
    witnessing = Witnessing(ledger, parse_policy(policy))  # not started: nothing is sent
    try:
        app.state.witnessing = witnessing
        client = TestClient(app)  # no lifespan: no witnessing thread of its own
        m = scrape(client)
        assert m[("claimledger_witness_cosigned_size", ())] == 1
        assert m[("claimledger_witness_lag_entries", ())] == 0
        assert m[("claimledger_witness_lag_seconds", ())] == 0
        url = (("witness", "http://127.0.0.1:9/w1"),)
        assert m[("claimledger_witness_failures", url)] == 0
        before = time.time()
        Api(client).submit(
            "party.register",
            REGISTRY_STREAM,
            AUTHORITY,
            example_party_register_body(P, "provider", keys=[KEYS[P]]),
        )
        time.sleep(0.3)
        m = scrape(client)
        assert m[("claimledger_witness_lag_entries", ())] == 1
        lag = m[("claimledger_witness_lag_seconds", ())]
        assert 0.25 <= lag <= time.time() - before + 1  # log times are whole milliseconds
    finally:
        witnessing.close()


def test_follower_gauges_show_what_another_process_appended(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with init_ledger(url) as writer, Ledger.open(url) as reader:
        app = create_app(reader, follow_s=0.02)
        with TestClient(app) as client:  # the lifespan runs the follower
            m = scrape(client)
            assert m[("claimledger_follower_behind_entries", ())] == 0
            assert m[("claimledger_follower_stopped", ())] == 0
            assert m[("claimledger_follower_entries", ())] == 0
            assert ("claimledger_follower_lag_seconds", ()) not in m  # nothing read yet
            body = example_party_register_body(P, "provider", keys=[KEYS[P]])
            writer.submit(envelope(writer, "party.register", REGISTRY_STREAM, AUTHORITY, body))
            deadline = time.monotonic() + 10
            m = scrape(client)
            # The follower counts just after its read has grown the reader's size, and a scrape
            # reads the gauges one by one while it runs: wait for a scrape that saw it all.
            lag = ("claimledger_follower_lag_seconds", ())
            while time.monotonic() < deadline and (
                m[("claimledger_follower_entries", ())] < 1 or lag not in m
            ):
                time.sleep(0.02)
                m = scrape(client)
            assert m[("claimledger_follower_entries", ())] == 1
            assert m[("claimledger_follower_behind_entries", ())] == 0
            assert m[("claimledger_follower_lag_seconds", ())] >= 0
            assert m[("claimledger_follower_seconds_since_current", ())] < 10
