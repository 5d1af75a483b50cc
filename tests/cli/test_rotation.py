"""Log key rotation from the CLI (issue 15, SPEC §7.6): ``claimledger log-key rotate`` by the
authority, in-process on SQLite and PostgreSQL and through a real ``claimledger serve`` process
holding the next key (``--next-log-key``). Checkpoints before ``fromSize`` verify with the old
key and after it with the new one; ``verify`` (log and bundle), ``report`` and ``monitor`` follow;
a forged rotation and an old-key checkpoint after ``fromSize`` are refused."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from attest import canonical
from attest.checkpoint import Checkpoint, NoteSigner, NoteVerifier, parse_note, sign_checkpoint
from keys import PrivateKey
from ledger import Ledger
from tests.cli.conftest import AUTHORITY, PROVIDER, Proc, World, one_line_error, running

ORIGIN = "test.claimledger.example/log"


def _vkey(path: Path) -> str:
    return NoteVerifier.for_key(ORIGIN, PrivateKey.load(path, None).public_key).vkey()


def _size(note: bytes) -> int:
    return Checkpoint.parse_body(parse_note(note)[0]).size


def _new_key(world: World) -> Path:
    path = world.keys / "log-next.key"
    world.cli("keys", "generate", path, "--unsafe-unencrypted")
    return path


def test_rotate_then_verify_every_way(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cli, db = world.cli, world.db()
    authority: list[str | Path] = [*db, "--key", world.key("authority"), "--signer", AUTHORITY]
    new = _new_key(world)
    cli("verify", *db)  # remembered under the old key
    # The ledger refuses a rotation to a key it does not hold: it could not sign from fromSize.
    line = one_line_error(cli("log-key", "rotate", *authority, "--public-key", new, code=1).stderr)
    assert "does not hold the private key of the new log key" in line, line
    monkeypatch.setenv("CLAIMLEDGER_NEXT_LOG_KEY", str(new))
    # Only the authority rotates the log key.
    line = one_line_error(
        cli("log-key", "rotate", *db, *world.as_party(PROVIDER), "--public-key", new, code=1).stderr
    )
    assert "only the authority may sign log.key.rotate" in line, line
    before = world.size()
    out = cli.json("log-key", "rotate", *authority, "--public-key", new)
    assert out["index"] == before
    from_size = before + 2
    world.publish()  # the log reaches fromSize: the new key signs
    world.publish("report.authority")
    with Ledger.open(world.url) as led:
        assert led.state.log_key_at(from_size) == PrivateKey.load(new, None).public_key
        handover = led.checkpoint_at(from_size - 1)
        latest = led.checkpoint()
    assert _size(handover) == from_size - 1
    _signed_by(handover, world.key("log"))  # the hand-over note: the old key
    assert _size(latest) > from_size
    _signed_by(latest, new)
    out = cli("verify", *db).stdout  # continues from the checkpoint remembered under the old key
    assert "verified" in out.lower(), out
    # The provider's bundle, its report, and the monitor.
    bundle = tmp_path / "acme.bundle.json"
    cli("export", PROVIDER, *db, "-o", bundle)
    assert json.loads(bundle.read_text())["logKey"] == _vkey(new)
    cli("verify", "--bundle", bundle)
    assert _vkey(new) in cli("report", bundle).stdout
    cli("monitor", *db, "--once", "--ndjson")
    # After fromSize the old key alone cannot write; with the new key as the log key it can.
    monkeypatch.delenv("CLAIMLEDGER_NEXT_LOG_KEY")
    failed = cli(
        "claim", "publish", *db, *world.as_party(PROVIDER), "--body", _claim(world), code=None
    )
    assert failed.exit_code != 0
    assert "not the one in force" in one_line_error(failed.stderr), failed.stderr
    monkeypatch.setenv("CLAIMLEDGER_LOG_KEY", str(new))
    world.publish()
    cli("verify", *db)
    # A bundle whose checkpoint the old key signed after fromSize is refused, by name.
    doc = json.loads(bundle.read_text())
    cp = Checkpoint.parse_body(parse_note(doc["checkpoint"].encode())[0])
    doc["checkpoint"] = sign_checkpoint(
        cp, NoteSigner(ORIGIN, PrivateKey.load(world.key("log"), None))
    ).decode()
    doc["logKey"] = _vkey(world.key("log"))
    forged = tmp_path / "forged.bundle.json"
    forged.write_bytes(canonical.encode(doc))
    line = one_line_error(cli("verify", "--bundle", forged, code=1).stderr)
    assert "verification FAILED" in line, line
    assert "is not the log key in force at its checkpoint's size" in line, line


def test_rotate_through_a_real_server(sqlite_world: World, proc: Proc) -> None:
    """``serve --next-log-key``; the rotation and later entries through the server; verify and
    monitor against it; the server's checkpoint is signed by the new key after fromSize."""
    world, cli = sqlite_world, sqlite_world.cli
    new = _new_key(world)
    serve = ["serve", "--db", world.url, "--log-key", str(world.key("log"))]
    with running(proc, [*serve, "--next-log-key", str(new)], "/v1/log/checkpoint") as base:
        server: list[str | Path] = ["--server", base]
        authority = [*server, "--key", world.key("authority"), "--signer", AUTHORITY]
        cli("verify", *server)
        rotated = cli.json("log-key", "rotate", *authority, "--public-key", new)
        from_size = int(rotated["index"]) + 2
        cli("claim", "publish", *server, *world.as_party(PROVIDER), "--body", _claim(world))
        note = httpx.get(f"{base}/v1/log/checkpoint").content
        assert _size(note) == from_size
        _signed_by(note, new)
        assert httpx.get(f"{base}/v1/log/key").text.strip() == _vkey(new)
        cli("verify", *server)
        cli("verify", *server, PROVIDER)
        cli("monitor", *server, "--once")
    # Restarted with only the old key after fromSize: refused at open (exit 3), one line.
    stopped = proc(*serve, "--port", "0", code=3)
    assert "not the one in force" in stopped.stderr, stopped.stderr


def _signed_by(note: bytes, key_file: Path) -> None:
    """The note's log signature verifies under the key in ``key_file`` (and no other line)."""
    text, lines = parse_note(note)
    verifier = NoteVerifier.from_vkey(_vkey(key_file))
    (line,) = [x for x in lines if x.key_id == verifier.key_id]
    verifier.key.verify(line.signature, text)


def _claim(world: World) -> Path:
    from tests.cli.conftest import claim_body

    path = world.keys.parent / "claim-rot.json"
    path.write_text(json.dumps(claim_body()))
    return path


def test_tiles_across_a_rotation(
    sqlite_world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``tiles export`` (with and without bundles) before and after the rotation, and
    ``verify`` (log and record) and ``monitor`` from the static tiles."""
    from tests.cli.test_tiles import static_server

    world, cli, db = sqlite_world, sqlite_world.cli, sqlite_world.db()
    authority: list[str | Path] = [*db, "--key", world.key("authority"), "--signer", AUTHORITY]
    new = _new_key(world)
    world.publish()
    out, bare = tmp_path / "tiles", tmp_path / "bare"
    cli("tiles", "export", *db, out)
    cli("tiles", "export", "--no-bundles", *db, bare)
    monkeypatch.setenv("CLAIMLEDGER_NEXT_LOG_KEY", str(new))
    cli.json("log-key", "rotate", *authority, "--public-key", new)
    world.publish("report.authority")
    world.publish()
    # The exports continue from the old-key checkpoint they hold to a new-key one.
    cli("tiles", "export", *db, out)
    cli("tiles", "export", "--no-bundles", *db, bare)
    _signed_by((out / "checkpoint").read_bytes(), new)
    _signed_by((bare / "checkpoint").read_bytes(), new)
    # Again, with nothing new: the new-key checkpoint each holds is recognised as this log's.
    assert "up to date" in cli("tiles", "export", *db, out).output
    assert "up to date" in cli("tiles", "export", "--no-bundles", *db, bare).output
    with static_server(out) as base:
        assert "Verified" in cli("verify", "--tiles", base).output
        cli("verify", PROVIDER, "--tiles", base)
        cli("monitor", "--tiles", base, "--once")
