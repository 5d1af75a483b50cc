"""Key files: passphrases (prompt or ``CLAIMLEDGER_PASSPHRASE``), loading and saving."""

from __future__ import annotations

import os
from pathlib import Path

import click

from cli._errors import CliError
from cli._i18n import _
from keys import PrivateKey, PublicKey

__all__ = [
    "PASSPHRASE_ENV",
    "is_encrypted",
    "load_private_key",
    "load_public_key",
    "new_passphrase",
    "passphrase_for",
    "save_new_key",
]

PASSPHRASE_ENV = "CLAIMLEDGER_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
_ENCRYPTED = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
_PRIVATE = b"-----BEGIN PRIVATE KEY-----"


def is_encrypted(path: Path) -> bool:
    """Whether the key file at ``path`` is an encrypted PKCS#8 PEM.

    Raises:
        OSError: the file cannot be read.
    """
    return _ENCRYPTED in path.read_bytes()


def _prompt(text: str, *, confirm: bool) -> bytes:
    try:
        value: str = click.prompt(
            text, hide_input=True, confirmation_prompt=confirm, err=True, default=""
        )
    except click.Abort:
        raise CliError(
            _("no passphrase given (set %(PASSPHRASE_ENV)s or run interactively)")
            % {"PASSPHRASE_ENV": PASSPHRASE_ENV}
        ) from None
    return value.encode("utf-8")


def passphrase_for(path: Path) -> bytes:
    """The passphrase for the existing encrypted key file ``path`` (environment, else prompt)."""
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env.encode("utf-8")
    value = _prompt(f"Passphrase for {path}", confirm=False)
    if not value:
        raise CliError(_("%(path)s is encrypted and no passphrase was given") % {"path": path})
    return value


def new_passphrase(path: Path) -> bytes:
    """A passphrase to encrypt a new key file with (environment, else prompt twice)."""
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env.encode("utf-8")
    value = _prompt(f"New passphrase for {path}", confirm=True)
    if not value:
        raise CliError(
            _(
                "an empty passphrase is not allowed (use --unsafe-unencrypted to write "
                "the key in the clear)"
            )
        )
    return value


def load_private_key(path: Path) -> PrivateKey:
    """Load a private key file, asking for its passphrase only if it is encrypted.

    Raises:
        KeysError: the file is not a claimledger (Ed25519 PKCS#8) key, or the passphrase is wrong.
        OSError: the file cannot be read.
    """
    data = path.read_bytes()
    passphrase = passphrase_for(path) if _ENCRYPTED in data else None
    return PrivateKey.from_pem(data, passphrase)


def save_new_key(
    path: Path, *, unsafe_unencrypted: bool, key: PrivateKey | None = None
) -> PrivateKey:
    """Generate a key (or take ``key``) and write it to the new file ``path`` (never overwriting).

    Raises:
        CliError: ``path`` exists.
        KeysError: the key cannot be written.
    """
    if path.exists():
        raise CliError(
            _("%(path)s already exists; refusing to overwrite a key file") % {"path": path}
        )
    key = key or PrivateKey.generate()
    if unsafe_unencrypted:
        key.save(path, None, unsafe_unencrypted=True)
    else:
        key.save(path, new_passphrase(path))
    return key


def load_public_key(spec: str) -> PublicKey:
    """A public key from base64 (44 characters) or a file (public PEM or private key file).

    Raises:
        KeysError: the key is malformed or refused.
        OSError: the file cannot be read.
    """
    if len(spec) == 44 and spec.endswith("=") and not os.path.exists(spec):
        return PublicKey.from_b64(spec)
    path = Path(spec)
    data = path.read_bytes()
    if _ENCRYPTED in data or _PRIVATE in data:
        return load_private_key(path).public_key
    return PublicKey.from_pem(data)
