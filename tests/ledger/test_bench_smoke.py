"""The benchmarks still run and print their figures (``--quick``: tiny sizes; nothing is timed)."""

from __future__ import annotations

import pytest

from bench import bench_core, bench_http, bench_ingest, bench_proofs, bench_verify


def test_bench_ingest_quick(capsys: pytest.CaptureFixture[str]) -> None:
    bench_ingest.main(["--quick", "--no-postgres", "--workers", "2"])
    out = capsys.readouterr().out
    assert "baseline: cryptography Ed25519 verify" in out
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
    assert "x baseline)" in out
    assert "peak RSS of the verifying process" in out
    assert "the rules' state at the end" in out
    assert "CPU per entry" in out


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
