"""Generate the single-entry proof vectors, ``tests/vectors/proof/tlog-proof.json`` (SPEC §13).

Run ``python -m scripts.gen_vectors_proof`` to (re)write the file, or ``--check`` to compare it
with what would be written (exit status 1 when it differs). Same conventions as
``scripts/gen_vectors_witness.py``: fixed seeds and times, ``{"description", "spec", "cases"}``,
each case ``{name, input, expect | error}``, sorted keys, ASCII, a trailing newline; every
expectation is computed by the library, and every refusal is checked to be refused here.

The log holds five entries with synthetic envelopes (their signatures are not checked by a
tlog-proof: only their entry hashes are, SPEC §5.1). Its checkpoints are cosigned by the Ed25519
witness of SPEC §12.9, whose cosignatures are deterministic and pinned byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from attest.cosignature import CosignerSigner, cosign
from attest.dsse import PAYLOAD_TYPE, Envelope, Signature
from attest.entry import entry_hash, leaf_data
from attest.errors import VerificationError
from attest.merkle import MemoryTree, leaf_hash
from attest.policy import parse_policy
from attest.tlogproof import tlog_proof, verify_tlog_proof
from keys import KeyId, PrivateKey
from scripts._vectors import vector_doc, write_or_check

__all__ = ["FILE", "VECTORS_DIR", "build", "main"]

Json = dict[str, Any]

VECTORS_DIR = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "proof"
FILE = "tlog-proof.json"

ORIGIN = "claimledger.example/log"
WITNESS = "witness.example/w1"
LOG_SEED = b"\x01" * 32
ED_SEED = bytes(range(32))
TIME = 1_800_000_000
LOG_TIME_MS = 1_800_000_000_000
STREAMS = ("registry", "acme-social", "registry", "acme-social", "acme-social")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def envelope(i: int) -> bytes:
    """A synthetic envelope for entry ``i`` (stored form); only its entry hash matters here."""
    payload = json.dumps({"entry": i}, separators=(",", ":")).encode("ascii")
    sig = Signature(KeyId(hashlib.sha256(b"key %d" % i).hexdigest()), bytes([i]) * 64)
    return Envelope(PAYLOAD_TYPE, payload, (sig,)).to_bytes()


def leaves() -> list[Json]:
    """The five entries: their leaf fields and leaf data."""
    out: list[Json] = []
    positions: dict[str, int] = {}
    for i, stream in enumerate(STREAMS):
        position = positions.get(stream, 0)
        positions[stream] = position + 1
        ehash = entry_hash(Envelope.parse_stored(envelope(i)))
        root = hashlib.sha256(b"state root %d" % i).digest()
        data = leaf_data(i, stream, position, LOG_TIME_MS + 1000 * i, ehash, root)
        out.append(
            {
                "index": i,
                "stream": stream,
                "position": position,
                "logTimeMs": LOG_TIME_MS + 1000 * i,
                "entryHash": ehash.hex(),
                "stateRoot": root.hex(),
                "data": data,
            }
        )
    return out


def _tree(items: list[Json]) -> MemoryTree:
    return MemoryTree(leaf_hash(item["data"]) for item in items)


def log_signer() -> NoteSigner:
    return NoteSigner(ORIGIN, PrivateKey.from_seed(LOG_SEED))


def ed_cosigner() -> CosignerSigner:
    return CosignerSigner(WITNESS, PrivateKey.from_seed(ED_SEED))


def note(tree: MemoryTree, size: int, *, cosigned: bool = True) -> bytes:
    signed = sign_checkpoint(Checkpoint(ORIGIN, size, tree.root(size)), log_signer())
    return signed + cosign(signed, ed_cosigner(), TIME) if cosigned else signed


def policy() -> str:
    return (
        f"log {log_signer().verifier.vkey()}\n"
        f"witness w1 {ed_cosigner().verifier.vkey()} https://witness.example/w1\n"
        "quorum w1\n"
    )


def _leaf_input(item: Json) -> Json:
    return {k: v for k, v in item.items() if k != "data"}


def _refused(name: str, input_: Json, reason: str, call: Callable[[], object]) -> Json:
    try:
        call()
    except VerificationError as exc:
        return {
            "name": name,
            "input": input_,
            "error": {"class": type(exc).__name__, "reason": reason},
        }
    raise AssertionError(f"vector {name!r} was expected to be refused but was accepted")


def _proofs(cases: list[Json]) -> dict[str, bytes]:
    items = leaves()
    tree = _tree(items)
    pol = parse_policy(policy().encode())
    made: dict[str, bytes] = {}
    for index, size in ((0, 1), (0, 5), (2, 5), (4, 5), (3, 4)):
        item = items[index]
        proof = tree.inclusion_proof(index, size)
        data = tlog_proof(item["data"], proof, note(tree, size))
        verified = verify_tlog_proof(data, pol, envelope=envelope(index))
        if verified.leaf.to_bytes() != item["data"] or verified.witnessed.checkpoint.size != size:
            raise AssertionError((index, size))
        made[f"{index}/{size}"] = data
        cases.append(
            {
                "name": f"proof: entry {index} in the cosigned checkpoint of size {size}",
                "input": {
                    "leaf": _leaf_input(item),
                    "envelope": envelope(index).decode("ascii"),
                    "size": size,
                    "policy": policy(),
                },
                "expect": {
                    "leafData": item["data"].hex(),
                    "leafHash": leaf_hash(item["data"]).hex(),
                    "inclusionProof": [_b64(h) for h in proof],
                    "root": _b64(tree.root(size)),
                    "tlogProof": data.decode("utf-8"),
                    "cosigners": ["w1"],
                },
            }
        )
    return made


def _refusals(cases: list[Json], made: dict[str, bytes]) -> None:
    items = leaves()
    tree = _tree(items)
    pol = parse_policy(policy().encode())
    good = made["2/5"]
    text = good.decode("utf-8")
    lines = text.split("\n")

    def refuse(name: str, data: str, reason: str, env: bytes | None = None) -> None:
        input_: Json = {"tlogProof": data, "policy": policy()}
        if env is not None:
            input_["envelope"] = env.decode("ascii")
        cases.append(
            _refused(
                name,
                input_,
                reason,
                lambda: verify_tlog_proof(data.encode("utf-8"), pol, envelope=env),
            )
        )

    def joined(replaced: dict[int, str | None]) -> str:
        out = [replaced.get(i, line) for i, line in enumerate(lines)]
        return "\n".join(line for line in out if line is not None)

    refuse("refused: another first line", joined({0: "c2sp.org/tlog-proof@v2"}), "header")
    refuse("refused: no extra line", joined({1: None}), "claimledger proofs carry the leaf data")
    refuse("refused: index line not the leaf's index", joined({2: "index 3"}), "index mismatch")
    refuse("refused: index with a leading zero", joined({2: "index 02"}), "index line")
    unpadded = lines[3].rstrip("=")
    refuse("refused: proof line without padding", joined({3: unpadded}), "non-canonical base64")
    flipped = bytearray(base64.b64decode(lines[3]))
    flipped[0] ^= 1
    refuse(
        "refused: a flipped bit in a proof hash",
        joined({3: _b64(bytes(flipped))}),
        "inclusion proof does not lead to the root",
    )
    refuse("refused: a proof hash missing", joined({4: None}), "proof of the wrong length")
    short = _b64(items[2]["data"][:-1])
    refuse("refused: leaf data cut short", joined({1: "extra " + short}), "leaf data")
    other = bytearray(items[2]["data"])
    other[-1] ^= 1  # another state root: another leaf hash
    refuse(
        "refused: leaf data with another state root",
        joined({1: "extra " + _b64(bytes(other))}),
        "inclusion proof does not lead to the root",
    )
    bare = tlog_proof(items[2]["data"], tree.inclusion_proof(2, 5), note(tree, 5, cosigned=False))
    refuse("refused: no cosignature (below quorum)", bare.decode(), "below quorum")
    sig_line = next(i for i, line in enumerate(lines) if line.startswith(f"— {WITNESS} "))
    blob = bytearray(base64.b64decode(lines[sig_line].split(" ")[2]))
    blob[-1] ^= 1
    refuse(
        "refused: a cosignature with a flipped bit",
        joined({sig_line: f"— {WITNESS} {_b64(bytes(blob))}"}),
        "cosignature does not verify",
    )
    refuse(
        "refused: another entry's envelope",
        text,
        "the envelope's entry hash is not the leaf's",
        envelope(3),
    )
    refuse("refused: no empty line before the checkpoint", text.replace("\n\n", "\n", 1), "framing")


def build() -> dict[str, bytes]:
    """The vector file's name and exact bytes."""
    cases: list[Json] = []
    made = _proofs(cases)
    _refusals(cases, made)
    description = (
        "Single-entry proofs in the C2SP tlog-proof format: the leaf data of "
        "SPEC §6.1 in the extra line, the inclusion proof, a checkpoint cosigned by an Ed25519 "
        "witness; verified under a tlog-policy, and refusals"
    )
    return {FILE: vector_doc(description, "docs/SPEC.md §13", cases)}


def main(argv: list[str] | None = None) -> int:
    """Write the vector file(s), or with ``--check`` report whether they are up to date."""
    description = __doc__.splitlines()[0] if __doc__ else None
    return write_or_check(build, VECTORS_DIR, argv, description)


if __name__ == "__main__":
    sys.exit(main())
