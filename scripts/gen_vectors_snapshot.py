"""Generate the snapshot binding vectors, ``tests/vectors/snapshot/snapshot.json`` (SPEC §16).

Run ``python -m scripts.gen_vectors_snapshot`` to (re)write the file, or ``--check`` to compare it
with what would be written (exit status 1 when it differs). Conventions as the other generators
(SPEC §9). The log is ``log.json``'s: its origin, its log key (example key 2), the root and state
root of its first 7 and all 13 entries; the data digests and layout tags are SHA-256 of fixed
strings (a snapshot's data is private to the implementation that writes it, so only its digest
is pinned). Cases: bindings → signed bytes, signature; refused bindings (size 0, a short hash);
refused signatures (another key, one bit flipped, the binding of another size).
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attest.dsse import Envelope
from attest.entry import entry_hash, leaf_data
from attest.errors import VerificationError
from attest.merkle import MemoryTree, leaf_hash
from attest.snapshot import SnapshotBinding
from keys import PrivateKey
from scripts._vectors import vector_doc, write_or_check
from scripts.gen_vectors import ORIGIN, story_log
from tests.attest.logbuilder import key

__all__ = ["FILE", "VECTORS_DIR", "build", "main"]

Json = dict[str, Any]

VECTORS_DIR = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "snapshot"
FILE = "snapshot.json"
LOG_KEY = 2
OTHER_KEY = 3


def _sha(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _binding_json(b: SnapshotBinding) -> Json:
    return {
        "origin": b.origin,
        "size": b.size,
        "root": b.root.hex(),
        "stateRoot": b.state_root.hex(),
        "digest": b.digest.hex(),
        "tag": b.tag.hex(),
    }


def _refused(name: str, why: str, inp: Json, fn: Callable[[], object]) -> Json:
    try:
        fn()
    except VerificationError as exc:
        error: Json = {"class": type(exc).__name__, "reason": why}
        if exc.field is not None:
            error["field"] = exc.field
        return {"name": name, "input": inp, "error": error}
    raise AssertionError(f"{name}: accepted")


def build() -> dict[str, bytes]:
    """The vector file's name and exact bytes."""
    entries = story_log()[0].entries
    tree = MemoryTree()
    bindings = []
    for i, raw in enumerate(entries):
        assert raw.state_root is not None  # noqa: S101 - every log.json entry has one
        ehash = entry_hash(Envelope.parse_stored(raw.envelope))
        data = leaf_data(
            raw.index, raw.stream, raw.position, raw.log_time_ms, ehash, raw.state_root
        )
        tree.append(leaf_hash(data))
        if i + 1 in (7, 13):
            bindings.append(
                SnapshotBinding(
                    origin=ORIGIN,
                    size=i + 1,
                    root=tree.root(),
                    state_root=raw.state_root,
                    digest=_sha(f"example snapshot data of {i + 1} entries"),
                    tag=_sha("example layout tag"),
                )
            )
    log_key: PrivateKey = key(LOG_KEY)
    cases: list[Json] = []
    for b in bindings:
        sig = b.sign(log_key)
        b.verify(sig, log_key.public_key)
        cases.append(
            {
                "name": f"binding of {b.size} entries",
                "input": {**_binding_json(b), "logKey": log_key.public_key.b64()},
                "expect": {"message": b.message().hex(), "signature": sig.hex()},
            }
        )
    b7, b13 = bindings
    good = b13.sign(log_key)
    flipped = bytes([good[0] ^ 0x01]) + good[1:]
    other = key(OTHER_KEY)
    for name, why, sig, binding in (
        ("signed by another key", "example key 3 is not the log key", b13.sign(other), b13),
        ("one bit flipped", "the first byte of R changed", flipped, b13),
        ("another size", "the signature of 13 entries offered for 7", good, b7),
    ):
        inp = {**_binding_json(binding), "logKey": log_key.public_key.b64(), "signature": sig.hex()}
        cases.append(_refused(name, why, inp, partial(binding.verify, sig, log_key.public_key)))
    fields = _binding_json(b13)
    for name, why, change in (
        ("size 0", "a snapshot covers at least one entry", {"size": 0}),
        ("short root", "hashes are 32 bytes", {"root": b13.root[:31]}),
    ):
        changed = partial(dataclasses.replace, b13, **change)  # __post_init__ runs again
        inp = {**fields, **{k: v.hex() if isinstance(v, bytes) else v for k, v in change.items()}}
        cases.append(_refused(name, why, inp, changed))
    description = (
        "Snapshot bindings: the bytes the log key signs over a snapshot of a ledger's derived "
        "state (prefix, origin, size, root, state root, data digest, layout tag) and their "
        "signatures; refused bindings and signatures. Byte strings are hex; logKey is base64."
    )
    return {FILE: vector_doc(description, "docs/SPEC.md §16", cases)}


def main(argv: list[str] | None = None) -> int:
    """Write the vector file, or with ``--check`` report whether it is up to date."""
    description = __doc__.splitlines()[0] if __doc__ else None
    return write_or_check(build, VECTORS_DIR, argv, description)


if __name__ == "__main__":
    sys.exit(main())
