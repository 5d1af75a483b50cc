"""``claimledger reply --commit`` (issue 17 §2): a provider's reply commits to dated actions,
each answering a finding of the verdict; one past its due day while its finding is open reads
overdue in ``replay``, ``verify`` and ``report``; a commitment that answers no finding is refused
as one line with exit code 1, from a database and from a real server process (RFC 9457
``dangling-reference``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.attest.examples import example_test_record_body, example_verdict_body
from tests.cli.conftest import (
    PROVIDER,
    VERIFIER,
    Proc,
    World,
    claim_body,
    one_line_error,
    serving,
)


def _day(offset_days: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + offset_days * 86_400))


def _file(world: World, body: dict[str, Any]) -> str:
    path = world.keys.parent / f"body-{len(list(world.keys.parent.iterdir()))}.json"
    path.write_text(json.dumps(body))
    return str(path)


def _verdict(world: World, where: list[str], result: str) -> str:
    """A claim, a test record and a ``result`` verdict on it (with one recommendation unless
    CONFIRMED), as the verifier; the verdict's digest."""
    claim = _publish(world, where)
    as_verifier = [*where, *world.as_party(VERIFIER), "--provider", PROVIDER]
    test = world.cli.json(
        "test", "record", *as_verifier, "--body", _file(world, example_test_record_body(claim))
    )["digest"]
    body = example_verdict_body(claim, [test], result=result)
    return str(
        world.cli.json("verdict", "issue", *as_verifier, "--body", _file(world, body))["digest"]
    )


def _publish(world: World, where: list[str]) -> str:
    out = world.cli.json(
        "claim",
        "publish",
        *where,
        *world.as_party(PROVIDER),
        "--body",
        _file(world, claim_body("detect.hash_known_image")),
    )
    return str(out["digest"])


def test_commitments_from_reply_to_replay_verify_and_report(
    sqlite_world: World, tmp_path: Path
) -> None:
    world, cli, db = sqlite_world, sqlite_world.cli, sqlite_world.db()
    bad = _verdict(world, db, "CONTRADICTED")
    comments = _verdict(world, db, "CONFIRMED_WITH_COMMENTS")
    as_provider = [*db, *world.as_party(PROVIDER)]

    # Malformed --commit: a usage error, one line, exit 2, nothing signed.
    out = cli("reply", *as_provider, "--verdict", bad, "--text", "x", "--commit", "soon", code=2)
    assert "expected DUE=ACTION or DUE/N=ACTION" in one_line_error(out.stderr)
    # A due date that is no date: the schema's refusal, exit 1.
    out = cli(
        "reply", *as_provider, "--verdict", bad, "--text", "x", "--commit", "2027-02-30=Fix", code=1
    )
    assert "/body/commitments/0/due" in one_line_error(out.stderr)
    # A recommendation the verdict does not make, and one named on a contradicted verdict.
    for verdict, commit, words in (
        (comments, f"{_day(5)}/1=Fix it", "there is no recommendation 1"),
        (bad, f"{_day(5)}/0=Fix it", "opened one finding, not one per recommendation"),
        (comments, f"{_day(5)}=Fix it", "name the one this commitment answers"),
    ):
        out = cli(
            "reply", *as_provider, "--verdict", verdict, "--text", "x", "--commit", commit, code=1
        )
        line = one_line_error(out.stderr)
        assert words in line, line
        assert "field /body/commitments/0" in line, line

    cli(
        "reply",
        *as_provider,
        "--verdict",
        bad[:16],
        "--text",
        "We found the cause.",
        "--commit",
        f"{_day(-2)}=Fix the upload queue",
        "--commit",
        f"{_day(30)}=Publish the incident report",
    )
    cli(
        "reply",
        *as_provider,
        "--verdict",
        comments,
        "--text",
        "We will.",
        "--commit",
        f"{_day(0)}/0=Publish the median time",
    )
    replay = json.loads(cli("replay", PROVIDER, *db, "--format", "json").stdout)
    findings = {(f["verdict"]["digest"], f["recommendationIndex"]): f for f in replay["findings"]}
    contradicted = findings[(bad, None)]
    assert [(c["action"], c["overdue"]) for c in contradicted["commitments"]] == [
        ("Fix the upload queue", True),
        ("Publish the incident report", False),
    ]
    assert contradicted["overdue"] is True
    assert [c["overdue"] for c in findings[(comments, 0)]["commitments"]] == [False]  # due today
    assert replay["findingCounts"] == {
        "open": 2,
        "closed": 0,
        "overdue": 1,
        "commitmentsOverdue": 1,
    }

    summary = " ".join(cli("verify", PROVIDER, *db).stdout.split())
    assert "2 findings open (1 commitments overdue), 0 closed" in summary, summary

    bundle = tmp_path / "acme.json"
    cli("export", PROVIDER, *db, "-o", bundle)
    text = cli("report", bundle).stdout
    assert "Findings: 2 open (1 with a commitment overdue), 0 closed" in text, text
    assert f"Fix the upload queue — due {_day(-2)} — OVERDUE" in text
    assert f"Publish the incident report — due {_day(30)}\n" in text
    doc = json.loads(cli("report", bundle, "--format", "json").stdout)
    assert doc["findingCounts"]["commitmentsOverdue"] == 1
    assert [len(f["commitments"]) for f in doc["findings"]] == [2, 1]


def test_commitments_through_a_real_server(sqlite_world: World, proc: Proc) -> None:
    world, cli = sqlite_world, sqlite_world.cli
    with serving(proc, world.url, world.key("log")) as server:
        where = ["--server", server]
        confirmed = _verdict(world, where, "CONFIRMED")
        bad = _verdict(world, where, "NO_EVIDENCE_FOUND")
        as_provider = [*where, *world.as_party(PROVIDER)]
        out = cli(
            "reply",
            *as_provider,
            "--verdict",
            confirmed,
            "--text",
            "x",
            "--commit",
            f"{_day(3)}=Nothing to fix",
            code=1,
        )
        line = one_line_error(out.stderr)
        assert line.startswith("Error: server refused (422)"), line
        assert "opened no finding to commit to" in line, line
        cli(
            "reply",
            *as_provider,
            "--verdict",
            bad,
            "--text",
            "We disagree, and will show it.",
            "--commit",
            f"{_day(-1)}=Publish the age-check audit",
        )
        state = httpx.get(f"{server}/v1/streams/{PROVIDER}/state").json()
        (finding,) = state["findings"]
        assert finding["verdict"]["digest"] == bad
        assert [(c["due"], c["overdue"]) for c in finding["commitments"]] == [(_day(-1), True)]
        row = httpx.get(f"{server}/v1/scorecard").json()["rows"][0]
        assert (row["provider"], row["findingsOpen"], row["commitmentsOverdue"]) == (
            PROVIDER,
            1,
            1,
        )
        summary = " ".join(cli("verify", PROVIDER, *where).stdout.split())
        assert "1 findings open (1 commitments overdue), 0 closed" in summary, summary
        page = httpx.get(f"{server}/providers/{PROVIDER}").text
        assert 'data-overdue="yes"' in page
        assert "Publish the age-check audit" in page
