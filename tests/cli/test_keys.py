"""``claimledger keys``: generate (encrypted by default), show, export-public."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from keys import PrivateKey, PublicKey
from tests.cli.conftest import Cli


def test_generate_encrypted_from_prompt_and_show(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "me.key"
    out = cli("keys", "generate", path, input="s3cret\ns3cret\n").stdout
    assert "encrypted:  yes" in out
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    key = PrivateKey.load(path, b"s3cret")
    shown = cli("keys", "show", path, input="s3cret\n").stdout
    assert key.public_key.key_id in shown
    assert key.public_key.b64() in shown


def test_passphrase_from_environment_and_export(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIMLEDGER_PASSPHRASE", "from-env")
    path = tmp_path / "me.key"
    info = cli.json("keys", "generate", path)
    assert info["encrypted"] is True
    pem = cli("keys", "export-public", path).stdout.encode()
    public = PublicKey.from_pem(pem)
    assert public.key_id == info["keyId"]
    b64 = cli("keys", "export-public", path, "--format", "b64").stdout.strip()
    assert b64 == info["publicKey"]
    cli("keys", "export-public", path, "-o", tmp_path / "me.pub")
    shown = cli.json("keys", "show", tmp_path / "me.pub")
    assert shown["keyId"] == info["keyId"]
    assert "encrypted" not in shown


def test_unsafe_unencrypted_says_so(cli: Cli, tmp_path: Path) -> None:
    out = cli("keys", "generate", tmp_path / "k.key", "--unsafe-unencrypted").stdout
    assert "NO (unsafe" in out
    assert b"-----BEGIN PRIVATE KEY-----" in (tmp_path / "k.key").read_bytes()


def test_empty_passphrase_is_refused(cli: Cli, tmp_path: Path) -> None:
    result = cli("keys", "generate", tmp_path / "k.key", input="\n\n", code=2)
    assert "empty passphrase is not allowed" in result.stderr
    assert not (tmp_path / "k.key").exists()
