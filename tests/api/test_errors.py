"""Bad input gets its specific problem type, as application/problem+json, and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.deps import get_ledger
from attest.canonical import encode
from attest.dsse import sign_envelope
from attest.statements import REGISTRY_STREAM
from ledger import Ledger
from tests.api.conftest import KEYS, Api, P, Q, Response, Story
from tests.attest.examples import (
    AUTHORITY,
    example_claim_body,
    example_dump_publish_body,
    example_key_add_body,
    example_key_revoke_body,
    example_reference_publish_body,
    example_test_record_body,
)
from tests.attest.logbuilder import key

PROBLEM = "application/problem+json"


def problem(r: Response, name: str, status: int) -> dict[str, Any]:
    """Assert ``r`` is the problem ``name`` with ``status``; return the problem object."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["type"] == f"https://claimledger.dev/problems/{name}"
    assert body["status"] == status
    assert body["title"]
    assert "Traceback" not in r.text
    return body


@pytest.fixture
def registered(api: Api) -> Api:
    """Providers P and Q and verifier V registered, V accredited."""
    Story(api).register()
    return api


def _flip_sig(env: bytes) -> bytes:
    obj = json.loads(env)
    sig = obj["signatures"][0]["sig"]
    obj["signatures"][0]["sig"] = ("B" if sig[0] == "A" else "A") + sig[1:]
    return json.dumps(obj).encode()


def _non_canonical(api: Api) -> bytes:
    statement = json.loads(encode(_statement(api, "claim.publish", P, P, example_claim_body())))
    payload = json.dumps(statement, indent=1).encode()  # valid JSON, not the canonical form
    return sign_envelope(payload, key(KEYS[P])).to_bytes()


def _statement(api: Api, kind: str, stream: str, signer: str, body: Any) -> dict[str, Any]:
    env = json.loads(api.sign(kind, stream, signer, body))
    import base64

    statement: dict[str, Any] = json.loads(base64.b64decode(env["payload"]))
    return statement


def _revoked(api: Api) -> bytes:
    """P's key 3 is revoked (P gets key 4 first); then P signs with key 3."""
    api.submit("key.add", REGISTRY_STREAM, AUTHORITY, example_key_add_body(P, 4))
    keyid = str(key(3).public_key.key_id)
    api.submit("key.revoke", REGISTRY_STREAM, AUTHORITY, example_key_revoke_body(P, keyid))
    return api.sign("claim.publish", P, P, example_claim_body(), key_no=3)


CASES: dict[str, tuple[Callable[[Api], bytes], str, int]] = {
    "malformed JSON": (lambda a: b'{"payload": ', "invalid-envelope", 400),
    "not an object": (lambda a: b"[1, 2]", "invalid-envelope", 400),
    "nested too deeply": (lambda a: b"[" * 50_000 + b"]" * 50_000, "invalid-envelope", 400),
    "bad base64": (
        lambda a: json.dumps(
            {
                "payload": "not*base64",
                "payloadType": "application/vnd.claimledger.statement.v1+json",
                "signatures": [{"keyid": "0" * 64, "sig": "A" * 88}],
            }
        ).encode(),
        "invalid-envelope",
        400,
    ),
    "wrong signature": (
        lambda a: _flip_sig(a.sign("claim.publish", P, P, example_claim_body())),
        "bad-signature",
        422,
    ),
    "non-canonical payload": (_non_canonical, "non-canonical-payload", 400),
    "unknown key": (
        lambda a: a.sign("claim.publish", P, P, example_claim_body(), key_no=9),
        "unknown-key",
        422,
    ),
    "revoked key": (_revoked, "revoked-key", 403),
    "provider signs for another company": (
        lambda a: a.sign("claim.publish", Q, P, example_claim_body()),
        "not-authorised",
        403,
    ),
    "unknown field": (
        lambda a: a.sign("claim.publish", P, P, {**example_claim_body(), "colour": "red"}),
        "schema-error",
        422,
    ),
    "a provider logs a reference table": (
        lambda a: a.sign("reference.publish", REGISTRY_STREAM, P, example_reference_publish_body()),
        "not-authorised",
        403,
    ),
    "a verifier logs an open-data dump": (
        lambda a: a.sign(
            "dump.publish", REGISTRY_STREAM, "safecheck-labs", example_dump_publish_body()
        ),
        "not-authorised",
        403,
    ),
    "dangling reference": (
        lambda a: a.sign("test.record", P, "safecheck-labs", example_test_record_body("ab" * 32)),
        "dangling-reference",
        422,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_envelope_is_refused_with_its_problem_and_nothing_is_written(
    registered: Api, case: str
) -> None:
    make, name, status = CASES[case]
    env = make(registered)
    size = registered.size()
    body = problem(registered.post(env), name, status)
    assert registered.size() == size
    if name == "schema-error":
        assert any(e["pointer"].endswith("/colour") for e in body["errors"])
    if case.startswith("a provider logs"):
        assert "only the authority may sign reference.publish, not " + P in body["detail"]
    if case.startswith("a verifier logs"):
        assert "only the authority may sign dump.publish, not safecheck-labs" in body["detail"]
    # A batch carrying the same envelope reports the same problem for it.
    r = registered.http.post(
        "/v1/entries:batch", content=env + b"\n", headers={"content-type": "application/x-ndjson"}
    )
    assert r.status_code == 200
    (result,) = r.json()["results"]
    assert result["status"] == status
    assert result["problem"]["type"].endswith("/" + name)
    assert registered.size() == size


def test_stale_prev_is_a_conflict_naming_the_current_head(registered: Api) -> None:
    api = registered
    old_head = api.head(P)
    api.submit("claim.publish", P, P, example_claim_body())
    size = api.size()
    stale = api.sign("claim.publish", P, P, example_claim_body("report.authority"), prev=old_head)
    body = problem(api.post(stale), "chain-conflict", 409)
    assert body["head"] == api.head(P)
    assert body["length"] == 1
    assert api.size() == size


def test_a_schema_error_lists_every_problem(registered: Api) -> None:
    """Issue 15: not "(and 2 more problem(s))": the errors member and the detail name them all."""
    body = {**example_claim_body(), "colour": "red", "status": "maybe"}
    del body["services"]
    got = problem(
        registered.post(registered.sign("claim.publish", P, P, body)), "schema-error", 422
    )
    pointers = {e["pointer"] for e in got["errors"]}
    assert pointers == {"/body/colour", "/body/status", "/body/services"}
    assert got["detail"].startswith("3 problems: ")
    for e in got["errors"]:
        assert f"{e['pointer']}: {e['detail']}" in got["detail"]


def test_oversized_body_is_refused_before_it_is_read(sqlite_ledger: Ledger) -> None:
    with TestClient(create_app(sqlite_ledger, max_body_bytes=1000, max_batch_bytes=2000)) as c:
        api = Api(c)
        size = api.size()
        big = b'{"payload": "' + b"A" * 5000 + b'"}'
        problem(api.post(big), "too-large", 413)

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
            for _ in range(10):
                yield b"A" * 500

        r = c.post("/v1/entries", content=chunks(), headers={"content-type": "application/json"})
        problem(r, "too-large", 413)
        r = c.post(
            "/v1/entries:batch",
            content=b"[" + b" " * 3000 + b"]",
            headers={"content-type": "application/json"},
        )
        problem(r, "too-large", 413)
        # Under the batch limit, the same body is fine.
        r = c.post(
            "/v1/entries:batch",
            content=b"[" + b" " * 1500 + b"]",
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 200
        assert api.size() == size


def test_default_limit_is_the_envelope_limit(sqlite_api: Api) -> None:
    big = b"{" + b" " * (256 * 1024) + b"}"
    problem(sqlite_api.post(big), "too-large", 413)


def test_batch_limits_and_shape(sqlite_ledger: Ledger) -> None:
    with TestClient(create_app(sqlite_ledger, max_batch=2)) as c:
        lines = b"{}\n{}\n{}\n"
        ndjson = {"content-type": "application/x-ndjson"}
        problem(c.post("/v1/entries:batch", content=lines, headers=ndjson), "too-large", 413)
        as_json = {"content-type": "application/json"}
        problem(
            c.post("/v1/entries:batch", content=b"{}", headers=as_json), "invalid-envelope", 400
        )
        problem(
            c.post("/v1/entries:batch", content=b"[{}", headers=as_json), "invalid-envelope", 400
        )
        problem(
            c.post("/v1/entries:batch", content=b"[]", headers={"content-type": "text/plain"}),
            "unsupported-media-type",
            415,
        )
        r = c.post("/v1/entries:batch", content=b" [ ] ", headers=as_json)
        assert r.json() == {"accepted": 0, "rejected": 0, "results": []}
        # Bodies of a few MiB pass (nothing below the batch limit cuts them short).
        r = c.post("/v1/entries:batch", content=b"\n" * (3 << 20), headers=ndjson)
        assert r.json() == {"accepted": 0, "rejected": 0, "results": []}


def test_wrong_content_type(sqlite_api: Api) -> None:
    r = sqlite_api.http.post("/v1/entries", content=b"{}", headers={"content-type": "text/plain"})
    problem(r, "unsupported-media-type", 415)


def test_read_only_server_refuses_writes_and_says_why(sqlite_ledger: Ledger) -> None:
    with TestClient(create_app(sqlite_ledger, writable=False)) as c:
        body = problem(
            c.post("/v1/entries", content=b"{}", headers={"content-type": "application/json"}),
            "read-only",
            503,
        )
        assert "CLAIMLEDGER_LOG_KEY" in body["detail"]
        problem(c.post("/v1/entries:batch", content=b"[]"), "read-only", 503)
        # It still serves the newest checkpoint the log published (kept in the database).
        assert c.get("/v1/log/checkpoint").text == sqlite_ledger.checkpoint().decode()
        assert c.get("/v1/log/entries").status_code == 200
        assert c.get("/healthz").json()["writable"] is False


@pytest.mark.parametrize(
    ("method", "url", "name", "status"),
    [
        ("GET", "/nowhere", "not-found", 404),
        ("GET", "/v1/streams/nobody", "not-found", 404),
        ("GET", "/v1/streams/nobody/entries", "not-found", 404),
        ("GET", "/v1/streams/nobody/state", "not-found", 404),
        ("GET", "/v1/streams/nobody/bundle", "not-found", 404),
        ("GET", f"/v1/streams/{REGISTRY_STREAM}/bundle", "not-found", 404),
        ("GET", "/v1/parties/nobody", "not-found", 404),
        ("GET", "/v1/entries/999", "not-found", 404),
        ("GET", "/v1/entries/999/receipt", "not-found", 404),
        ("DELETE", "/v1/entries", "method-not-allowed", 405),
        ("PUT", "/v1/log/checkpoint", "method-not-allowed", 405),
        ("GET", "/v1/entries/-1", "invalid-parameter", 400),
        ("GET", "/v1/entries/abc", "invalid-parameter", 400),
        ("GET", "/v1/log/proof/inclusion?index=0", "invalid-parameter", 400),
        ("GET", "/v1/log/proof/inclusion?index=x&size=1", "invalid-parameter", 400),
        ("GET", "/v1/log/proof/inclusion?index=5&size=99", "invalid-parameter", 400),
        ("GET", "/v1/log/proof/inclusion?index=1&size=1", "invalid-parameter", 400),
        ("GET", "/v1/log/proof/consistency?from=0&to=1", "invalid-parameter", 400),
        ("GET", "/v1/log/proof/consistency?from=3&to=2", "invalid-parameter", 400),
        ("GET", "/v1/log/proof/consistency?from=1&to=99", "invalid-parameter", 400),
        ("GET", "/v1/log/entries?start=5&end=2", "invalid-parameter", 400),
        ("GET", "/v1/log/entries?start=-1", "invalid-parameter", 400),
        ("GET", f"/v1/streams/{REGISTRY_STREAM}/entries?limit=0", "invalid-parameter", 400),
        ("GET", f"/v1/streams/{REGISTRY_STREAM}/entries?limit=5000", "invalid-parameter", 400),
        ("GET", f"/v1/streams/{REGISTRY_STREAM}/entries?as_of=yesterday", "invalid-parameter", 400),
        (
            "GET",
            f"/v1/streams/{REGISTRY_STREAM}/entries?as_of=2026-01-01",
            "invalid-parameter",
            400,
        ),
        (
            "GET",
            f"/v1/streams/{REGISTRY_STREAM}/entries?as_of=2026-01-01T00:00:00Z&size=1",
            "invalid-parameter",
            400,
        ),
        ("GET", f"/v1/streams/{REGISTRY_STREAM}/state?size=99", "invalid-parameter", 400),
        (
            "GET",
            f"/v1/streams/{REGISTRY_STREAM}/state?as_of=9999-12-31T23:59:59-23:59",
            "invalid-parameter",
            400,
        ),
        ("GET", "/v1/scorecard?at=soon", "invalid-parameter", 400),
        ("GET", "/v1/scorecard?size=0", "invalid-parameter", 400),
        ("GET", "/v1/search?limit=0", "invalid-parameter", 400),
        ("GET", "/v1/search?after=-3", "invalid-parameter", 400),
    ],
)
def test_bad_requests_get_problems(
    sqlite_api: Api, method: str, url: str, name: str, status: int
) -> None:
    body = problem(sqlite_api.http.request(method, url), name, status)
    if name == "invalid-parameter":
        assert body["errors"]
    if status == 405:
        assert "allow" in {k.lower() for k in sqlite_api.http.request(method, url).headers}


def test_unexpected_errors_are_a_bare_500(sqlite_ledger: Ledger) -> None:
    class Broken:
        def head(self, stream: str) -> None:
            raise RuntimeError("secret internals")

    app = create_app(sqlite_ledger)
    app.dependency_overrides[get_ledger] = Broken
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get(f"/v1/streams/{REGISTRY_STREAM}")
        body = problem(r, "internal-error", 500)
        assert "secret" not in r.text
        assert "detail" not in body


@pytest.mark.parametrize(
    "url",
    [
        f"/v1/streams/{P}/entries?start={2**63 - 1}&limit=1000",
        f"/v1/log/entries?start={2**63 - 1}",
        f"/v1/log/entries?start=0&end={2**63 - 1}",
        f"/v1/search?after={2**63 - 1}",
    ],
)
def test_positions_past_int64_read_as_empty_pages_not_a_500(registered: Api, url: str) -> None:
    r = registered.http.get(url)
    assert r.status_code == 200, r.text
