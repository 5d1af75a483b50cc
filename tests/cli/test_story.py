"""The whole story through the CLI, on SQLite and PostgreSQL.

Provider, verifier, public, regulator.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.attest.examples import example_test_record_body, example_verdict_body
from tests.cli.conftest import PROVIDER, VERIFIER, World, claim_body


def test_provider_verifier_public_regulator(world: World, tmp_path: Path) -> None:
    cli = world.cli
    db = world.db()
    size_before_claims = world.size()

    # provider: a claim from a YAML body file, with one member overridden by an option
    body = claim_body("detect.hash_known_image")
    (tmp_path / "claim.yaml").write_text(yaml.safe_dump(body))
    out = cli.json(
        "claim",
        "publish",
        *db,
        *world.as_party(PROVIDER),
        "--body",
        tmp_path / "claim.yaml",
        "--status",
        "pilot",
    )
    claim = out["digest"]
    assert out["kind"] == "claim.publish"
    assert out["stream"] == PROVIDER
    assert out["position"] == 0
    assert out["checkpoint"].startswith("test.claimledger.example/log\n")

    # verifier: a test record (body file + options) and a verdict (options only)
    test_body = example_test_record_body(claim)
    (tmp_path / "test.json").write_text(json.dumps(test_body))
    out = cli.json(
        "test",
        "record",
        *db,
        *world.as_party(VERIFIER),
        "--provider",
        PROVIDER,
        "--body",
        tmp_path / "test.json",
        "--window-end",
        "2026-11-06T17:00:00Z",
    )
    test = out["digest"]
    verdict = example_verdict_body(claim, [test], result="CONFIRMED_WITH_COMMENTS")
    out = cli.json(
        "verdict",
        "issue",
        *db,
        *world.as_party(VERIFIER),
        "--provider",
        PROVIDER,
        "--claim",
        claim,
        "--test",
        test,
        "--result",
        "CONFIRMED_WITH_COMMENTS",
        "--assurance",
        "limited",
        "--scope-surface",
        "public_posts",
        "--scope-jurisdiction",
        "GB",
        "--scope-match",
        "partial",
        "--valid-until",
        "2099-01-01T00:00:00Z",
        "--comments",
        str(verdict["comments"]),
        "--conflicts-of-interest",
        "none declared",
    )
    verdict_digest = out["digest"]
    # provider replies (human output this time)
    result = cli(
        "reply",
        *db,
        *world.as_party(PROVIDER),
        "--verdict",
        verdict_digest,
        "--text",
        "Thank you; comments will be covered next year.",
    )
    assert "Appended provider.reply to stream acme-social at position 3" in result.stdout

    # the public: verify the whole log, then the company's record
    result = cli("verify", *db)
    assert f"Verified {size_before_claims + 4} entries" in result.stdout
    assert "Trusting this ledger on first use" in result.stdout
    assert world.fingerprint in result.stdout
    result = cli("verify", PROVIDER, *db)
    assert "Verified the record of acme-social" in result.stdout
    assert "consistent with the checkpoint verified" in result.stdout

    # the regulator: replay as of a past date and a past size; export and verify offline
    replay = json.loads(cli("replay", PROVIDER, *db, "--format", "json").stdout)
    (c,) = replay["claims"]
    assert c["digest"] == claim
    assert c["publicStatus"] == "confirmed_with_comments"
    past = json.loads(
        cli("replay", PROVIDER, *db, "--as-of", "2020-01-01", "--format", "json").stdout
    )
    assert past["claims"] == []
    at_size = json.loads(
        cli(
            "replay", PROVIDER, *db, "--size", str(size_before_claims + 1), "--format", "json"
        ).stdout
    )
    assert [x["publicStatus"] for x in at_size["claims"]] == ["unverified"]
    table = cli("replay", PROVIDER, *db).stdout
    assert "CONFIRMED_WITH_COMMENTS" in table
    assert claim[:12] in table

    bundle = tmp_path / "acme.bundle.json"
    cli("export", PROVIDER, *db, "-o", bundle)
    result = cli("verify", "--bundle", bundle, "--genesis", world.fingerprint)
    assert "Verified the record of acme-social" in result.stdout


def test_claim_lifecycle_and_key_rotation(world: World, tmp_path: Path) -> None:
    cli = world.cli
    db = world.db()
    first = world.publish("detect.hash_known_image")
    other = world.publish("report.authority")
    body = claim_body("detect.hash_known_image")
    (tmp_path / "v2.json").write_text(json.dumps(body))
    v2 = cli.json(
        "claim",
        "supersede",
        first,
        *db,
        *world.as_party(PROVIDER),
        "--body",
        tmp_path / "v2.json",
        "--jurisdiction",
        "GB",
    )["digest"]
    cli("claim", "withdraw", other, *db, *world.as_party(PROVIDER), "--reason", "Replaced.")

    # rotation: the provider adds a new key, then revokes the old one with the new key
    new_key = tmp_path / "acme-new.key"
    cli("keys", "generate", new_key, "--unsafe-unencrypted")
    cli("key", "add", PROVIDER, *db, *world.as_party(PROVIDER), "--public-key", new_key)
    cli(
        "key",
        "revoke",
        PROVIDER,
        *db,
        "--key",
        new_key,
        "--signer",
        PROVIDER,
        "--public-key",
        world.key(PROVIDER),
        "--reason",
        "Rotated.",
    )
    result = cli("claim", "withdraw", v2, *db, *world.as_party(PROVIDER), "--reason", "x", code=1)
    assert "revoked key" in result.stderr
    cli("claim", "withdraw", v2, *db, "--key", new_key, "--signer", PROVIDER, "--reason", "Ended.")

    # the authority suspends the verifier: it can no longer record tests
    cli(
        "accredit",
        "suspend",
        VERIFIER,
        *db,
        "--key",
        world.key("authority"),
        "--signer",
        "test-authority",
        "--reason",
        "Conflict of interest.",
    )
    states = {
        c["digest"]: c["status"]
        for c in json.loads(cli("replay", PROVIDER, *db, "--format", "json").stdout)["claims"]
    }
    assert states == {first: "superseded", other: "withdrawn", v2: "withdrawn"}
    cli("verify", *db)
