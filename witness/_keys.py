"""A witness directory: its name and its two keys (Ed25519 and ML-DSA-44).

::

    DIR/name            the cosigner name, one line (a schema-less URL, e.g. witness.example/w1)
    DIR/ed25519.pem     PKCS#8 Ed25519 key (cosignature/v1), mode 0600
    DIR/mldsa44.pem     PKCS#8 ML-DSA-44 key, seed form (subtree/v1), mode 0600
    DIR/state.db        the state file (witness/_state.py), created by ``serve``

A witness signs unattended, so its keys are stored without a passphrase and protected by the
file mode, like any online signing key; keep the directory on a disk only its operator reads.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa

import keys
from attest import CheckpointError
from attest.cosignature import CosignerSigner
from witness.errors import WitnessError

__all__ = ["WitnessKeys", "init_witness", "load_witness"]

NAME_FILE = "name"
ED25519_FILE = "ed25519.pem"
MLDSA44_FILE = "mldsa44.pem"
STATE_FILE = "state.db"


@dataclass(frozen=True, slots=True)
class WitnessKeys:
    """A witness's name and its two cosigners (same name, two key types)."""

    name: str
    ed25519: CosignerSigner
    mldsa44: CosignerSigner

    @property
    def signers(self) -> tuple[CosignerSigner, CosignerSigner]:
        """Both cosigners, ML-DSA-44 first (the type C2SP recommends)."""
        return (self.mldsa44, self.ed25519)


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 and ``data``, durably, never replacing a file."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def init_witness(directory: str | os.PathLike[str], name: str) -> WitnessKeys:
    """Create a witness directory with a name and two new keys.

    Raises:
        WitnessError: the name is not a valid cosigner name, or a file exists or cannot be
            written (nothing is overwritten).
    """
    ed = keys.PrivateKey.generate()
    ml = mldsa.MLDSA44PrivateKey.generate()
    try:
        made = WitnessKeys(name, CosignerSigner(name, ed), CosignerSigner(name, ml))
    except CheckpointError as exc:
        raise WitnessError(f"witness name {name!r} is refused: {exc.what}") from exc
    root = Path(directory)
    try:
        root.mkdir(parents=True, exist_ok=True)
        for file in (NAME_FILE, ED25519_FILE, MLDSA44_FILE):
            if (root / file).exists():
                raise WitnessError(f"refusing to overwrite {root / file}")
        pem = ml.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_new(root / MLDSA44_FILE, pem)
        ed.save(root / ED25519_FILE, None, unsafe_unencrypted=True)
        _write_new(root / NAME_FILE, (name + "\n").encode("utf-8"))
    except (OSError, keys.KeysError) as exc:
        raise WitnessError(f"cannot write the witness directory {root}: {exc}") from exc
    return made


def load_witness(directory: str | os.PathLike[str]) -> WitnessKeys:
    """Read a witness directory written by :func:`init_witness`.

    Raises:
        WitnessError: a file is missing, unreadable or holds something else.
    """
    root = Path(directory)
    try:
        name = (root / NAME_FILE).read_text(encoding="utf-8")
        ed = keys.PrivateKey.load(root / ED25519_FILE, None)
        ml = serialization.load_pem_private_key((root / MLDSA44_FILE).read_bytes(), None)
    except (OSError, UnicodeDecodeError, ValueError, TypeError, keys.KeysError) as exc:
        raise WitnessError(f"cannot read the witness directory {root}: {exc}") from exc
    if not name.endswith("\n") or "\n" in name[:-1]:
        raise WitnessError(f"{root / NAME_FILE} must hold one line")
    if not isinstance(ml, mldsa.MLDSA44PrivateKey):
        raise WitnessError(f"{root / MLDSA44_FILE} is not an ML-DSA-44 key")
    name = name[:-1]
    try:
        return WitnessKeys(name, CosignerSigner(name, ed), CosignerSigner(name, ml))
    except CheckpointError as exc:
        raise WitnessError(f"witness name {name!r} is refused: {exc.what}") from exc
