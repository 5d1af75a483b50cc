"""Single-core rates of the pure core (issue 2): run ``python -m bench.bench_core``.

Prints, per second on one core: Ed25519 verify through ``keys`` (next to raw ``cryptography``
as the baseline), canonical encode and strict decode of a typical claim, entry hashing, and
Merkle inclusion-proof verification in a tree of 1,000,000 leaves.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from attest import canonical
from attest.dsse import sign_envelope
from attest.entry import entry_hash
from attest.merkle import MerkleFrontier, inclusion_proof, node_hash, verify_inclusion
from bench._util import machine, rate, stamp
from keys import PrivateKey
from tests.attest.examples import example_claim_body

SIZE = 1_000_000


def _typical_claim() -> bytes:
    statement = {
        "v": 1,
        "kind": "claim.publish",
        "stream": "example-social",
        "prev": "ab" * 32,
        "signer": "example-social",
        "signedAt": "2026-11-25T12:00:00Z",
        "body": example_claim_body(),
    }
    return canonical.encode(statement)  # type: ignore[arg-type]


def _sparse_tree_node(level: int, index: int) -> bytes:
    # A deterministic stand-in for stored nodes: proofs only read O(log n) of them.
    return hashlib.sha256(b"%d/%d" % (level, index)).digest()


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="single-core rates of the pure core")
    ap.add_argument("--quick", action="store_true", help="a 1,000-leaf tree, few rounds (smoke)")
    args = ap.parse_args(argv)
    size, n = (1_000, 200) if args.quick else (SIZE, 5000)
    print(f"# bench_core — {stamp()} — {machine()}")
    msg = b"x" * 200
    raw = Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)
    raw_pub, raw_sig = raw.public_key(), raw.sign(msg)
    key = PrivateKey.from_seed(b"\x01" * 32)
    pub, sig = key.public_key, key.sign(msg)
    base = rate(lambda: raw_pub.verify(raw_sig, msg), n)
    ours = rate(lambda: pub.verify(sig, msg), n)
    print(f"ed25519 verify, cryptography (baseline): {base:10,.0f} /s")
    print(f"ed25519 verify, keys.PublicKey.verify:   {ours:10,.0f} /s  ({ours / base:.2f}x)")

    payload = _typical_claim()
    value = canonical.decode(payload)
    print(f"typical claim statement: {len(payload)} bytes")
    print(f"canonical encode:        {rate(lambda: canonical.encode(value), n):10,.0f} /s")
    print(f"canonical strict decode: {rate(lambda: canonical.decode(payload), n):10,.0f} /s")

    env = sign_envelope(payload, key)
    print(f"entry hash:              {rate(lambda: entry_hash(env), 4 * n):10,.0f} /s")

    # A real 1,000,000-leaf frontier gives the real root; proofs come from a node function that
    # is consistent with it, so every proof below verifies.
    frontier = MerkleFrontier()
    leaves = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(size)]
    nodes: dict[tuple[int, int], bytes] = {}
    for leaf in leaves:
        for level, index, h in frontier.append(leaf):
            nodes[(level, index)] = h
    root = frontier.root()
    del leaves
    idx = 123_457 % size
    proof = inclusion_proof(idx, size, lambda lv, ix: nodes[(lv, ix)])
    leaf = nodes[(0, idx)]
    verify_inclusion(leaf, idx, size, proof, root)
    r = rate(lambda: verify_inclusion(leaf, idx, size, proof, root), 4 * n)
    print(f"inclusion verify @{size:.0e}: {r:10,.0f} /s  ({len(proof)} hashes)")
    assert node_hash(b"\x00" * 32, b"\x00" * 32)


if __name__ == "__main__":
    main()
