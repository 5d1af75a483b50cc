"""The story through the API, on SQLite and PostgreSQL: write as the parties, read and verify as the
public, with ``attest`` on the raw bytes only (never the server's opinion).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from attest.checkpoint import Checkpoint, NoteVerifier, verify_checkpoint
from attest.dsse import Envelope
from attest.entry import LogEntry, entry_hash, leaf_data
from attest.merkle import leaf_hash, verify_consistency, verify_inclusion
from attest.statements import REGISTRY_STREAM
from attest.verify import LogVerifier
from tests.api.conftest import Api, P, Story, V


def ndjson(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in text.splitlines() if line]


def raw(e: dict[str, Any]) -> LogEntry:
    """A served raw entry, with its state root: the verifier compares it with its own."""
    return LogEntry(
        e["index"],
        e["stream"],
        e["position"],
        e["logTimeMs"],
        e["envelope"].encode("ascii"),
        bytes.fromhex(e["stateRoot"]),
    )


def checkpoint(api: Api) -> tuple[bytes, Checkpoint]:
    r = api.http.get("/v1/log/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    vkey = api.http.get("/v1/log/key").text.strip()
    return r.content, verify_checkpoint(r.content, NoteVerifier.from_vkey(vkey))


def leaf(e: dict[str, Any]) -> bytes:
    """The leaf hash of a served raw entry, with the state root it serves (SPEC §6.1)."""
    env = Envelope.parse_stored(e["envelope"].encode("ascii"))
    return leaf_hash(
        leaf_data(
            e["index"],
            e["stream"],
            e["position"],
            e["logTimeMs"],
            entry_hash(env),
            bytes.fromhex(e["stateRoot"]),
        )
    )


def test_story_is_written_read_and_verified_client_side(api: Api) -> None:
    story = Story(api)
    story.register()
    _, first = checkpoint(api)
    story.claim = api.submit("claim.publish", P, P, _claim_body())
    _rest(story)

    # The company's record, as NDJSON, in position order.
    r = api.http.get(f"/v1/streams/{P}/entries")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    entries = ndjson(r.text)
    assert [e["position"] for e in entries] == [0, 1, 2, 3]
    kinds = [orjson.loads(Envelope.parse(e["envelope"].encode()).payload)["kind"] for e in entries]
    assert kinds == ["claim.publish", "test.record", "verdict.issue", "provider.reply"]

    # Every entry is in the checkpoint's tree: inclusion proofs against the signed root.
    note, cp = checkpoint(api)
    assert cp.size == api.size() == 9
    for e in entries:
        proof = api.http.get(
            "/v1/log/proof/inclusion", params={"index": e["index"], "size": cp.size}
        ).json()
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        verify_inclusion(leaf(e), e["index"], cp.size, hashes, cp.root)

    # The new checkpoint extends the one seen before the claims (no fork, no rollback).
    proof = api.http.get(
        "/v1/log/proof/consistency", params={"from": first.size, "to": cp.size}
    ).json()
    hashes = [base64.b64decode(h) for h in proof["hashes"]]
    verify_consistency(first.size, cp.size, hashes, first.root, cp.root)

    # The whole log replays under the rules and matches the checkpoint.
    log = ndjson(api.http.get("/v1/log/entries", params={"start": 0, "end": cp.size}).text)
    verifier = LogVerifier()
    for e in log:
        verifier.feed(raw(e))
    verified = verifier.finish(note)
    assert verified.checkpoint.size == 9
    info = api.http.get("/v1/log").json()
    assert info["genesisHash"] == verified.genesis_hash.hex()

    # The views agree with what was written.
    state = api.http.get(f"/v1/streams/{P}/state").json()
    assert state["length"] == 4
    parties = {p["id"] for p in api.http.get("/v1/parties").json()["parties"]}
    assert {P, V} <= parties
    assert api.http.get(f"/v1/parties/{V}").status_code == 200
    found = api.http.get("/v1/search", params={"company": P, "kind": "verdict.issue"}).json()
    assert [f["index"] for f in found["results"]] == [entries[2]["index"]]
    card = api.http.get("/v1/scorecard")
    assert card.status_code == 200


def _claim_body() -> dict[str, Any]:
    from tests.attest.examples import example_claim_body

    return example_claim_body()


def _rest(story: Story) -> None:
    from tests.attest.examples import (
        example_provider_reply_body,
        example_test_record_body,
        example_verdict_body,
    )

    api = story.api
    story.test = api.submit("test.record", P, V, example_test_record_body(story.claim))
    story.verdict = api.submit(
        "verdict.issue", P, V, example_verdict_body(story.claim, [story.test])
    )
    api.submit("provider.reply", P, P, example_provider_reply_body(story.verdict))


def test_receipt_proves_inclusion_and_location_names_the_entry(api: Api) -> None:
    Story(api).register()
    env = api.sign("claim.publish", P, P, _claim_body())
    r = api.post(env)
    assert r.status_code == 201
    receipt = r.json()
    assert r.headers["location"] == f"/v1/entries/{receipt['index']}"
    entry = api.http.get(r.headers["location"])
    assert entry.status_code == 200
    e = entry.json()
    assert (e["stream"], e["position"]) == (P, 0)
    cp = verify_checkpoint(
        receipt["checkpoint"].encode(),
        NoteVerifier.from_vkey(api.http.get("/v1/log/key").text.strip()),
    )
    assert cp.size == receipt["treeSize"]
    hashes = [base64.b64decode(h) for h in receipt["inclusionProof"]]
    verify_inclusion(leaf(e), receipt["index"], cp.size, hashes, cp.root)
    again = api.http.get(f"/v1/entries/{receipt['index']}/receipt").json()
    assert again["entryHash"] == receipt["entryHash"]


def test_replayed_envelope_returns_the_original_receipt(api: Api) -> None:
    Story(api).register()
    env = api.sign("claim.publish", P, P, _claim_body())
    first = api.post(env)
    assert first.status_code == 201
    size = api.size()
    again = api.post(env)
    assert again.status_code == 200
    assert again.json()["index"] == first.json()["index"]
    assert again.json()["entryHash"] == first.json()["entryHash"]
    assert api.size() == size


def test_batch_json_array_and_ndjson(api: Api) -> None:
    story = Story(api)
    story.register()
    a = api.sign("claim.publish", P, P, _claim_body())
    bad = b'{"payload": "!!", "payloadType": "x", "signatures": []}'
    r = api.http.post(
        "/v1/entries:batch",
        content=b"[" + a + b", " + bad + b"]",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["rejected"]) == (1, 1)
    assert out["results"][0]["status"] == 201
    assert out["results"][1]["problem"]["type"].endswith("/invalid-envelope")
    # NDJSON: the same envelope again (200) and a stale one (409 with the head).
    stale = api.sign("claim.publish", P, P, _claim_body(), prev="00" * 32)
    r = api.http.post(
        "/v1/entries:batch",
        content=a + b"\n" + stale + b"\n",
        headers={"content-type": "application/x-ndjson"},
    )
    results = r.json()["results"]
    assert [x["status"] for x in results] == [200, 409]
    assert results[1]["problem"]["head"] == api.head(P)
    assert results[1]["problem"]["length"] == 1


def test_stream_entries_pages_and_history_cuts(api: Api) -> None:
    Story(api).run()
    page = api.http.get(f"/v1/streams/{P}/entries", params={"start": 1, "limit": 2})
    assert [e["position"] for e in ndjson(page.text)] == [1, 2]
    assert 'rel="next"' in page.headers["link"]
    assert "start=3" in page.headers["link"]
    entries = ndjson(api.http.get(f"/v1/streams/{P}/entries").text)
    cut = entries[2]["index"]
    by_size = api.http.get(f"/v1/streams/{P}/entries", params={"size": cut})
    assert [e["position"] for e in ndjson(by_size.text)] == [0, 1]
    state = api.http.get(f"/v1/streams/{P}/state", params={"size": cut}).json()
    assert state["length"] == 2
    registry = ndjson(api.http.get(f"/v1/streams/{REGISTRY_STREAM}/entries").text)
    assert registry[0]["index"] == 0
    early = api.http.get(f"/v1/streams/{P}/entries", params={"as_of": "2000-01-01T00:00:00Z"})
    assert early.status_code == 200
    assert early.text == ""


def test_bundle_downloads(api: Api) -> None:
    Story(api).run()
    r = api.http.get(f"/v1/streams/{P}/bundle")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert "attachment" in r.headers["content-disposition"]
    assert orjson.loads(r.content)
