"""API test fixtures: a real ledger (SQLite file or PostgreSQL schema) behind the app, and a client
that signs statements against the heads the server reports, as a real provider or verifier would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient

from api import create_app
from attest.build import make_statement
from attest.canonical import encode
from attest.dsse import Envelope, sign_envelope
from attest.entry import genesis_prev
from attest.statements import REGISTRY_STREAM, format_timestamp
from ledger import Ledger, system_clock
from tests.attest.examples import (
    AUTHORITY,
    example_accreditation_grant_body,
    example_claim_body,
    example_party_register_body,
    example_provider_reply_body,
    example_test_record_body,
    example_verdict_body,
)
from tests.attest.logbuilder import LOG_KEY, key
from tests.ledger.actors import KEYS, ORIGIN, P, Q, V, init_ledger
from tests.ledger.conftest import pg_schema, store_url

__all__ = [
    "KEYS",
    "LOG_KEY",
    "ORIGIN",
    "Api",
    "P",
    "Q",
    "Story",
    "V",
    "init_ledger",
    "pg_schema",
    "store_url",
]

# The API is reached through starlette's TestClient, an httpx2 client (starlette deprecated its
# httpx fallback), or, against a real server, through httpx, the client the CLI itself uses.
Http = httpx.Client | httpx2.Client
Response = httpx.Response | httpx2.Response


def digest(envelope: bytes) -> str:
    """The statement digest (SPEC §3.4) of an envelope: SHA-256 of its payload, hex."""
    return hashlib.sha256(Envelope.parse(envelope).payload).hexdigest()


class Api:
    """An HTTP client of the API (``TestClient`` or ``httpx.Client``) with signing helpers."""

    def __init__(self, http: Http) -> None:
        self.http = http

    def head(self, stream: str) -> str:
        r = self.http.get(f"/v1/streams/{stream}")
        if r.status_code == 404:
            return genesis_prev(stream)
        assert r.status_code == 200, r.text
        head: str = r.json()["head"]
        return head

    def size(self) -> int:
        size: int = self.http.get("/healthz").json()["size"]
        return size

    def sign(
        self,
        kind: str,
        stream: str,
        signer: str,
        body: dict[str, Any],
        *,
        key_no: int | None = None,
        prev: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> bytes:
        """Sign a statement on top of the head the server reports (no schema check here)."""
        statement: dict[str, Any] = dict(
            make_statement(
                kind=kind,
                stream=stream,
                prev=self.head(stream) if prev is None else prev,
                signer=signer,
                signed_at=format_timestamp(system_clock()),
                body=body,
            )
        )
        statement.update(extra or {})
        k = key(KEYS[signer] if key_no is None else key_no)
        return sign_envelope(encode(statement), k).to_bytes()

    def post(self, envelope: bytes) -> Response:
        return self.http.post(
            "/v1/entries", content=envelope, headers={"content-type": "application/json"}
        )

    def submit(self, kind: str, stream: str, signer: str, body: dict[str, Any], **kw: Any) -> str:
        """Sign and submit; expects ``201``; returns the statement digest."""
        env = self.sign(kind, stream, signer, body, **kw)
        r = self.post(env)
        assert r.status_code == 201, r.text
        return digest(env)


class Story:
    """The provider -> verifier -> public story, through the API."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.claim = ""
        self.test = ""
        self.verdict = ""

    def register(self) -> None:
        """The authority registers ``P``, ``Q`` (providers) and ``V`` (verifier) and accredits V."""
        for party, role in ((P, "provider"), (Q, "provider"), (V, "verifier")):
            body = example_party_register_body(party, role, keys=[KEYS[party]])
            self.api.submit("party.register", REGISTRY_STREAM, AUTHORITY, body)
        body = example_accreditation_grant_body(V)
        self.api.submit("accreditation.grant", REGISTRY_STREAM, AUTHORITY, body)

    def run(self) -> Story:
        """Register, then a claim by P, a test and a verdict by V, and P's reply."""
        self.register()
        self.claim = self.api.submit("claim.publish", P, P, example_claim_body())
        self.test = self.api.submit("test.record", P, V, example_test_record_body(self.claim))
        self.verdict = self.api.submit(
            "verdict.issue", P, V, example_verdict_body(self.claim, [self.test])
        )
        self.api.submit("provider.reply", P, P, example_provider_reply_body(self.verdict))
        return self


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    """A new ledger (genesis only) on SQLite or PostgreSQL."""
    led = init_ledger(store_url)
    try:
        yield led
    finally:
        led.close()


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A new ledger (genesis only) on a SQLite file."""
    led = init_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        yield led
    finally:
        led.close()


@pytest.fixture
def api(ledger: Ledger) -> Iterator[Api]:
    """A client of the app over ``ledger`` (both databases)."""
    with TestClient(create_app(ledger)) as client:
        yield Api(client)


@pytest.fixture
def sqlite_api(sqlite_ledger: Ledger) -> Iterator[Api]:
    """A client of the app over a SQLite ledger."""
    with TestClient(create_app(sqlite_ledger)) as client:
        yield Api(client)


@pytest.fixture
def story_api(sqlite_api: Api) -> Api:
    """A SQLite-backed app where the whole story has been told."""
    Story(sqlite_api).run()
    return sqlite_api
