"""Real processes: ``claimledger serve`` and the CLI against it, end to end.

Provider publishes, verifier tests and judges, the public verifies the company's record, the
regulator replays it as of a past date and verifies an exported bundle offline. Then the server
is restarted over an older copy of its database (a rollback) and ``verify`` catches it.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.attest.examples import example_test_record_body
from tests.cli.conftest import PROVIDER, VERIFIER, Proc, World, claim_body, copy_sqlite, serving


def test_story_against_a_real_server(sqlite_world: World, proc: Proc, tmp_path: Path) -> None:
    w = sqlite_world
    snapshot = tmp_path / "snapshot.db"
    copy_sqlite(w.url, snapshot)
    body = tmp_path / "claim.json"
    body.write_text(json.dumps(claim_body()))
    with serving(proc, w.url, w.key("log")) as server:
        s = ["--server", server]
        # provider
        claim = str(
            proc.json("claim", "publish", *s, *w.as_party(PROVIDER), "--body", body)["digest"]
        )
        # verifier
        test_file = tmp_path / "test.json"
        test_file.write_text(json.dumps(example_test_record_body(claim)))
        test = str(
            proc.json(
                "test",
                "record",
                *s,
                *w.as_party(VERIFIER),
                "--provider",
                PROVIDER,
                "--body",
                test_file,
            )["digest"]
        )
        proc(
            "verdict",
            "issue",
            *s,
            *w.as_party(VERIFIER),
            "--provider",
            PROVIDER,
            "--claim",
            claim,
            "--test",
            test,
            "--result",
            "CONFIRMED",
            "--assurance",
            "limited",
            "--scope-surface",
            "public_posts",
            "--scope-jurisdiction",
            "GB",
            "--scope-match",
            "full",
            "--valid-until",
            "2099-01-01T00:00:00Z",
            "--conflicts-of-interest",
            "none declared",
        )
        # the public
        out = proc("verify", *s, "--genesis", w.fingerprint).stdout
        assert "Verified 7 entries" in out
        out = proc("verify", PROVIDER, *s).stdout
        assert "Verified the record of acme-social" in out
        # the regulator
        table = proc("replay", PROVIDER, *s).stdout
        assert "CONFIRMED" in table
        past = json.loads(
            proc("replay", PROVIDER, *s, "--as-of", "2020-01-01", "--format", "json").stdout
        )
        assert past["claims"] == []
        proc("export", PROVIDER, *s, "-o", tmp_path / "acme.bundle.json")
    # offline, with the server gone
    out = proc(
        "verify", "--bundle", tmp_path / "acme.bundle.json", "--genesis", w.fingerprint
    ).stdout
    assert "Verified the record of acme-social" in out

    # the operator rolls the log back and serves it again: caught
    copy_sqlite(f"sqlite:///{snapshot}", Path(w.url.removeprefix("sqlite:///")))
    with serving(proc, w.url, w.key("log")) as server:
        bad = proc("verify", "--server", server, code=1)
        assert "rollback" in bad.stderr
        assert "Traceback" not in bad.stderr
        bad = proc("verify", PROVIDER, "--server", server, code=1)
        assert "rollback" in bad.stderr
