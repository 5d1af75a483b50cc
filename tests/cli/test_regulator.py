"""The regulator's commands (issue 15): dated evidence bundles (``export --as-of/--size``), the
offline ``report``, ``verify --bundle`` with ``CLAIMLEDGER_SERVER`` exported, and ``replay
--server`` from verified entries — in-process (CliRunner) and against a real ``claimledger
serve`` process, honest and behind a lying proxy.

One demo ledger per module, with checkpoints kept at sizes 20, 35 and 44 besides 1 and the last.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from attest import canonical, verify_bundle
from attest.statements import format_timestamp, parse_timestamp
from cli._reportcmd import render_text
from ledger import REPORT_COLUMNS, REPORT_FORMAT, build_report
from ledger._engagements import engagements_of
from tests.cli.conftest import Cli, Proc, serving
from tests.cli.test_lying_server import lying_proxy
from tests.ledger.test_report import RegulatorDemo, regulator_demo

N = "nimbus-drive"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> RegulatorDemo:
    return regulator_demo(tmp_path_factory.mktemp("regulator-cli"))


def _export(cli: Cli, demo: RegulatorDemo, out: Path, *args: str | Path) -> str:
    return str(cli("export", N, "--db", demo.info.url, "-o", out, *args).stdout)


def test_verify_bundle_ignores_the_server_in_the_environment(
    cli: Cli, demo: RegulatorDemo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIMLEDGER_SERVER", "http://127.0.0.1:9")  # as the README recommends
    bundle = tmp_path / "b.json"
    _export(cli, demo, bundle)  # an explicit --db beats the environment's server
    out = cli("verify", "--bundle", bundle).stdout
    assert f"Verified the record of {N} against the checkpoint" in out
    bad = cli("verify", "--bundle", bundle, "--server", "http://127.0.0.1:9", code=2)
    assert "--bundle verifies offline: give no --db or --server" in bad.stderr


def test_export_freezes_the_record_at_an_older_checkpoint(
    cli: Cli, demo: RegulatorDemo, tmp_path: Path
) -> None:
    t43 = demo.times[43]
    out = _export(cli, demo, tmp_path / "a.json", "--as-of", format_timestamp(t43))
    assert "the record as of the checkpoint of tree size 44" in out
    verified = cli("verify", "--bundle", tmp_path / "a.json").stdout
    assert "tree size 44" in verified
    assert f"as of:              {format_timestamp(t43)}" in verified
    # A second earlier, the newest checkpoint the log had kept was that of size 35.
    out = _export(cli, demo, tmp_path / "b.json", "--as-of", format_timestamp(t43 - 1000))
    assert "tree size 35" in out
    # By size: a kept size needs no log key; another size needs the key to sign it.
    _export(cli, demo, tmp_path / "c.json", "--size", "20")
    assert verify_bundle((tmp_path / "c.json").read_bytes()).checkpoint.size == 20
    bad = cli("export", N, "--db", demo.info.url, "-o", tmp_path / "d.json", "--size", "30", code=2)
    assert "a read-only ledger has no checkpoint of size 30" in bad.stderr
    assert not (tmp_path / "d.json").exists()
    _export(cli, demo, tmp_path / "d.json", "--size", "30", "--log-key", demo.log_key)
    assert "tree size 30" in cli("verify", "--bundle", tmp_path / "d.json").stdout
    bad = cli(
        "export",
        N,
        "--db",
        demo.info.url,
        "-o",
        tmp_path / "e.json",
        "--as-of",
        "2000-01-01",
        code=2,
    )
    assert "no checkpoint of this log was kept at or before 2000-01-01" in bad.stderr
    both = ("--as-of", "2026-01-01", "--size", "3")
    bad = cli("export", N, "--db", demo.info.url, "-o", tmp_path / "f.json", *both, code=2)
    assert "give at most one of --as-of, --size and --cosigned" in bad.stderr


def test_report_prints_the_verified_record_as_text_json_and_csv(
    cli: Cli, demo: RegulatorDemo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "n44.json"
    _export(cli, demo, bundle, "--size", "44")
    record = verify_bundle(bundle.read_bytes())
    root = base64.b64encode(record.checkpoint.root).decode()
    monkeypatch.setenv("CLAIMLEDGER_SERVER", "http://127.0.0.1:9")  # never asked
    text = cli("report", bundle).stdout
    assert "tree size 44" in text
    assert record.checkpoint.root.hex() not in text  # one encoding: base64, as the note
    assert f"root:               {root}" in text
    assert "active, shown as UNVERIFIED (no verdict)" in text
    assert "Unverified at the checkpoint: 2 active claim version(s)" in text  # v2, classifier

    doc = json.loads(cli("report", bundle, "--format", "json").stdout)
    assert doc["format"] == REPORT_FORMAT
    assert (doc["checkpoint"]["size"], doc["company"]["id"]) == (44, N)
    assert doc["checkpoint"]["logTime"] == format_timestamp(demo.times[43])
    chains = {c["digest"]: (c["chain"], c["version"]) for c in doc["claims"]}
    v1, v2 = demo.info.digests["nimbus-hash-v1"], demo.info.digests["nimbus-hash-v2"]
    assert chains[v1] == (v1, 1)
    assert chains[v2] == (v1, 2)

    rows = list(csv.DictReader(io.StringIO(cli("report", bundle, "--format", "csv").stdout)))
    assert len(rows) == len(doc["claims"]) == 3
    assert tuple(rows[0]) == REPORT_COLUMNS
    assert {r["claim"]: r["status"] for r in rows} == {
        c["digest"]: c["status"] for c in doc["claims"]
    }
    assert not (tmp_path / "config" / "trust.json").exists()  # report remembers nothing

    expired = tmp_path / "lumen.json"
    cli("export", "lumen-search", "--db", demo.info.url, "-o", expired)
    assert "(EXPIRED at the checkpoint)" in cli("report", expired).stdout


def test_report_says_which_engagements_are_overdue_or_withdrawn(
    cli: Cli, demo: RegulatorDemo, tmp_path: Path
) -> None:
    """Issue 17 §1 in the report (text and JSON), judged at the checkpoint's log time as
    expiry is: Kiteworld withdrew one engagement; Nimbus Drive's was still inside its window
    at the demo's last entry, its planned method not reported; the same engagement read at a
    time past its window is OVERDUE."""
    reports = {}
    for company in ("nimbus-drive", "kiteworld"):
        bundle = tmp_path / f"{company}.json"
        cli("export", company, "--db", demo.info.url, "-o", bundle)
        doc = json.loads(cli("report", bundle, "--format", "json").stdout)
        reports[company] = (doc, cli("report", bundle).stdout, bundle)
    (kite,) = [e for e in reports["kiteworld"][0]["engagements"] if e["status"] == "withdrawn"]
    assert (
        f"{kite['digest']} by {kite['verifier']}: withdrawn by kiteworld" in reports["kiteworld"][1]
    )
    doc, text, bundle = reports["nimbus-drive"]
    (nimbus,) = doc["engagements"]
    at = doc["checkpoint"]["logTimeMs"]
    ended = parse_timestamp(nimbus["window"]["end"])
    assert nimbus["status"] == ("overdue" if at > ended else "open")
    planned = f"{nimbus['digest']} by clearsight-audit: planned, not reported: seeded_canary_hash"
    assert planned in text

    # The same record read before and after the window's end (the report judges at its
    # checkpoint's log time; here the replay is judged at the times given).
    report = build_report(verify_bundle(bundle.read_bytes()))
    for when, counts, line in (
        (ended, "1 open, 0 overdue", None),
        (ended + 1, "0 open, 1 overdue", f"{nimbus['digest']} by clearsight-audit: OVERDUE"),
    ):
        judged = engagements_of(report.replay.timeline, when)
        replay = dataclasses.replace(report.replay, engagements=judged)
        text = render_text(dataclasses.replace(report, replay=replay))
        assert f"Engagements: {counts}, 0 closed, 0 withdrawn" in text
        assert line is None or f"{line} (window ended" in text


def test_report_refuses_a_bundle_that_does_not_verify(
    cli: Cli, demo: RegulatorDemo, tmp_path: Path
) -> None:
    bundle = tmp_path / "n.json"
    _export(cli, demo, bundle)
    data: dict[str, Any] = json.loads(bundle.read_bytes())
    company = [e for e in data["entries"] if e["stream"] == N]
    data["entries"].remove(company[-1])  # the newest entry of the record hidden
    cut = tmp_path / "cut.json"
    cut.write_bytes(canonical.encode(data))
    bad = cli("report", cut, code=1)
    assert "verification FAILED" in bad.stderr
    assert "the record of nimbus-drive is incomplete" in bad.stderr
    assert bad.stdout == ""
    bad = cli("report", bundle, "--genesis", "00" * 32, code=1)
    assert "not the ledger given with --genesis" in bad.stderr


def _drop_newest(bundle: dict[str, Any]) -> None:
    company = [e for e in bundle["entries"] if e["stream"] == N]
    bundle["entries"].remove(company[-1])


def _without(state: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in names}


def test_a_real_server_replays_verified_entries_and_exports_dated_bundles(
    cli: Cli, proc: Proc, demo: RegulatorDemo, tmp_path: Path
) -> None:
    url = demo.info.url
    with serving(proc, url, demo.log_key) as server:
        # replay --server: the company's bundle verified, then replayed here; as --db says.
        for i, cut in enumerate(
            ((), ("--size", "44"), ("--as-of", format_timestamp(demo.times[40])))
        ):
            remote = cli("replay", N, "--server", server, "--format", "json", *cut)
            assert "Replayed from entries verified against the checkpoint" in remote.stderr
            assert ("Trusting this ledger on first use" in remote.stderr) == (i == 0)
            got = json.loads(remote.stdout)
            want = json.loads(cli("replay", N, "--db", url, "--format", "json", *cut).stdout)
            assert got["verifiedAgainst"]["size"] == (
                44 if cut[:1] == ("--size",) else demo.info.entries
            )
            if not cut:  # the present: judged at each command's own clock
                got, want = (
                    _without(got, "evaluatedAt", "evaluatedAtMs"),
                    _without(want, "evaluatedAt", "evaluatedAtMs"),
                )
            assert _without(got, "verifiedAgainst") == want
        table = cli("replay", N, "--server", server, "--size", "44")
        assert "Record of nimbus-drive as of log size 44" in table.stdout
        # A server that hides the newest entry of the record is caught, and nothing is shown.
        with lying_proxy(server, _drop_newest) as liar:
            bad = proc("replay", N, "--server", liar, code=1)
            assert "verification FAILED" in bad.stderr
            assert "the record of nimbus-drive is incomplete" in bad.stderr
            assert bad.stdout == ""

        # export --as-of through the API (bundle?as_of=): the same bytes as from the database.
        when = format_timestamp(demo.times[43] - 1000)
        cli("export", N, "--server", server, "--as-of", when, "-o", tmp_path / "s.json")
        cli("export", N, "--db", url, "--as-of", when, "-o", tmp_path / "d.json")
        assert (tmp_path / "s.json").read_bytes() == (tmp_path / "d.json").read_bytes()
        assert verify_bundle((tmp_path / "s.json").read_bytes()).checkpoint.size == 35
        cli("export", N, "--server", server, "--size", "20", "-o", tmp_path / "s20.json")
        cli("export", N, "--db", url, "--size", "20", "-o", tmp_path / "d20.json")
        assert (tmp_path / "s20.json").read_bytes() == (tmp_path / "d20.json").read_bytes()
        # verify --bundle in a real process whose environment names the server.
        env = {**proc.env, "CLAIMLEDGER_SERVER": server}
        offline = Proc(env, proc.cwd)("verify", "--bundle", tmp_path / "s.json")
        assert "tree size 35" in offline.stdout

        bundle = f"{server}/v1/streams/{N}/bundle"
        r = httpx.get(bundle, params={"as_of": "2000-01-01T00:00:00Z"})
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("/not-found")
        assert "no checkpoint of this log was kept" in r.json()["detail"]
        r = httpx.get(bundle, params={"size": 999})
        assert (r.status_code, r.json()["type"].split("/")[-1]) == (400, "invalid-parameter")
        r = httpx.get(bundle, params={"size": 3, "as_of": "2026-01-01T00:00:00Z"})
        assert (r.status_code, r.json()["type"].split("/")[-1]) == (400, "invalid-parameter")
