"""A simulated log for the witness tests: a Merkle tree, its note key, and request bodies."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

import keys
from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from attest.loglist import logs_v0_entry
from attest.merkle import MemoryTree, leaf_hash

ORIGIN = "claimledger.example/log"


class SimLog:
    """A log: leaves in a :class:`MemoryTree`, checkpoints signed with a fixed note key."""

    def __init__(self, origin: str = ORIGIN, seed: bytes = b"\x01" * 32, tag: bytes = b"") -> None:
        self.signer = NoteSigner(origin, keys.PrivateKey.from_seed(seed))
        self.origin = origin
        self.tree = MemoryTree()
        self.tag = tag

    def grow(self, n: int) -> SimLog:
        for _ in range(n):
            i = self.tree.size
            self.tree.append(leaf_hash(self.tag + i.to_bytes(8, "big")))
        return self

    def fork(self, tag: bytes) -> SimLog:
        """A copy with the same leaves and key, whose new leaves differ from this one's."""
        other = SimLog(self.origin, tag=tag)
        other.signer = self.signer
        for i in range(self.tree.size):
            other.tree.append(self.tree.get_node(0, i))
        return other

    def checkpoint(self, size: int | None = None) -> Checkpoint:
        size = self.tree.size if size is None else size
        return Checkpoint(self.origin, size, self.tree.root(size))

    def note(self, size: int | None = None) -> bytes:
        return sign_checkpoint(self.checkpoint(size), self.signer)

    def request(self, old: int, size: int | None = None, *, note: bytes | None = None) -> bytes:
        size = self.tree.size if size is None else size
        proof = self.tree.consistency_proof(old, size) if 0 < old < size else []
        return body(old, proof, self.note(size) if note is None else note)

    def vkey(self) -> str:
        return self.signer.verifier.vkey()

    def list_entry(self) -> str:
        return logs_v0_entry(self.vkey(), self.origin, 86400, "ops@claimledger.example")


def body(old: int, proof: Sequence[bytes], note: bytes) -> bytes:
    lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
    return ("\n".join(lines) + "\n\n").encode() + note


def logs_file(*logs: SimLog) -> bytes:
    return ("logs/v0\n" + "".join("\n" + log.list_entry() for log in logs)).encode()


def origin_hash(origin: str) -> str:
    return hashlib.sha256(origin.encode()).hexdigest()
