"""``claimledger demo --no-serve``: builds a believable ledger and verifies it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Cli

PROVIDERS = ("brightchat", "pixelstream", "kiteworld", "nimbus-drive", "lumen-search")


def test_demo_builds_every_part_of_the_story(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = cli("demo", "--no-serve").stdout
    assert "Building the demo ledger" in out
    assert "UNENCRYPTED, demo only" in out
    assert "Verified 72 entries" in out
    keys = tmp_path / "claimledger-demo-keys"
    assert (keys / "brightchat.key").is_file()
    assert (keys / "brightchat-old.key").is_file()
    assert not (tmp_path / "config" / "trust.json").exists()  # the demo pins nothing

    db = ["--db", "sqlite:///claimledger-demo.db"]
    claims = []
    kinds = []
    engagements = []
    findings = {}
    checks = {}
    for p in PROVIDERS:
        state = json.loads(cli("replay", p, *db, "--format", "json").stdout)
        claims += state["claims"]
        kinds += [f["kind"] for f in state["timeline"]]
        engagements += state["engagements"]
        findings[p] = state["findings"]
        checks[p] = [(r["status"], r["reason"]) for r in state["reconciliations"]]
    # issue 17 §2: open findings with commitments (demo_story.json): Kiteworld's age assurance
    # finding has one commitment overdue and one not due yet; BrightChat's hash matching one not
    # due yet.
    promised = {
        p: [(c["due"] > _days_ago(0), c["overdue"]) for f in fs for c in f["commitments"]]
        for p, fs in findings.items()
    }
    assert promised["kiteworld"] == [(False, True), (True, False)]
    assert promised["brightchat"] == [(True, False)]
    (kw,) = (f for f in findings["kiteworld"] if f["commitments"])
    assert (kw["status"], kw["overdue"], kw["verdict"]["result"]) == (
        "open",
        True,
        "NO_EVIDENCE_FOUND",
    )
    # issue 17 §5: the fictional NCMEC table, one mismatch (demo_story.json)
    assert checks == {
        "brightchat": [("not_comparable", "period")],
        "pixelstream": [("consistent", None)],
        "kiteworld": [("not_comparable", "no_claim")],
        "nimbus-drive": [("inconsistent", None)],
        "lumen-search": [("not_comparable", "no_row")],
    }
    # issue 17 §1: one running, one overdue, one withdrawn by the provider, two closed with a
    # verdict (demo_story.json)
    statuses = sorted(e["status"] for e in engagements)
    assert statuses == ["closed", "closed", "open", "overdue", "withdrawn"]
    (withdrawn,) = (e for e in engagements if e["status"] == "withdrawn")
    assert withdrawn["withdrawnBy"] == "kiteworld"
    results = {c["latestVerdict"]["result"] for c in claims if c["latestVerdict"]}
    assert results == {
        "CONFIRMED",
        "CONFIRMED_WITH_COMMENTS",
        "NO_EVIDENCE_FOUND",
        "CONTRADICTED",
        "INCONCLUSIVE",
    }
    assert any(c["latestVerdict"] and c["latestVerdict"]["expired"] for c in claims)
    # issue 17 §3: two verifiers disagree on BrightChat's hash matching, both verdicts linked
    (split,) = (c for c in claims if c["publicStatus"] == "verifiers_disagree")
    assert [(d["verifier"], d["result"]) for d in split["disagreement"]] == [
        ("clearsight-audit", "CONFIRMED"),
        ("openprobe-lab", "NO_EVIDENCE_FOUND"),
    ]
    assert sum(c["publicStatus"] == "unverified" for c in claims) >= 4
    assert {c["status"] for c in claims} == {"active", "superseded", "withdrawn"}
    assert "provider.reply" in kinds
    registry = cli("verify", *db).stdout
    assert "10 parties" in registry

    # the expired verdict was valid at a past date: "as of" means something
    past = json.loads(
        cli("replay", "lumen-search", *db, "--as-of", _days_ago(80), "--format", "json").stdout
    )
    assert past["claims"][0]["publicStatus"] == "confirmed"

    # run again: it reuses and re-verifies the existing demo ledger
    again = cli("demo", "--no-serve").stdout
    assert "Using the existing demo ledger" in again

    # the demo keys sign for real: the rotated provider key is refused (on a claim that is there:
    # an unknown digest is refused before anything is signed)
    bright = json.loads(cli("replay", "brightchat", *db, "--format", "json").stdout)
    active = next(c["digest"] for c in bright["claims"] if c["status"] == "active")
    result = cli(
        "claim",
        "withdraw",
        active,
        *db,
        "--key",
        keys / "brightchat-old.key",
        "--signer",
        "brightchat",
        "--reason",
        "x",
        code=1,
    )
    assert "revoked key" in result.stderr


def _days_ago(days: int) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(time.time() - days * 86400))


def test_demo_as_a_real_process(tmp_path: Path) -> None:
    env = {**os.environ, "CLAIMLEDGER_CONFIG_DIR": str(tmp_path / "config")}
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "demo", "--no-serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Verified 72 entries" in proc.stdout
