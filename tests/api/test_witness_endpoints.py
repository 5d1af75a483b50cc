"""The witness endpoints in process: ``/v1/log/checkpoint/cosigned``, ``/v1/log/witness-policy``,
the bundle at a cosigned size, and what the ledger keeps (on SQLite and PostgreSQL).

The witnesses themselves run as real processes in ``tests/cli/test_witnessing.py``; here the
cosignatures come from an in-process cosigner key, so the stored bytes can be checked exactly.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import ServerConfigError, create_app
from attest.checkpoint import Checkpoint, NoteSigner, parse_note, sign_checkpoint
from attest.cosignature import CosignerSigner, cosign
from attest.policy import QuorumError, parse_policy, verify_policy
from keys import PrivateKey
from ledger import Ledger, LedgerError
from tests.api.conftest import LOG_KEY, ORIGIN, Api, P
from tests.attest.logbuilder import key

WITNESS = CosignerSigner("witness.example/w1", PrivateKey.from_seed(bytes(range(32))))


def _policy(ledger: Ledger) -> bytes:
    return (
        f"log {ledger.note_verifier.vkey()}\n"
        f"witness w1 {WITNESS.verifier.vkey()} http://127.0.0.1:9/w1\n"
        "quorum w1\n"
    ).encode()


def _cosigned(ledger: Ledger) -> bytes:
    note = ledger.checkpoint()
    return note + cosign(note, WITNESS, 1_800_000_000)


def test_no_cosigned_checkpoint_and_no_policy_are_404_problems(api: Api) -> None:
    for path in ("/v1/log/checkpoint/cosigned", "/v1/log/witness-policy"):
        r = api.http.get(path)
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/not-found")


def test_a_kept_cosigned_checkpoint_is_served(ledger: Ledger) -> None:
    policy = _policy(ledger)
    note = _cosigned(ledger)
    assert ledger.keep_cosigned(note).size == ledger.size
    assert ledger.cosigned_checkpoint() == note
    assert ledger.cosigned_checkpoint(ledger.size) == note
    assert ledger.cosigned_checkpoint(ledger.size + 1) is None
    # Not started as a context manager: no lifespan, so no witnessing thread is run here.
    client = TestClient(create_app(ledger, witness_policy=policy))
    r = client.get("/v1/log/checkpoint/cosigned")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.content == note
    verified = verify_policy(r.content, parse_policy(policy))
    assert [name for name, _ in verified.cosigners] == ["w1"]
    r = client.get("/v1/log/witness-policy")
    assert (r.status_code, r.content) == (200, policy)
    # The plain checkpoint is the log's alone: below quorum.
    with pytest.raises(QuorumError):
        verify_policy(client.get("/v1/log/checkpoint").content, parse_policy(policy))


def test_keep_cosigned_refuses_what_is_not_this_logs(ledger: Ledger) -> None:
    other = NoteSigner(ORIGIN, key(LOG_KEY + 40))
    cp = Checkpoint(ORIGIN, ledger.size, bytes(32))
    with pytest.raises(LedgerError, match="not a checkpoint of this log"):
        ledger.keep_cosigned(sign_checkpoint(cp, other))
    signer = NoteSigner(ORIGIN, key(LOG_KEY))
    with pytest.raises(LedgerError, match="does not have this log's root"):
        ledger.keep_cosigned(sign_checkpoint(cp, signer))
    beyond = Checkpoint(ORIGIN, ledger.size + 1, bytes(32))
    with pytest.raises(LedgerError, match=r"is not in 1\.\."):
        ledger.keep_cosigned(sign_checkpoint(beyond, signer))
    assert ledger.cosigned_checkpoint() is None


def test_create_app_refuses_a_bad_policy(ledger: Ledger) -> None:
    with pytest.raises(ServerConfigError, match="invalid"):
        create_app(ledger, witness_policy=b"quorum nobody\n")
    foreign = f"log {NoteSigner(ORIGIN, key(9)).verifier.vkey()}\nquorum none\n".encode()
    with pytest.raises(ServerConfigError, match="does not list this log's key"):
        create_app(ledger, witness_policy=foreign)
    no_url = (
        f"log {ledger.note_verifier.vkey()}\nwitness w1 {WITNESS.verifier.vkey()}\nquorum w1\n"
    ).encode()
    with pytest.raises(ServerConfigError, match="no witness in the policy has a URL"):
        create_app(ledger, witness_policy=no_url)


def test_bundle_at_a_cosigned_size_carries_the_cosignatures(
    story_api: Api, sqlite_ledger: Ledger
) -> None:
    ledger = sqlite_ledger
    note = _cosigned(ledger)
    ledger.keep_cosigned(note)
    size = ledger.size
    r = story_api.http.get(f"/v1/streams/{P}/bundle", params={"size": size})
    assert r.status_code == 200, r.text
    assert json.loads(r.content)["checkpoint"].encode() == note
    # An older size without a cosigned checkpoint: the log signs one of that size.
    r = story_api.http.get(f"/v1/streams/{P}/bundle", params={"size": size - 2})
    assert r.status_code == 200
    older = json.loads(r.content)["checkpoint"].encode()
    text, lines = parse_note(older)
    assert Checkpoint.parse_body(text).size == size - 2
    assert len(lines) == 1
    r = story_api.http.get(f"/v1/streams/{P}/bundle", params={"size": size + 1})
    assert r.status_code == 400
    assert r.json()["type"].endswith("/invalid-parameter")


def test_the_cosigned_table_is_created_at_open_when_absent(tmp_path: Path) -> None:
    """A ledger written before the table existed (format 3 all the same) gains it at open."""
    from tests.ledger.actors import init_ledger

    url = f"sqlite:///{tmp_path / 'old.db'}"
    init_ledger(url).close()
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute("DROP TABLE claimledger_cosigned_checkpoints")
    with Ledger.open(url, log_key=key(LOG_KEY)) as led:
        assert led.cosigned_checkpoint() is None
        note = _cosigned(led)
        led.keep_cosigned(note)
    with Ledger.open(url) as led:
        assert led.cosigned_checkpoint() == note
