"""``GET /v1/log/proof/state``: what a sparse client needs to know a record is whole (SPEC §11)."""

from __future__ import annotations

import pytest

from attest.checkpoint import NoteVerifier, verify_checkpoint
from attest.completeness import RecordKind, StateProof, verify_state
from attest.errors import ProofError
from attest.statemap import Record
from tests.api.conftest import Api, P, Q, Story, V
from tests.attest.examples import AUTHORITY


def _verified(api: Api, size: int, query: str) -> dict[tuple[RecordKind, str], Record | None]:
    http = api.http
    vkey = http.get("/v1/log/key").text.strip()
    note = http.get("/v1/log/checkpoint").content
    cp = verify_checkpoint(note, NoteVerifier.from_vkey(vkey))
    assert cp.size == size
    r = http.get(f"/v1/log/proof/state?size={size}&{query}")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    return verify_state(cp, StateProof.from_dict(r.json()))


def test_a_state_proof_shows_heads_records_and_absences(api: Api) -> None:
    Story(api).run()
    size = api.size()
    got = _verified(api, size, f"stream={P}&stream={Q}&party={V}&party={AUTHORITY}&party=nobody")
    p_stream = got[("stream", P)]
    assert p_stream is not None
    assert p_stream.count == 4
    assert p_stream.last_index == size - 1
    assert got[("stream", Q)] is None  # registered, but no entry yet: provably none
    v = got[("party", V)]
    assert v is not None
    assert v.count == 2  # registration, accreditation
    assert got[("party", "nobody")] is None


def test_a_state_proof_for_an_older_size_does_not_verify_against_the_newest_checkpoint(
    api: Api,
) -> None:
    Story(api).run()
    size = api.size()
    r = api.http.get(f"/v1/log/proof/state?size={size - 1}&stream={P}")
    assert r.status_code == 200
    note = api.http.get("/v1/log/checkpoint").content
    vkey = api.http.get("/v1/log/key").text.strip()
    cp = verify_checkpoint(note, NoteVerifier.from_vkey(vkey))
    with pytest.raises(ProofError, match="not the last index"):
        verify_state(cp, StateProof.from_dict(r.json()))


@pytest.mark.parametrize(
    "query",
    ["size=99&stream=acme-social", "size=2", "size=2&stream=Not_An_Id", "size=0&party=x1"],
)
def test_bad_state_proof_requests_are_problems(api: Api, query: str) -> None:
    Story(api).register()
    r = api.http.get(f"/v1/log/proof/state?{query}")
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
