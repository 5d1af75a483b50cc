"""Standard exports against a real server process over the demo ledger (built once):

- open data: the CSV files parse (csv module) into the same rows as the JSON files; the rows are
  the ledger's views (scorecard cells, entry facts and signed statements); every row and a
  response header state the checkpoint; ``claimledger open-data DIR`` through ``--db`` and
  through ``--server`` writes the server's bytes for the same checkpoint, and a SHA256SUMS that
  ``sha256sum -c`` accepts;
- in-toto: ``claimledger export-intoto --key`` writes, through ``--db`` and ``--server``, the
  same envelopes, each accepted by the in-toto-attestation library and verified by
  securesystemslib with the verifier's registered key; ``/v1/entries/{index}/in-toto`` serves
  the same Statements unsigned;
- a lying server (a proxy on loopback) that alters a test record gets no re-signature, and one
  that serves a file built at another checkpoint gets no dump (exit 1, no partial file).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from attest import canonical
from attest.statements import parse_timestamp
from cli._demo import DemoLedger, build_demo
from keys import PrivateKey
from ledger import RECORD_COLUMNS, SCORECARD_COLUMNS, Ledger
from tests.attest.test_intoto import (
    validate_with_intoto_attestation,
    verify_with_securesystemslib,
)
from tests.cli.conftest import Cli, Proc, running
from tests.conftest import loopback_http

AT = "2026-12-01T12:00:00Z"
FILES = ("scorecard.csv", "scorecard.json", "records.csv", "records.jsonl")


@dataclass
class Served:
    info: DemoLedger
    base: str
    size: int
    root: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("exports")
    info = build_demo(
        f"sqlite:///{root / 'ledger.db'}", root / "keys", today_ms=int(time.time()) * 1000
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMLEDGER_")}
    env["CLAIMLEDGER_CONFIG_DIR"] = str(root / "config")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    (root / "cwd").mkdir()
    proc = Proc(env, root / "cwd")
    args = ["serve", "--db", info.url, "--log-key", str(info.keys_dir / "log.key")]
    with running(proc, args, "/v1/log/checkpoint") as base:
        note = httpx.get(base + "/v1/log/checkpoint").content.decode()
        _origin, size, root_b64 = note.split("\n")[:3]
        yield Served(info, base, int(size), root_b64)


def _get(served: Served, name: str, **params: Any) -> httpx.Response:
    response = httpx.get(f"{served.base}/v1/open-data/{name}", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response


def _as_csv(value: Any) -> str:
    """A JSON value as its CSV cell (ledger/_opendata.py, docs/architecture/api.md)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return canonical.encode(value).decode()
    return str(value)


def _csv_rows(data: bytes, columns: tuple[str, ...]) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    assert tuple(reader.fieldnames or ()) == columns
    return list(reader)


def test_csv_and_json_hold_the_same_rows_and_state_the_checkpoint(served: Served) -> None:
    params = {"size": served.size, "at": AT}
    scorecard = _get(served, "scorecard.json", **params).json()
    records = [
        json.loads(line) for line in _get(served, "records.jsonl", **params).content.splitlines()
    ]
    assert scorecard["checkpoint"]["size"] == served.size
    assert scorecard["checkpoint"]["root"] == served.root
    assert scorecard["licence"] == "CC-BY-4.0"
    for name, columns, rows in (
        ("scorecard.csv", SCORECARD_COLUMNS, scorecard["rows"]),
        ("records.csv", RECORD_COLUMNS, records),
    ):
        response = _get(served, name, **params)
        assert response.headers["claimledger-checkpoint-size"] == str(served.size)
        assert response.headers["claimledger-checkpoint-root"] == served.root
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
        parsed = _csv_rows(response.content, columns)
        assert parsed == [{c: _as_csv(row[c]) for c in columns} for row in rows]
        assert all(list(row) == list(columns) for row in rows)
        assert {(r["checkpointSize"], r["checkpointRoot"]) for r in rows} == {
            (served.size, served.root)
        }
    assert len(records) == served.size
    # a CSV cell holding text with commas, quotes or newlines parses back whole
    assert any("," in r["name"] for r in scorecard["rows"])
    assert any("\n" in json.dumps(r["body"]) or '"' in _as_csv(r["body"]) for r in records)


def test_rows_are_the_ledgers_views(served: Served) -> None:
    at_ms = parse_timestamp(AT)
    params = {"size": served.size, "at": AT}
    scorecard = _get(served, "scorecard.json", **params).json()["rows"]
    records = [
        json.loads(line) for line in _get(served, "records.jsonl", **params).content.splitlines()
    ]
    with Ledger.open(served.info.url) as ledger:
        card = ledger.views.scorecard(at_ms=at_ms, size=served.size)
        cells = [(row, c) for row in card.rows for c in row.cells if c.status != "no_claim"]
        facts = ledger.views.search(limit=10_000)
        entries = ledger.log_entries(0, served.size)
    assert [(r["provider"], r["measure"], r["status"]) for r in scorecard] == [
        (row.provider, cell.measure, cell.status) for row, cell in cells
    ]
    assert [r["claims"] for r in scorecard] == [
        [c.digest.hex() for c in cell.claims] for _row, cell in cells
    ]
    assert {r["status"] for r in scorecard} >= {"confirmed", "contradicted", "unverified"}
    assert "no_claim" not in {r["status"] for r in scorecard}
    assert [(r["index"], r["kind"], r["signer"], r["digest"], r["measure"]) for r in records] == [
        (f.index, f.kind, f.signer, f.digest.hex(), f.measure) for f in facts
    ]
    for r, e in zip(records, entries, strict=True):
        payload = _payload(e.envelope)
        statement = json.loads(payload)
        assert (r["body"], r["signedAt"]) == (statement["body"], statement["signedAt"])
        assert r["digest"] == hashlib.sha256(payload).hexdigest()


def _payload(envelope: bytes) -> bytes:
    return base64.b64decode(json.loads(envelope)["payload"])


def _keyid(envelope: bytes) -> str:
    return str(json.loads(envelope)["signatures"][0]["keyid"])


def test_caching_and_refusals(served: Served) -> None:
    fixed = _get(served, "records.csv", size=served.size, at=AT)
    assert fixed.headers["cache-control"] == "public, max-age=31536000, immutable"
    again = httpx.get(
        f"{served.base}/v1/open-data/records.csv",
        params={"size": served.size, "at": AT},
        headers={"If-None-Match": fixed.headers["etag"]},
    )
    assert again.status_code == 304
    latest = _get(served, "scorecard.csv")
    assert latest.headers["cache-control"].startswith("public, max-age=5")
    assert latest.headers["claimledger-checkpoint-size"] == str(served.size)
    # an older checkpoint: fewer rows, its own root
    older = _get(served, "records.jsonl", size=10, at=AT)
    assert len(older.content.splitlines()) == 10
    assert older.headers["claimledger-checkpoint-root"] != served.root
    for params, status in (
        ({"size": served.size + 1}, 400),
        ({"at": "yesterday"}, 400),
    ):
        bad = httpx.get(f"{served.base}/v1/open-data/records.csv", params=params)
        assert bad.status_code == status
        assert bad.headers["content-type"] == "application/problem+json"
    assert httpx.get(f"{served.base}/v1/open-data/secrets.csv").status_code == 400


def test_open_data_cli_writes_the_servers_bytes(served: Served, tmp_path: Path) -> None:
    cli = Cli()
    by_db, by_server = tmp_path / "db", tmp_path / "server"
    cli("open-data", by_db, "--db", served.info.url, "--at", AT)
    out = cli("open-data", by_server, "--server", served.base, "--at", AT).stdout
    assert f"size {served.size}" in out
    note = httpx.get(served.base + "/v1/log/checkpoint").content
    for name in FILES:
        api = _get(served, name, size=served.size, at=AT).content
        assert (by_db / name).read_bytes() == api, name
        assert (by_server / name).read_bytes() == api, name
    for d in (by_db, by_server):
        assert (d / "checkpoint").read_bytes() == note
        listed = (d / "SHA256SUMS").read_text().splitlines()
        assert sorted(line.split("  ")[1] for line in listed) == sorted([*FILES, "checkpoint"])
    if shutil.which("sha256sum"):  # the tool a downloader runs
        subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=by_server, check=True)
    for line in (by_db / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((by_db / name).read_bytes()).hexdigest() == digest


def test_export_intoto_by_a_real_consumer(served: Served, tmp_path: Path) -> None:
    cli = Cli()
    verifier = "clearsight-audit"
    key_path = served.info.keys_dir / f"{verifier}.key"
    key = PrivateKey.load(key_path, None)
    by_db, by_server = tmp_path / "db.intoto.jsonl", tmp_path / "server.intoto.jsonl"
    cli("export-intoto", "--key", key_path, "--db", served.info.url, "-o", by_db)
    cli("export-intoto", "--key", key_path, "--server", served.base, "-o", by_server)
    assert by_db.read_bytes() == by_server.read_bytes()  # Ed25519 is deterministic
    lines = by_server.read_bytes().splitlines()
    with Ledger.open(served.info.url) as ledger:
        facts = ledger.views.search(limit=10_000)
        entries = ledger.log_entries(0, served.size)
    mine = [
        f
        for f, e in zip(facts, entries, strict=True)
        if f.kind in ("test.record", "verdict.issue")
        and _keyid(e.envelope) == key.public_key.key_id
    ]
    assert {f.kind for f in mine} == {"test.record", "verdict.issue"}
    statements = []
    for line in lines:
        payload = verify_with_securesystemslib(line, key.public_key.raw)
        statement = json.loads(payload)
        validate_with_intoto_attestation(statement)
        statements.append(statement)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for s in statements:
        by_type.setdefault(s["predicateType"], []).append(s)
    ours = [
        *by_type.pop("https://claimledger.dev/test-record/v1", []),
        *by_type.pop("https://claimledger.dev/verdict/v1", []),
    ]
    assert sorted(s["predicate"]["log"]["index"] for s in ours) == [f.index for f in mine]
    vsas = by_type.pop("https://slsa.dev/verification_summary/v1")
    assert not by_type
    decided = [f for f in mine if f.kind == "verdict.issue" and f.result != "INCONCLUSIVE"]
    assert sorted(v["predicate"]["policy"]["digest"]["sha256"] for v in vsas) == sorted(
        f.digest.hex() for f in decided
    )
    # the server's unsigned Statements are the same
    for s in ours:
        index = s["predicate"]["log"]["index"]
        assert httpx.get(f"{served.base}/v1/entries/{index}/in-toto").json() == s


def test_intoto_refusals(served: Served, tmp_path: Path) -> None:
    cli = Cli()
    key_path = served.info.keys_dir / "clearsight-audit.key"
    result = cli(
        "export-intoto",
        "--key",
        key_path,
        "--db",
        served.info.url,
        "-o",
        tmp_path / "x",
        "--index",
        "0",
        code=2,
    )
    assert "no test record or verdict signed with this key at index 0" in result.stderr
    assert not (tmp_path / "x").exists()
    claim = httpx.get(f"{served.base}/v1/entries/5/in-toto")
    assert claim.status_code == 404
    assert claim.headers["content-type"] == "application/problem+json"
    with Ledger.open(served.info.url) as ledger:
        verdicts = ledger.views.search(kind="verdict.issue", limit=1000)
    inconclusive = [f for f in verdicts if f.result == "INCONCLUSIVE"]
    contradicted = [f for f in verdicts if f.result == "CONTRADICTED"]
    assert inconclusive
    assert contradicted
    assert (
        httpx.get(f"{served.base}/v1/entries/{inconclusive[0].index}/in-toto/vsa").status_code
        == 404
    )
    vsa = httpx.get(f"{served.base}/v1/entries/{contradicted[0].index}/in-toto/vsa").json()
    validate_with_intoto_attestation(vsa)
    assert vsa["predicate"]["verificationResult"] == "FAILED"


def test_the_data_page_links_each_download_and_describes_each_column(served: Served) -> None:
    page = httpx.get(f"{served.base}/data")
    assert page.status_code == 200
    html = page.text
    for name in FILES:
        assert f'href="/v1/open-data/{name}"' in html
    assert "CC BY 4.0" in html
    assert f'<code class="hash" id="data-root">{served.root}</code>' in html
    for name in (*SCORECARD_COLUMNS, *RECORD_COLUMNS):
        assert f"<td><code>{name}</code></td>" in html
    assert 'href="/data"' in httpx.get(f"{served.base}/").text  # the footer of every page


@contextmanager
def lying_proxy(upstream: str, lie: Callable[[str, bytes, dict[str, str]], bytes]) -> Iterator[str]:
    """An HTTP proxy on loopback to ``upstream`` whose answers ``lie`` may rewrite (body and
    headers)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            r = httpx.get(upstream + self.path, timeout=30)
            headers = {k: v for k, v in r.headers.items() if k.startswith("claimledger-")}
            body = lie(self.path, r.content, headers) if r.is_success else r.content
            self.send_response(r.status_code)
            self.send_header("content-type", r.headers.get("content-type", "application/json"))
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with loopback_http(Handler) as url:
        yield url


def _forge_test_records(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """Change one character of every test record's summary, keeping its signature."""
    if not path.startswith("/v1/log/entries"):
        return body
    out = []
    for line in body.splitlines():
        entry = json.loads(line)
        env = json.loads(entry["envelope"])
        payload = base64.b64decode(env["payload"])
        at = payload.find(b'"summary":"')
        if b'"kind":"test.record"' in payload and at >= 0:
            at += len(b'"summary":"')
            payload = (
                payload[:at] + (b"B" if payload[at : at + 1] == b"A" else b"A") + payload[at + 1 :]
            )
            env["payload"] = base64.b64encode(payload).decode()
            entry["envelope"] = canonical.encode(env).decode()
        out.append(json.dumps(entry).encode())
    return b"\n".join(out) + b"\n"


def test_a_lying_server_gets_no_re_signature_and_no_dump(served: Served, tmp_path: Path) -> None:
    cli = Cli()
    key_path = served.info.keys_dir / "clearsight-audit.key"
    out = tmp_path / "forged.intoto.jsonl"
    with lying_proxy(served.base, _forge_test_records) as proxy:
        result = cli("export-intoto", "--key", key_path, "--server", proxy, "-o", out, code=1)
    assert "does not verify" in result.stderr
    assert not out.exists()

    def other_root(path: str, body: bytes, headers: dict[str, str]) -> bytes:
        if path.startswith("/v1/open-data/records"):
            headers["claimledger-checkpoint-root"] = "A" * 43 + "="
        return body

    dump = tmp_path / "dump"
    with lying_proxy(served.base, other_root) as proxy:
        result = cli("open-data", dump, "--server", proxy, "--at", AT, code=1)
    assert "the server built it at checkpoint" in result.stderr
    assert not (dump / "records.csv").exists()
    assert not (dump / "SHA256SUMS").exists()
    assert not list(dump.glob(".*.tmp"))
