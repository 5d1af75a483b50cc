"""Single-core rates of the pure core (issue 2): run ``python -m bench.bench_core``.

Prints, per second on one core: Ed25519 verify through ``keys`` (next to raw ``cryptography``
as the baseline), canonical encode and strict decode of a typical claim, entry hashing, and
Merkle inclusion-proof verification in a tree of 1,000,000 leaves; then what opening one stored
claim entry costs, stage by stage (the stateless half of every path: ingest, verification, open).
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from attest import canonical
from attest.dsse import Envelope, sign_envelope
from attest.entry import entry_hash
from attest.merkle import MerkleFrontier, inclusion_proof, node_hash, verify_inclusion
from attest.rules import open_envelope
from attest.statements import parse_statement
from bench._util import machine, rate, stamp
from keys import PrivateKey, PublicKey
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


def _open_stages(env: Envelope, pub: PublicKey, n: int) -> None:
    """Microseconds per stage of opening one stored claim entry, and their sum."""
    stored = env.to_bytes()
    parsed = Envelope.parse_stored(stored)
    obj = canonical.decode_object(parsed.payload)
    stages = {
        "Envelope.parse_stored": lambda: Envelope.parse_stored(stored),
        "Envelope.verify (Ed25519)": lambda: parsed.verify(pub),
        "canonical.decode_object": lambda: canonical.decode_object(parsed.payload),
        "parse_statement": lambda: parse_statement(obj),
    }
    total = 0.0
    print(f"opening one stored claim entry ({len(stored)} bytes), by stage:")
    for name, fn in stages.items():
        us = 1e6 / rate(fn, n)
        total += us
        print(f"  {name:<27} {us:7.1f} us")
    whole = 1e6 / rate(lambda: open_envelope(Envelope.parse_stored(stored), pub), n)
    sig = 1e6 / rate(lambda: parsed.verify(pub), n)
    print(
        f"  sum of stages {total:.1f} us; open_envelope(parse_stored) end to end {whole:.1f} us, "
        f"of which the signature is {sig / whole:.0%}"
    )


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
    _open_stages(env, key.public_key, n)

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
