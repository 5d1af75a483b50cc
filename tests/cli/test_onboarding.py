"""Onboarding in two commands: ``onboard request`` (the new provider) and ``register
--from-request`` (the authority), with the proof of possession checked (issue 15)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from attest.registration import verify_registration_request
from ledger import Ledger
from tests.cli.conftest import AUTHORITY, World, claim_body, one_line_error

NEW = "newco-chat"


def request_for(world: World, tmp: Path, *extra: str) -> tuple[dict[str, Any], Path]:
    key = tmp / f"{NEW}.key"
    out = world.cli(
        "onboard",
        "request",
        "--party",
        NEW,
        "--name",
        "NewCo Chat Ltd",
        "--jurisdiction",
        "IE",
        "--website",
        "https://newco.example",
        "--key-out",
        key,
        "--unsafe-unencrypted",
        *extra,
    )
    assert f"wrote your key to {key}" in out.stderr
    return json.loads(out.stdout), key


def authority(world: World) -> list[str]:
    return [*world.db(), "--key", str(world.key("authority")), "--signer", AUTHORITY]


def test_a_new_provider_is_registered_from_its_request_and_can_publish(
    sqlite_world: World, tmp_path: Path
) -> None:
    world, cli = sqlite_world, sqlite_world.cli
    doc, key = request_for(world, tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert doc["request"]["party"] == NEW
    assert doc["request"]["role"] == "provider"
    request = verify_registration_request(json.dumps(doc).encode())
    assert request.public_key.key_id == doc["keyId"]

    path = tmp_path / "request.json"
    path.write_text(json.dumps(doc, indent=2))
    out = cli("register", "--from-request", path, *authority(world), "--json")
    assert "proof of possession verified" in out.stderr
    assert json.loads(out.stdout)["kind"] == "party.register"
    with Ledger.open(world.url) as led:
        party = led.views.party(NEW)
    assert party is not None
    assert (party.role, party.name, party.jurisdiction) == ("provider", "NewCo Chat Ltd", "IE")

    # the new key signs at once: the provider publishes its first claim
    body = tmp_path / "claim.json"
    body.write_text(json.dumps({**claim_body(), "services": ["NewCo Chat"]}))
    out = cli.json("claim", "publish", *world.db(), "--key", key, "--signer", NEW, "--body", body)
    assert out["stream"] == NEW


def test_a_request_changed_after_signing_or_signed_by_another_key_is_refused(
    sqlite_world: World, tmp_path: Path
) -> None:
    world, cli = sqlite_world, sqlite_world.cli
    doc, _ = request_for(world, tmp_path)
    (tmp_path / "other").mkdir()
    other, _ = request_for(world, tmp_path / "other")
    size = world.size()
    cases = {
        "changed": {**doc, "request": {**doc["request"], "name": "Someone Else Ltd"}},
        "another key": {
            **doc,
            "request": {**doc["request"], "key": other["request"]["key"]},
            "keyId": other["keyId"],
        },
        "keyId": {**doc, "keyId": other["keyId"]},
    }
    for name, bad in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(bad))
        result = cli("register", "--from-request", path, *authority(world), code=1)
        line = one_line_error(result.stderr)
        assert f"{path}: registration request refused: bad proof of possession" in line, name
    path = tmp_path / "extra.json"
    path.write_text(json.dumps({**doc, "request": {**doc["request"], "admin": True}}))
    line = one_line_error(cli("register", "--from-request", path, *authority(world), code=1).stderr)
    assert "registration request refused: unknown member 'admin' (field /request/admin)" in line
    assert world.size() == size


def test_a_bad_identity_makes_no_key_file(sqlite_world: World, tmp_path: Path) -> None:
    key = tmp_path / "bad.key"
    result = sqlite_world.cli(
        "onboard",
        "request",
        "--party",
        "Bad_Id",
        "--name",
        "X",
        "--jurisdiction",
        "GBR",
        "--key-out",
        key,
        "--unsafe-unencrypted",
        code=1,
    )
    line = one_line_error(result.stderr)
    assert "invalid request: 2 problems: /request/party: " in line
    assert "/request/jurisdiction: " in line
    assert not key.exists()
