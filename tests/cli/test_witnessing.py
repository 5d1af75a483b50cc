"""A ledger witnessed by a real witness, end to end, with real processes on loopback.

``claimledger witness serve`` and ``claimledger serve --witness-policy`` run as processes; the
ledger's server submits each new checkpoint, keeps the cosigned one and serves it; the CLI
enforces a policy (``verify --policy``, ``export --cosigned``); two forks of one ledger under one
log key are caught (the witness refuses fork B, a client holding fork A's checkpoint rejects B).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from attest.checkpoint import Checkpoint, parse_note
from attest.policy import parse_policy, verify_policy
from attest.tlogwitness import add_checkpoint_body
from ledger import Ledger
from tests.cli.conftest import PROVIDER, Proc, World, claim_body, copy_sqlite, free_port, running
from witness import load_witness

COSIGNED = "/v1/log/checkpoint/cosigned"


@contextmanager
def witness(proc: Proc, wdir: Path, logs: Path) -> Iterator[str]:
    with running(
        proc, ["witness", "serve", "--dir", str(wdir), "--logs", str(logs)], "/" + "0" * 64
    ) as base:
        yield base


@contextmanager
def ledger_server(
    proc: Proc, w: World, policy: Path | None, url: str | None = None
) -> Iterator[str]:
    args = ["serve", "--db", url or w.url, "--log-key", str(w.key("log"))]
    if policy is not None:
        args += ["--witness-policy", str(policy)]
    with running(proc, args, "/v1/log") as base:
        yield base


def _wait_for_a_refusal(server: str) -> None:
    """Wait until the server's witnessing counted a failed add-checkpoint (its /metrics)."""
    deadline = time.monotonic() + 30
    while True:
        families = text_string_to_metric_families(httpx.get(server + "/metrics").text)
        if any(
            s.name == "claimledger_witness_failures" and s.value >= 1
            for family in families
            for s in family.samples
        ):
            return
        assert time.monotonic() < deadline, "the server never tried its witness"
        time.sleep(0.1)


def _log_vkey(url: str) -> str:
    with Ledger.open(url) as led:
        return led.note_verifier.vkey()


def _witness_dir(proc: Proc, tmp_path: Path, name: str) -> Path:
    wdir = tmp_path / name
    proc("witness", "init", "--dir", wdir, "--name", f"witness.example/{name}")
    return wdir


def _logs_file(proc: Proc, tmp_path: Path, vkey: str) -> Path:
    entry = proc("witness", "log-entry", "--vkey", vkey, "--contact", "ops@example").stdout
    assert f" {vkey}\n" in entry
    logs = tmp_path / "logs.txt"
    logs.write_text("logs/v0\n" + entry)
    return logs


def _policy_text(vkey: str, wdir: Path, url: str | None, prefix: str = "") -> str:
    keys = load_witness(wdir)
    tail = f" {url}" if url else ""
    return (
        f"witness {prefix}ml {keys.mldsa44.verifier.vkey()}{tail}\n"
        f"witness {prefix}ed {keys.ed25519.verifier.vkey()}{tail}\n"
    )


def _write_policy(path: Path, vkey: str, witnesses: str, quorum: str) -> Path:
    path.write_text(f"log {vkey}\n{witnesses}{quorum}")
    return path


def _cosigned(base: str, at_least: int, timeout: float = 20.0) -> tuple[bytes, float]:
    """Poll the cosigned checkpoint until it covers ``at_least`` entries; (note, seconds)."""
    start = time.monotonic()
    while True:
        r = httpx.get(base + COSIGNED, timeout=5)
        if r.status_code == 200 and _size(r.content) >= at_least:
            return r.content, time.monotonic() - start
        assert r.status_code in (200, 404), r.text
        if time.monotonic() - start > timeout:
            pytest.fail(f"no cosigned checkpoint of size >= {at_least} after {timeout} s")
        time.sleep(0.02)


def _size(note: bytes) -> int:
    return Checkpoint.parse_body(parse_note(note)[0]).size


def _publish(proc: Proc, w: World, server: str, tmp_path: Path, measure: str) -> dict[str, object]:
    body = tmp_path / f"claim-{os.urandom(4).hex()}.json"
    body.write_text(json.dumps(claim_body(measure)))
    return proc.json("claim", "publish", "--server", server, *w.as_party(PROVIDER), "--body", body)


def test_ledger_server_has_its_checkpoints_cosigned(
    world: World, proc: Proc, tmp_path: Path
) -> None:
    w = world
    vkey = _log_vkey(w.url)
    wdir = _witness_dir(proc, tmp_path, "w1")
    logs = _logs_file(proc, tmp_path, vkey)
    with witness(proc, wdir, logs) as wurl:
        witnesses = _policy_text(vkey, wdir, wurl)
        policy_file = _write_policy(
            tmp_path / "policy.txt", vkey, witnesses, "group w1 all ml ed\nquorum w1\n"
        )
        policy = parse_policy(policy_file.read_bytes())
        with ledger_server(proc, w, policy_file) as server:
            assert httpx.get(server + "/v1/log/witness-policy").content == policy_file.read_bytes()
            # The operator prints the ledger's own entry without copying its vkey by hand.
            own = proc("witness", "log-entry", "--server", server, "--contact", "ops@example")
            assert "logs/v0\n" + own.stdout == logs.read_text()
            note, _ = _cosigned(server, w.size())
            verified = verify_policy(note, policy)
            assert [name for name, _ in verified.cosigners] == ["ml", "ed"]
            # Receipts stay immediate and log-signed; the cosigned checkpoint follows.
            delays = []
            for measure in (
                "detect.hash_known_image",
                "report.authority",
                "detect.hash_known_video",
            ):
                receipt = _publish(proc, w, server, tmp_path, measure)
                assert "witness" not in str(receipt["checkpoint"])
                size = int(str(receipt["treeSize"]))
                note, delay = _cosigned(server, size)
                delays.append(delay)
                assert verify_policy(note, policy).checkpoint.size >= size
            print(f"cosigning delays (s): {', '.join(f'{d:.3f}' for d in delays)}")
            assert max(delays) < 5.0
            # The client side: whole log, one company, and a bundle exported cosigned.
            out = proc("verify", "--server", server, "--policy", policy_file).stdout
            assert "cosigned by:        ml (at " in out
            assert ", ed (at " in out
            out = proc("verify", PROVIDER, "--server", server, "--policy", policy_file).stdout
            assert "Verified the record of acme-social" in out
            assert "cosigned by:        ml" in out
            bundle = tmp_path / "cosigned.bundle.json"
            proc("export", PROVIDER, "--server", server, "--cosigned", "-o", bundle)
            assert "— witness.example/w1 " in json.loads(bundle.read_text())["checkpoint"]
            plain = tmp_path / "plain.bundle.json"
            proc("export", PROVIDER, "--server", server, "-o", plain)
            remote = tmp_path / "remote.tlog-proof"
            proc("proof", "2", "--server", server, "-o", remote)
            out = proc("proof", "verify", remote, "--policy", policy_file).stdout
            assert "Verified entry 2 " in out
        out = proc("verify", "--bundle", bundle, "--policy", policy_file).stdout
        assert "cosigned by:        ml" in out
        # A bundle with the log's signature only is below quorum: never "verified".
        bad = proc("verify", "--bundle", plain, "--policy", policy_file, code=1)
        assert "below quorum w1: cosigned by none" in bad.stderr
        assert "Verified" not in bad.stdout
        # A stricter policy: a second witness that never cosigned this log.
        w2 = _witness_dir(proc, tmp_path, "w2")
        strict = _write_policy(
            tmp_path / "strict.txt",
            vkey,
            witnesses + _policy_text(vkey, w2, None, "two-"),
            "group w1 all ml ed\ngroup w2 all two-ml two-ed\ngroup both all w1 w2\nquorum both\n",
        )
        bad = proc("verify", "--bundle", bundle, "--policy", strict, code=1)
        assert "below quorum both: cosigned by ml, ed" in bad.stderr
        assert "group w2 needs 2 of 2 (two-ml, two-ed), has 0" in bad.stderr
        assert "Verified" not in bad.stdout
        # The database keeps the cosigned checkpoint: the CLI reads it from there too.
        out = proc("verify", "--db", w.url, "--policy", policy_file).stdout
        assert "cosigned by:        ml" in out
        local = tmp_path / "local.bundle.json"
        proc("export", PROVIDER, "--db", w.url, "--cosigned", "-o", local)
        proc("verify", "--bundle", local, "--policy", policy_file)
        _check_proofs(proc, w, tmp_path, policy_file, strict)


def _check_proofs(proc: Proc, w: World, tmp_path: Path, policy: Path, strict: Path) -> None:
    """``claimledger proof INDEX`` and ``proof verify``, from the database."""
    with Ledger.open(w.url) as led:
        size = _size(led.cosigned_checkpoint() or b"")
    src = ["--db", w.url]
    for index in (0, size - 1):
        out_file = tmp_path / f"e{index}.tlog-proof"
        envelope = tmp_path / f"e{index}.json"
        proc("proof", str(index), *src, "-o", out_file, "--entry-out", envelope)
        text = out_file.read_text()
        assert text.startswith("c2sp.org/tlog-proof@v1\nextra ")
        assert f"\nindex {index}\n" in text
        assert "— witness.example/w1 " in text
        out = proc("proof", "verify", out_file, "--policy", policy, "--entry", envelope).stdout
        assert f"Verified entry {index} " in out
        assert "cosigned by: ml, ed" in out
    other = tmp_path / "e0.json"
    bad = proc("proof", "verify", out_file, "--policy", policy, "--entry", other, code=1)
    assert "is not the entry hash" in bad.stderr
    bad = proc("proof", "verify", out_file, "--policy", strict, code=1)
    assert "below quorum both: cosigned by ml, ed" in bad.stderr
    tampered = tmp_path / "tampered.tlog-proof"
    tampered.write_text(out_file.read_text().replace(f"\n{size}\n", f"\n{size + 1}\n", 1))
    proc("proof", "verify", tampered, "--policy", policy, code=1)
    # Against the log's latest checkpoint: signed by the log only, below the policy's quorum.
    latest = tmp_path / "latest.tlog-proof"
    proc(
        "proof",
        "entry",
        "1",
        *src,
        "--log-key",
        w.key("log"),
        "--checkpoint",
        "latest",
        "-o",
        latest,
    )
    bad = proc("proof", "verify", latest, "--policy", policy, code=1)
    assert "below quorum w1: cosigned by none" in bad.stderr
    # An index the cosigned checkpoint does not cover yet.
    bad = proc("proof", str(size + 100), *src, "-o", tmp_path / "none.tlog-proof", code=1)
    assert "is not in the checkpoint" in bad.stderr


def test_a_witness_down_is_retried_and_never_stops_the_ledger(
    sqlite_world: World, proc: Proc, tmp_path: Path
) -> None:
    w = sqlite_world
    vkey = _log_vkey(w.url)
    wdir = _witness_dir(proc, tmp_path, "w1")
    logs = _logs_file(proc, tmp_path, vkey)
    port = free_port()
    wurl = f"http://127.0.0.1:{port}"
    policy_file = _write_policy(
        tmp_path / "policy.txt",
        vkey,
        _policy_text(vkey, wdir, wurl),
        "group w1 all ml ed\nquorum w1\n",
    )
    with ledger_server(proc, w, policy_file) as server:
        # The witness is down: entries are still accepted at once, nothing is cosigned.
        started = time.monotonic()
        receipt = _publish(proc, w, server, tmp_path, "report.authority")
        assert time.monotonic() - started < 10
        assert httpx.get(server + COSIGNED).status_code == 404
        problem = httpx.get(server + COSIGNED).json()
        assert problem["type"].endswith("/not-found")
        # The witness comes up on that port: the next retry gets the checkpoint cosigned.
        witness_args = ["witness", "serve", "--dir", str(wdir), "--logs", str(logs)]
        with running(proc, witness_args, "/" + "0" * 64, port=port):
            note, _ = _cosigned(server, int(str(receipt["treeSize"])), timeout=90)
        verify_policy(note, parse_policy(policy_file.read_bytes()))
    # The ledger's server restarts after more entries: it goes on from what it kept.
    w.publish("detect.url_blocklist")
    with (
        running(proc, witness_args, "/" + "0" * 64, port=port),
        ledger_server(proc, w, policy_file) as server,
    ):
        note, _ = _cosigned(server, w.size())
        verify_policy(note, parse_policy(policy_file.read_bytes()))


def test_split_view_between_two_forks_of_one_ledger(
    sqlite_world: World, proc: Proc, tmp_path: Path
) -> None:
    """Two ledgers forked from one prefix under one log key, one witness, two servers, two
    clients: one holds fork A's cosigned checkpoint, the other only ever sees fork B."""
    w = sqlite_world
    w.publish()
    fork_b = f"sqlite:///{tmp_path / 'fork-b.db'}"
    copy_sqlite(w.url, Path(fork_b.removeprefix("sqlite:///")))
    w.publish("report.authority")  # fork A: one more entry
    w.cli("claim", "publish", "--db", fork_b, *w.as_party(PROVIDER), "--body", _body(tmp_path))
    w.cli("claim", "publish", "--db", fork_b, *w.as_party(PROVIDER), "--body", _body(tmp_path))
    vkey = _log_vkey(w.url)
    assert _log_vkey(fork_b) == vkey
    wdir = _witness_dir(proc, tmp_path, "w1")
    logs = _logs_file(proc, tmp_path, vkey)
    with witness(proc, wdir, logs) as wurl:
        policy_file = _write_policy(
            tmp_path / "policy.txt",
            vkey,
            _policy_text(vkey, wdir, wurl),
            "group w1 all ml ed\nquorum w1\n",
        )
        with ledger_server(proc, w, policy_file) as server_a:
            held_note, _ = _cosigned(server_a, w.size())
            out = proc("verify", "--server", server_a, "--policy", policy_file).stdout
            assert "cosigned by:        ml" in out
        held = Checkpoint.parse_body(parse_note(held_note)[0])
        with ledger_server(proc, w, policy_file, url=fork_b) as server_b:
            # The witness refuses fork B: 409 with its size, then 422 for B's proof.
            with Ledger.open(fork_b) as led_b:
                note_b = httpx.get(server_b + "/v1/log/checkpoint").content
                size_b = _size(note_b)
                assert size_b > held.size
                r = httpx.post(wurl + "/add-checkpoint", content=add_checkpoint_body(0, [], note_b))
                assert (r.status_code, r.text) == (409, f"{held.size}\n")
                proof = led_b.consistency_proof(held.size, size_b)
                r = httpx.post(
                    wurl + "/add-checkpoint", content=add_checkpoint_body(held.size, proof, note_b)
                )
                assert r.status_code == 422
            _wait_for_a_refusal(server_b)  # B's server tried too: it has nothing cosigned
            assert httpx.get(server_b + COSIGNED).status_code == 404
            # The client that holds fork A's cosigned checkpoint rejects B, naming both.
            cp_b = Checkpoint.parse_body(parse_note(note_b)[0])
            for args in (["verify"], ["verify", PROVIDER]):
                bad = proc(*args, "--server", server_b, code=1)
                assert "shows two histories" in bad.stderr
                assert f"size {held.size} root {_b64(held.root)}" in bad.stderr
                assert f"size {cp_b.size} root {_b64(cp_b.root)}" in bad.stderr
                assert "Verified" not in bad.stdout
            bad = proc("verify", "--server", server_b, "--policy", policy_file, code=1)
            assert "below quorum" in bad.stderr
            # A second client (its own config directory) that only ever sees fork B, with the
            # policy: B's checkpoint has no cosignature, so it is never "verified" either.
            other = Proc({**proc.env, "CLAIMLEDGER_CONFIG_DIR": str(tmp_path / "c2")}, proc.cwd)
            for args in (["verify"], ["verify", PROVIDER]):
                bad = other(*args, "--server", server_b, "--policy", policy_file, code=1)
                assert "below quorum" in bad.stderr
                assert "Verified" not in bad.stdout


def _body(tmp_path: Path) -> Path:
    path = tmp_path / f"claim-{os.urandom(4).hex()}.json"
    path.write_text(json.dumps(claim_body("detect.hash_known_video")))
    return path


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
