"""``verify``: what it remembers, and how it catches rollbacks, forks and other ledgers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import (
    PROVIDER,
    Cli,
    Proc,
    World,
    copy_sqlite,
    free_port,
    make_world,
    one_line_error,
)
from tests.ledger.conftest import raw_execute


def _db_path(world: World) -> Path:
    return Path(world.url.removeprefix("sqlite:///"))


def test_rollback_is_caught(sqlite_world: World, tmp_path: Path) -> None:
    w = sqlite_world
    snapshot = tmp_path / "snapshot.db"
    copy_sqlite(w.url, snapshot)
    w.publish()
    w.publish("report.authority")
    w.cli("verify", *w.db())
    copy_sqlite(f"sqlite:///{snapshot}", _db_path(w))  # the operator serves an older log
    result = w.cli("verify", *w.db(), code=1)
    line = one_line_error(result.stderr)
    assert "verification FAILED" in line
    assert "rollback" in line
    # the trust store still holds the larger checkpoint: it keeps failing
    w.cli("verify", *w.db(), code=1)


def test_fork_is_caught_at_the_first_rewritten_index(sqlite_world: World, tmp_path: Path) -> None:
    w = sqlite_world
    snapshot = tmp_path / "snapshot.db"
    copy_sqlite(w.url, snapshot)
    size = w.size()
    w.publish()
    w.cli("verify", *w.db())
    copy_sqlite(f"sqlite:///{snapshot}", _db_path(w))
    w.publish("report.authority")  # same size, different entry at index `size`
    result = w.cli("verify", *w.db(), code=1)
    line = one_line_error(result.stderr)
    assert "fork or rollback" in line
    assert f"index {size}" in line


def test_another_ledger_at_the_same_place_is_caught(
    cli: Cli, sqlite_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = sqlite_world
    cli("verify", *w.db())
    for suffix in ("", "-wal", "-shm"):
        Path(f"{_db_path(w)}{suffix}").unlink(missing_ok=True)
    other = make_world(cli, w.url, tmp_path / "other-keys", monkeypatch)
    assert other.fingerprint != w.fingerprint
    result = cli("verify", *w.db(), code=1)
    line = one_line_error(result.stderr)
    assert f"not the ledger pinned for sqlite:///{_db_path(w)} on first use" in line
    assert w.fingerprint in line


def test_pinned_genesis(sqlite_world: World) -> None:
    w = sqlite_world
    result = w.cli("verify", *w.db(), "--genesis", w.fingerprint)
    assert "(given with --genesis)" in result.stdout
    assert "Trusting this ledger on first use" not in result.stdout
    result = w.cli("verify", *w.db(), "--genesis", "00" * 32, code=1)
    assert "not the ledger given with --genesis" in one_line_error(result.stderr)


def test_trust_store_is_in_the_config_dir(sqlite_world: World, tmp_path: Path) -> None:
    w = sqlite_world
    w.cli("verify", *w.db())
    store = json.loads((tmp_path / "config" / "trust.json").read_text())
    (log,) = store["logs"].values()
    assert log["genesis"] == w.fingerprint
    assert log["size"] == w.size()
    (source,) = store["sources"].values()
    assert source["genesis"] == w.fingerprint


def test_tampered_database_names_the_entry(sqlite_world: World) -> None:
    w = sqlite_world
    w.publish()
    size = w.size()
    raw_execute(
        w.url,
        "UPDATE claimledger_events SET state = CAST(replace(CAST(state AS TEXT), "
        "'statement.v1+json', 'statement.v9+json') AS BLOB) "
        "WHERE topic = ? AND CAST(state AS TEXT) LIKE ?",
        ("claimledger.v1:EntryAppended", '%"stream":"acme-social"%'),
    )
    result = w.cli("verify", *w.db(), code=1)
    line = one_line_error(result.stderr)
    assert "the database fails verification" in line
    assert f"stream acme-social, position 0, index {size - 1}" in line


def test_verify_quiet_prints_nothing(sqlite_world: World) -> None:
    result = sqlite_world.cli("verify", *sqlite_world.db(), "-q")
    assert result.stdout == ""


def test_company_record_is_proved_consistent_with_an_older_checkpoint(
    sqlite_world: World, tmp_path: Path
) -> None:
    w = sqlite_world
    w.publish()
    w.cli("export", "acme-social", *w.db(), "-o", tmp_path / "old.bundle")
    w.cli("verify", *w.db())
    w.publish("report.authority")
    out = w.cli("verify", "acme-social", *w.db()).stdout  # a consistency proof from the ledger
    assert "consistent with the checkpoint verified" in out
    # an older offline bundle verifies, but cannot be checked against the newer checkpoint
    out = w.cli("verify", "--bundle", tmp_path / "old.bundle").stdout
    assert "not checked: an offline bundle" in out


def test_an_older_record_proved_a_prefix_is_not_a_rollback(tmp_path: Path) -> None:
    """A cache or a lagging replica shows an older checkpoint than the one trusted: the server
    proves it a prefix of the trusted one, so it is reported as older, not as a rollback; a proof
    that fails is a fork, and a server that cannot prove it is a rollback."""
    from attest import ProofError, verify_checkpoint
    from cli._backend import LocalBackend
    from cli._errors import CliError
    from cli._verifying import verify_bundle_bytes, verify_full_log
    from ledger import export_bundle
    from tests.ledger.actors import P, claim, init_ledger, register_story

    with init_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as led:
        register_story(led)
        led.submit(claim(led, P))
        older = led.size
        old = export_bundle(led, P, checkpoint=led.checkpoint_at(older))
        led.submit(claim(led, P, "report.authority"))
        trusted = verify_checkpoint(led.checkpoint(), led.note_verifier)
        assert trusted.size > older

        out = verify_bundle_bytes(
            old,
            genesis_hash=None,
            trusted_for=lambda vkey: trusted,
            proof_for=led.consistency_proof,
        )
        assert out.checkpoint.size == older
        assert "older checkpoint" in out.remark
        assert "not a rollback" in out.remark

        def forged(a: int, b: int) -> list[bytes]:
            return [bytes(32) for _ in led.consistency_proof(a, b)]

        with pytest.raises(ProofError):
            verify_bundle_bytes(
                old, genesis_hash=None, trusted_for=lambda vkey: trusted, proof_for=forged
            )

        def cannot(a: int, b: int) -> list[bytes]:
            raise CliError(f"the server's log is smaller than {b}")

        with pytest.raises(ProofError, match="rollback"):
            verify_bundle_bytes(
                old, genesis_hash=None, trusted_for=lambda vkey: trusted, proof_for=cannot
            )
        old_note = led.checkpoint_at(older)

    # The whole log, shown at the older checkpoint: verified as of it, proved a prefix.
    backend = LocalBackend(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        whole = verify_full_log(backend, genesis_hash=None, trusted=trusted, note=old_note)
        assert whole.checkpoint.size == older
        assert "not a rollback" in whole.remark
    finally:
        backend.close()


def test_a_ledger_of_the_previous_storage_format_is_refused_in_one_line(
    world: World, proc: Proc, tmp_path: Path
) -> None:
    """The storage format bump (format 3, SPEC §11): a ledger written before it is refused by
    `verify`, `export` and a real `serve` process with one readable line and exit 2, on SQLite
    and PostgreSQL; nothing is served or written from it."""
    raw_execute(world.url, "UPDATE claimledger_meta SET value=? WHERE key=?", (2, "format"))
    out = tmp_path / "record.bundle.json"
    for args in (
        ["verify", *world.db()],
        ["export", PROVIDER, *world.db(), "-o", out],
        ["serve", *world.db(), "--log-key", world.key("log"), "--port", str(free_port())],
    ):
        line = one_line_error(proc(*args, code=2).stderr)
        assert "holds a ledger in storage format 2, written before its Merkle leaves" in line
        assert "start a new ledger with `claimledger init`" in line
    assert not out.exists()
