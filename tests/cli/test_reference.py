"""Reference tables (issue 17 §5): ``claimledger reference publish`` by the authority, refused for
anyone else, and the reconciliation it starts in ``replay`` and the offline ``report`` — on a
database in-process (SQLite and PostgreSQL) and through a real ``claimledger serve`` process (the
API's company view and the company page)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx

from tests.attest.examples import example_claim_body, example_reference_publish_body
from tests.cli.conftest import AUTHORITY, PROVIDER, VERIFIER, Proc, World, one_line_error, serving


def _file(world: World, name: str, body: object) -> Path:
    path = world.keys.parent / name
    path.write_text(json.dumps(body))
    return path


def _reporting_claim(value: int) -> dict[str, Any]:
    body = example_claim_body("report.authority")
    body["services"] = ["Acme Social"]
    body["details"] = {"recipients": ["NCMEC", "IWF"]}
    body["metrics"] = [
        {
            "name": "cybertipline_reports",
            "period": {"start": "2025-01-01", "end": "2025-12-31"},
            "value": value,
            "unit": "reports",
            "method": "Reports filed with NCMEC in 2025.",
        }
    ]
    return body


def _table_without_digest(count: int) -> dict[str, Any]:
    """The small test table, its source digest left for --source-file to fill in."""
    body = example_reference_publish_body(
        [
            {"listedAs": "Acme Social, Inc.", "count": count, "party": PROVIDER},
            {"listedAs": "Unlisted Example Ltd", "count": 9},
        ]
    )
    del body["source"]["digest"]
    return body


def test_the_authority_logs_a_table_and_the_mismatch_is_reported(world: World) -> None:
    cli, db = world.cli, world.db()
    authority: list[str | Path] = [*db, "--key", world.key("authority"), "--signer", AUTHORITY]
    reporting = _file(world, "claim.json", _reporting_claim(4100))
    cli("claim", "publish", *db, *world.as_party(PROVIDER), "--body", reporting)
    source = world.keys.parent / "esp-counts-2025.pdf"
    source.write_bytes(b"%PDF-1.7 a made-up table of counts for this test\n")
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    table = _file(world, "table.json", _table_without_digest(4200))

    # A provider or a verifier cannot log a table: one line, exit 1 (refused by the rules).
    for party in (PROVIDER, VERIFIER):
        line = one_line_error(
            cli(
                "reference",
                "publish",
                *db,
                *world.as_party(party),
                "--body",
                table,
                "--source-file",
                source,
                code=1,
            ).stderr
        )
        assert f"only the authority may sign reference.publish, not {party}" in line, line
    # A source file that is not the document the body names: exit 2, before anything is signed.
    wrong = _file(world, "wrong.json", example_reference_publish_body())
    line = one_line_error(
        cli(
            "reference", "publish", *authority, "--body", wrong, "--source-file", source, code=2
        ).stderr
    )
    assert f"has SHA-256 {sha}" in line, line
    assert "not the same document" in line, line

    out = cli.json("reference", "publish", *authority, "--body", table, "--source-file", source)
    size = world.size()
    assert out["index"] == size - 1

    text = cli("replay", PROVIDER, *db).stdout
    assert "INCONSISTENT: NCMEC published 4200 reports for 2025-01-01 to 2025-12-31" in text, text
    assert "the company reported 4100 (cybertipline_reports)" in text, text
    state = json.loads(cli("replay", PROVIDER, *db, "--format", "json").stdout)
    (check,) = state["reconciliations"]
    assert check["source"]["digest"]["sha256"] == sha
    assert (check["status"], check["count"], check["reported"][0]["value"]) == (
        "inconsistent",
        4200,
        4100,
    )

    # Offline: the company's bundle carries the table (it is about the authority) and the report
    # reads the same comparison from it, in text and JSON.
    bundle = world.keys.parent / "acme.bundle.json"
    cli("export", PROVIDER, *db, "-o", bundle)
    report = cli("report", bundle).stdout
    assert "INCONSISTENT: NCMEC published 4200 reports" in report, report
    assert f"sha256 {sha}, logged at index {size - 1}" in report, report
    doc = json.loads(cli("report", bundle, "--format", "json").stdout)
    assert doc["reconciliations"] == state["reconciliations"]


def test_through_a_real_server(sqlite_world: World, proc: Proc) -> None:
    """The authority logs the table through ``claimledger serve``; the API's company view and
    the company page show the comparison, here consistent."""
    world, cli = sqlite_world, sqlite_world.cli
    with serving(proc, world.url, world.key("log")) as base:
        server: list[str | Path] = ["--server", base]
        reporting = _file(world, "claim.json", _reporting_claim(4200))
        cli("claim", "publish", *server, *world.as_party(PROVIDER), "--body", reporting)
        table = _file(
            world,
            "table.json",
            example_reference_publish_body(
                [{"listedAs": "Acme Social, Inc.", "count": 4200, "party": PROVIDER}]
            ),
        )
        line = one_line_error(
            cli(
                "reference", "publish", *server, *world.as_party(VERIFIER), "--body", table, code=1
            ).stderr
        )
        assert "only the authority may sign reference.publish" in line, line
        cli(
            "reference",
            "publish",
            *server,
            "--key",
            world.key("authority"),
            "--signer",
            AUTHORITY,
            "--body",
            table,
        )
        state = httpx.get(f"{base}/v1/streams/{PROVIDER}/state").json()
        (check,) = state["reconciliations"]
        assert (check["status"], check["label"]) == ("consistent", "Consistent")
        page = httpx.get(f"{base}/providers/{PROVIDER}").text
        assert 'data-status="consistent"' in page
        assert "NCMEC published 4200 reports for 2025-01-01 to 2025-12-31" in page
        out = cli("replay", PROVIDER, *server).stdout
        assert "CONSISTENT: NCMEC published 4200 reports" in out, out
