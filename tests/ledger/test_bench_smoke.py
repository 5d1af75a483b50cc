"""The benchmarks still run and print their figures (``--quick``: tiny sizes; nothing is timed)."""

from __future__ import annotations

import re

import orjson
import pytest

from attest.dsse import Envelope
from bench import (
    _workload,
    bench_completeness,
    bench_core,
    bench_http,
    bench_ingest,
    bench_open,
    bench_proofs,
    bench_server,
    bench_verify,
)


def test_bench_ingest_quick(capsys: pytest.CaptureFixture[str]) -> None:
    bench_ingest.main(["--quick", "--no-postgres", "--workers", "2"])
    out = capsys.readouterr().out
    assert "baseline: Ed25519 verify, one core: OpenSSL (cryptography)" in out
    assert "x OpenSSL, " in out
    assert "x libsodium)" in out
    for figure in (
        "submit_many, batches",
        "SignaturePool(2) + submit_signed",
        "submit, one entry per",
    ):
        assert f"sqlite: {figure}" in out
    assert "disk per entry" in out
    assert "where the time goes: prepare" in out


def test_bench_verify_quick(capsys: pytest.CaptureFixture[str]) -> None:
    bench_verify.main(["--quick", "--workers", "2"])
    out = capsys.readouterr().out
    assert "verify_ledger, 2 workers, 600 entries" in out
    assert "x libsodium, of " in out
    assert "peak RSS of the verifying process, growing state on disk (the default)" in out
    assert "peak RSS of the verifying process, growing state in memory" in out
    assert out.count("the rules' state in memory at the end") == 2
    assert "CPU per entry" in out


def test_bench_verify_memory_only_quick(capsys: pytest.CaptureFixture[str]) -> None:
    """The log grown through the rules alone (bench/_bulk.py) passes full verification at each
    checkpoint (a child that fails to verify fails the run), and memory is reported at each."""
    bench_verify.main(["--quick", "--memory-only", "--workers", "2"])
    out = capsys.readouterr().out
    assert "built 6,000 entries into" in out
    assert "through the rules alone" in out
    assert re.search(r"MiB at 600 vs [\d.]+ MiB at 60 ", out)
    assert re.search(r"MiB at 6,000 vs [\d.]+ MiB at 60 ", out)
    assert "verify_ledger, 2 workers" not in out


def test_signed_entries_in_parts_are_the_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Signers in separate processes together sign exactly the workload's entries, each
    stream's in its order."""
    monkeypatch.setattr(_workload, "_now", lambda: "2026-12-07T00:00:00Z")
    whole = list(_workload.signed_entries(997, 7))
    parts = [list(_workload.signed_entries(997, 7, (k, 3))) for k in range(3)]
    assert sum(map(len, parts)) == len(whole) == 997

    def by_stream(envelopes: list[bytes]) -> dict[str, list[bytes]]:
        out: dict[str, list[bytes]] = {}
        for e in envelopes:
            stream = orjson.loads(Envelope.parse_stored(e).payload)["stream"]
            out.setdefault(stream, []).append(e)
        return out

    merged: dict[str, list[bytes]] = {}
    for part in parts:
        for stream, entries in by_stream(part).items():
            assert stream not in merged  # a stream is one part's
            merged[stream] = entries
    assert merged == by_stream(whole)
    kinds = {orjson.loads(Envelope.parse_stored(e).payload)["kind"] for e in whole}
    assert kinds == {"claim.publish", "test.record", "verdict.issue"}


def test_bench_open_quick(capsys: pytest.CaptureFixture[str]) -> None:
    bench_open.main(["--quick", "--backends", "sqlite", "--repeat", "1"])
    out = capsys.readouterr().out
    assert re.search(r"300 entries \(grown in \d+ s", out)
    for label in (
        "replaying every entry",
        "the writer's close (a snapshot when due)",
        "a snapshot with nothing new",
        "open from it, read-only",
    ):
        assert out.count(label) == 2, label
    assert "open from it + 50 new entries" in out
    assert out.count("read-only open + 1 company's replay") == 2
    assert out.count("peak memory, read-only open") == 2
    assert out.count("a snapshot again after those") == 2
    assert out.count("read-only open + the whole log's feed") == 2
    budget = re.findall(r"budget of 20 entries \+ all 50 companies'.* (\d+) of 50 companies'", out)
    assert len(budget) == 2
    assert all(int(left) < 50 for left in budget)  # the budget dropped some parts


def test_bench_server_quick(capsys: pytest.CaptureFixture[str]) -> None:
    bench_server.main(["--quick"])
    out = capsys.readouterr().out
    assert "built 11,000 entries for 100 companies" in out
    assert "first open (replays the bulk log, saves a snapshot) + close" in out
    # The first open saved a snapshot at its close; every later open started from it.
    assert out.count("snapshot 11000") == 9, out
    assert "a writer server's start from the snapshot, then its first search and proof: " in out
    assert "first_search_s " in out
    assert "first_proof_s " in out
    assert "100 companies' records: " in out
    assert "left 100" in out
    assert "size 11020, snapshot 11000, new 20" in out
    assert "one claim each by 100 companies + snapshot: " in out
    assert "size 11120, snapshot 11000, new 100, resident " in out


def test_bench_proofs_quick(capsys: pytest.CaptureFixture[str]) -> None:
    bench_proofs.main(["--quick", "--no-postgres", "--samples", "20"])
    out = capsys.readouterr().out
    for kind in ("inclusion", "consistency"):
        assert out.count(f"{kind:<11}: get_node p50") == 2
    assert "in memory (baseline)" in out


def test_bench_core_quick(capsys: pytest.CaptureFixture[str]) -> None:
    bench_core.main(["--quick"])
    out = capsys.readouterr().out
    for figure in ("ed25519 verify, cryptography (baseline)", "canonical encode", "entry hash"):
        assert figure in out
    assert "inclusion verify @" in out


def test_bench_http_quick(capsys: pytest.CaptureFixture[str]) -> None:
    bench_http.main(["--quick"])
    out = capsys.readouterr().out
    for figure in (
        "library: Ledger.submit_many, batches of 40 (baseline)",
        "trivial GET /ping, 4 clients (baseline)",
        "ledger app GET /healthz, 4 clients",
        "POST /v1/entries, 4 clients",
        "POST /v1/entries receipt latency: p50",
        "POST /v1/entries server CPU per entry by thread",
        "POST /v1/entries:batch, batches of 40, 1 client(s)",
    ):
        assert figure in out
    assert out.count("target >=") == 2
    assert "CPU per request: server" in out


def test_bench_completeness_quick(capsys: pytest.CaptureFixture[str]) -> None:
    bench_completeness.main(["--quick", "--no-browser"])
    out = capsys.readouterr().out
    assert "baseline: one SHA-256 of a map node's preimage" in out
    for k in ("100", "1,000"):  # a row of the map table per size: k, then seven figures
        assert re.search(rf"^ +{k}( +[\d.,]+){{7}}$", out, re.MULTILINE), k
    for figure in (
        r"replay \(LogState\.admit\), CPU us/entry: with commitment +[\d.]+, without +[\d.]+",
        r"-> commitment +-?[\d.]+ us/entry",
        r"full verification \(LogVerifier\.feed, one process\), CPU us/entry: with +[\d.]+",
        r"ingest \(submit_many, batches of 256, SQLite\), us/entry: with: CPU +[\d.]+ \(",
        r"commitment share of ingest: -?[\d.]+% of its CPU per entry",
        r"estimate at k = 1,000",
    ):
        assert re.search(figure, out), figure
    assert "deleted unopened" in out
    # The bundles verified (the line follows verify_bundle), one per registry size.
    assert out.count("bundle verified: 15 entries (11 of the company's stream)") == 2
    for name in ("bundle bytes", "verify_bundle time", "export_bundle time"):
        assert re.search(rf"  {name}: [\d.]+x", out), name


def test_bench_pages_quick(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import bench_pages

    bench_pages.main(["--quick", "--no-browser"])
    out = capsys.readouterr().out
    assert "ledger of 200 companies / 200 services" in out
    assert "home page /: " in out
    assert "search (40 queries" in out
    assert "company page: " in out
    assert "/v1/scorecard first page: " in out
