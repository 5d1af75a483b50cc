"""``claimledger engagement open|close|withdraw`` and ``--engagement`` on tests and verdicts
(issue 17 §1, §4): an engagement registered before testing, a test record checked against it and
against the claim's scope at submission, and the refusals as one line with exit code 1, from a
database and from a real server process (RFC 9457 ``engagement-mismatch`` /
``out-of-claim-scope``)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from attest.statements import format_timestamp
from tests.attest.examples import example_digest, example_test_record_body, example_verdict_body
from tests.cli.conftest import PROVIDER, VERIFIER, Proc, World, one_line_error, serving

CANARY = "https://safecheck.example/protocols/canary-hash-v3"


def _ts(offset_s: int) -> str:
    return format_timestamp((int(time.time()) + offset_s) * 1000)


def _file(world: World, body: dict[str, Any]) -> str:
    path = world.keys.parent / f"body-{len(list(world.keys.parent.iterdir()))}.json"
    path.write_text(json.dumps(body))
    return str(path)


def _open(world: World, claim: str, *where: str) -> str:
    """An engagement on ``claim`` whose window began 5 minutes ago (within the clock skew)."""
    out = world.cli.json(
        "engagement",
        "open",
        *(where or world.db()),
        *world.as_party(VERIFIER),
        "--provider",
        PROVIDER,
        "--claim",
        claim,
        "--plan",
        f"seeded_canary_hash:{CANARY}={example_digest(CANARY)}",
        "--window-start",
        _ts(-300),
        "--window-end",
        _ts(2 * 86_400),
        "--commissioned-by",
        PROVIDER,
        "--paid-by-name",
        "Acme Social compliance budget",
    )
    return str(out["digest"])


def _test_body(claim: str, engagement: str, surface: str = "public_posts") -> dict[str, Any]:
    body = example_test_record_body(claim, engagement=engagement)
    body["window"] = {"start": _ts(-240), "end": _ts(-60)}
    body["environment"]["surface"] = surface
    return body


def test_an_engagement_from_open_to_close_and_the_refusals(sqlite_world: World) -> None:
    world, cli, db = sqlite_world, sqlite_world.cli, sqlite_world.db()
    claim = world.publish()
    engagement = _open(world, claim)
    as_verifier = [*db, *world.as_party(VERIFIER), "--provider", PROVIDER]

    # Outside the claim's scope (dm_e2ee is excluded): refused, one line, exit 1.
    out = cli(
        "test",
        "record",
        *as_verifier,
        "--body",
        _file(world, _test_body(claim, engagement, "dm_e2ee")),
        code=1,
    )
    line = one_line_error(out.stderr)
    assert line.startswith("Error: outside the claim's scope: surface dm_e2ee"), line
    assert "field /body/environment/surface" in line

    # Inside: accepted; --not-tested given on the command line wins over the body's.
    test = cli.json(
        "test",
        "record",
        *as_verifier,
        "--body",
        _file(world, _test_body(claim, "00" * 32)),
        "--engagement",
        engagement,
        "--not-tested",
        "profiles",
    )["digest"]
    verdict = cli.json(
        "verdict",
        "issue",
        *as_verifier,
        "--body",
        _file(world, example_verdict_body(claim, [test])),
        "--engagement",
        engagement,
    )["digest"]
    cli("engagement", "close", engagement[:16], *as_verifier, "--verdict", verdict)

    # Closed: a later test record under it, and a withdrawal, are refused by the engagement rule.
    out = cli(
        "test",
        "record",
        *as_verifier,
        "--body",
        _file(world, _test_body(claim, engagement)),
        code=1,
    )
    line = one_line_error(out.stderr)
    assert line.startswith("Error: engagement rule: engagement "), line
    assert "is closed, not open" in line
    out = cli(
        "engagement",
        "withdraw",
        engagement,
        *db,
        *world.as_party(PROVIDER),
        "--reason",
        "Too late.",
        code=1,
    )
    assert "is closed, not open" in one_line_error(out.stderr)

    # The provider withdraws a second one on its own stream (no --provider needed).
    second = _open(world, claim)
    cli(
        "engagement",
        "withdraw",
        second[:12],
        *db,
        *world.as_party(PROVIDER),
        "--reason",
        "The contract ended before testing began.",
    )
    replay = json.loads(cli("replay", PROVIDER, *db, "--format", "json").stdout)
    states = {e["digest"]: e for e in replay["engagements"]}
    assert states[engagement]["status"] == "closed"
    assert states[engagement]["closedBy"] == verdict
    assert states[second]["status"] == "withdrawn"
    assert states[second]["withdrawnBy"] == PROVIDER
    assert states[second]["withdrawalReason"] == "The contract ended before testing began."
    text = cli("replay", PROVIDER, *db).stdout
    assert f"withdrawn by {PROVIDER}: The contract ended before testing began." in text
    assert f"closed by verdict {verdict[:12]}" in text
    # verify counts them, from the company's complete record
    summary = " ".join(cli("verify", PROVIDER, *db).stdout.split())
    assert "2 engagements (0 open, 0 overdue, 1 closed, 1 withdrawn)" in summary, summary
    assert "0 test records and verdicts with no engagement" in summary, summary


def test_engagement_refusals_from_a_real_server(sqlite_world: World, proc: Proc) -> None:
    world, cli = sqlite_world, sqlite_world.cli
    claim = world.publish()
    with serving(proc, world.url, world.key("log")) as server:
        engagement = _open(world, claim, "--server", server)
        as_verifier = ["--server", server, *world.as_party(VERIFIER), "--provider", PROVIDER]
        out = cli(
            "test",
            "record",
            *as_verifier,
            "--body",
            _file(world, _test_body(claim, engagement, "dm_e2ee")),
            code=1,
        )
        line = one_line_error(out.stderr)
        assert line.startswith(
            "Error: server refused (422): The test ran outside the scope of the claim it tests"
        ), line
        # The same refusal as the problem itself; then a protocol not in the engagement's plan:
        # engagement-mismatch, naming the member at fault.
        for n, (body, problem, pointer) in enumerate(
            (
                (_test_body(claim, engagement, "dm_e2ee"), "out-of-claim-scope", "surface"),
                (
                    {
                        **_test_body(claim, engagement),
                        "protocol": {
                            "uri": "https://x.example/p",
                            "digest": {"sha256": example_digest("p")},
                        },
                    },
                    "engagement-mismatch",
                    "method",
                ),
            )
        ):
            signed = world.keys.parent / f"signed-{n}.json"
            head = cli.json("head", PROVIDER, "--server", server)["head"]
            cli(
                "test",
                "record",
                *as_verifier,
                "--body",
                _file(world, body),
                "--prev",
                head,
                "-o",
                signed,
            )
            r = httpx.post(
                f"{server}/v1/entries",
                content=signed.read_bytes(),
                headers={"content-type": "application/json"},
            )
            assert r.status_code == 422, r.text
            problem_json = r.json()
            assert r.headers["content-type"].startswith("application/problem+json")
            assert problem_json["type"] == f"https://claimledger.dev/problems/{problem}"
            assert problem_json["pointer"].endswith(pointer), problem_json
