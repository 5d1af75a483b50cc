"""Ed25519 signature checks, libsodium against OpenSSL: ``python -m bench.bench_signatures``.

Prints, in one run on this machine (one core, 1,500-byte messages, best of 5 rounds):

* the single-core baselines: ``cryptography``'s (OpenSSL) ``Ed25519PublicKey.verify`` and PyNaCl's
  (libsodium) ``crypto_sign_open``;
* the SPEC §2.2 rule as shipped (``keys.PublicKey.verify``: length, small-order R and S < L checked
  in Python, the equation by libsodium) and the same rule with the equation by OpenSSL (the path
  before libsodium);
* a differential run of ``--differential`` random and mutated (key, signature, message) triples
  (tests/keys/differential.py): the number on which the two paths disagree (must be 0).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import crypto_sign_open

from bench._util import machine, rate, stamp
from keys import PrivateKey
from tests.keys.differential import cases, disagreements


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--differential", type=int, default=200_000)
    args = ap.parse_args(argv)
    print(f"# bench_signatures  {stamp()}  {machine()}")
    print(f"# load before: {os.getloadavg()[0]:.2f} (1-min average)\n")

    msg = bytes(i % 251 for i in range(1500))
    ossl = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    ossl_pub, ossl_sig = ossl.public_key(), ossl.sign(msg)
    k = PrivateKey.from_seed(bytes(range(32)))
    pub, sig = k.public_key, k.sign(msg)
    raw = pub.raw

    rates = {
        "OpenSSL Ed25519PublicKey.verify (baseline)": rate(
            lambda: ossl_pub.verify(ossl_sig, msg), 4000
        ),
        "libsodium crypto_sign_open (baseline)": rate(
            lambda: crypto_sign_open(sig + msg, raw), 4000
        ),
        "SPEC §2.2 as shipped (checks + libsodium)": rate(lambda: pub.verify(sig, msg), 4000),
        "SPEC §2.2 with OpenSSL (checks + OpenSSL)": rate(lambda: _old_path(pub, sig, msg), 4000),
    }
    base = rates["OpenSSL Ed25519PublicKey.verify (baseline)"]
    print("| check | verifies/s | vs OpenSSL |")
    print("| --- | ---: | ---: |")
    for name, r in rates.items():
        print(f"| {name} | {r:,.0f} | {r / base:.2f}x |")

    t0 = time.perf_counter()
    wrong, seen = disagreements(cases(args.differential, seed=2026))
    took = time.perf_counter() - t0
    print(
        f"\ndifferential run: {args.differential:,} triples in {took:.0f} s; "
        f"accepted {seen['accepted']:,}, refused {seen['refused']:,}, "
        f"weak key {seen['weak key']:,}; disagreements: {len(wrong)}"
    )
    if wrong:
        raise SystemExit(f"the paths disagree, e.g. {[c.hex() for c in wrong[0]]}")


def _old_path(pub: object, sig: bytes, msg: bytes) -> None:
    from keys._ed25519 import SMALL_ORDER_ENCODINGS, L, PublicKey

    assert isinstance(pub, PublicKey)
    if len(sig) != 64 or sig[:32] in SMALL_ORDER_ENCODINGS:
        raise ValueError
    if int.from_bytes(sig[32:], "little") >= L:
        raise ValueError
    if not pub.verify_openssl(sig, msg):
        raise ValueError


if __name__ == "__main__":
    main()
