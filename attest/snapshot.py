"""The log key's signature over a snapshot of a ledger's derived state (docs/SPEC.md §16).

A ledger rebuilds its derived state (the rules' state, the read views, the Merkle frontier) by
replaying the log. A *snapshot* saves that state at one size so that the next open replays only
the entries after it. The snapshot's data is private to the implementation that wrote it; what
this module defines is the one thing about it that is signed: the binding of the data (by its
SHA-256) to the log at that size, by the tree root a checkpoint of that size signs and by the
state root the last entry's leaf commits to. The log key signs the binding, so a database user
without that key cannot make a server trust a state it did not replay::

    "claimledger:v1:snapshot" 0x00
    <origin>\n
    <size>\n
    <base64 Merkle root of the first size entries>\n
    <base64 state root after entry size - 1>\n
    <base64 SHA-256 of the snapshot data>\n
    <base64 the writer's layout tag>\n

The domain-separation prefix ends in a zero byte, which no signed note may hold, so these bytes are
never a C2SP checkpoint: the log key's two kinds of signed bytes cannot be taken for one another.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from attest.errors import EncodingError, SignatureError
from keys import InvalidSignatureError, PrivateKey, PublicKey

__all__ = ["SNAPSHOT_PREFIX", "SnapshotBinding"]

SNAPSHOT_PREFIX = b"claimledger:v1:snapshot\x00"
"""The domain-separation prefix of the signed bytes."""

_HASH_SIZE = 32
_MAX_SIZE = 1 << 63
_ORIGIN_RE = re.compile(r"[\x21-\x7e][\x20-\x7e]*")


@dataclass(frozen=True, slots=True)
class SnapshotBinding:
    """What the log key signs about a snapshot (SPEC §16.1).

    Attributes:
        origin: the log's origin (its checkpoint name).
        size: the number of entries the snapshot covers (1 or more).
        root: the RFC 9162 root of those entries (as a checkpoint of ``size`` signs it).
        state_root: the state commitment (§11) after entry ``size - 1``, as its leaf commits.
        digest: SHA-256 of the snapshot's data.
        tag: 32 bytes naming the data's layout (the writer's code); a reader with another tag
            does not read the data.

    Raises:
        EncodingError: a field is out of range or a hash is not 32 bytes.
    """

    origin: str
    size: int
    root: bytes
    state_root: bytes
    digest: bytes
    tag: bytes

    def __post_init__(self) -> None:
        if not _ORIGIN_RE.fullmatch(self.origin) or self.origin != self.origin.rstrip():
            raise EncodingError(f"not a checkpoint origin: {self.origin!r}", field="origin")
        if type(self.size) is not int or not 0 < self.size < _MAX_SIZE:
            raise EncodingError(f"snapshot size {self.size!r} is not in 1..2^63-1", field="size")
        for name in ("root", "state_root", "digest", "tag"):
            value = getattr(self, name)
            if type(value) is not bytes or len(value) != _HASH_SIZE:
                raise EncodingError(f"{name} must be {_HASH_SIZE} bytes", field=name)

    def message(self) -> bytes:
        """The signed bytes (SPEC §16.1)."""
        b64 = base64.b64encode
        lines = (
            self.origin,
            str(self.size),
            b64(self.root).decode(),
            b64(self.state_root).decode(),
            b64(self.digest).decode(),
            b64(self.tag).decode(),
        )
        return SNAPSHOT_PREFIX + ("\n".join(lines) + "\n").encode("ascii")

    def sign(self, log_key: PrivateKey) -> bytes:
        """The log key's 64-byte Ed25519 signature over :meth:`message`."""
        return log_key.sign(self.message())

    def verify(self, signature: bytes, log_key: PublicKey) -> None:
        """Check the log key's signature over :meth:`message` (the SIGNATURE rule, §2.2).

        Raises:
            SignatureError: the signature does not verify under ``log_key``.
        """
        try:
            log_key.verify(signature, self.message())
        except InvalidSignatureError as exc:
            raise SignatureError(f"the snapshot's signature does not verify: {exc}") from exc
