"""A differential run of the SIGNATURE rule: libsodium's path against OpenSSL's (SPEC §2.2).

``keys.PublicKey.verify`` checks rules 1-3 itself and leaves rule 4 (the cofactorless equation) to
libsodium. The reference is the same pre-checks with rule 4 left to OpenSSL instead (the path the
rule was first pinned with). :func:`cases` makes random and mutated (key, signature, message)
triples — valid signatures, flipped bits anywhere, S + L, R replaced by other points or small-order
encodings, signatures moved to other messages and keys — and :func:`disagreements` lists every
triple on which the two paths differ. Used by tests/keys/test_rule.py (a few thousand cases) and
bench/bench_signatures.py (a large run).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from keys import InvalidSignatureError, PrivateKey, PublicKey, WeakKeyError
from keys._ed25519 import SMALL_ORDER_ENCODINGS, L

Case = tuple[bytes, bytes, bytes]  # raw key, signature, message

_SMALL = sorted(SMALL_ORDER_ENCODINGS)


def _flip(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data) * 8)
    out = bytearray(data)
    out[i // 8] ^= 1 << (i % 8)
    return bytes(out)


def cases(n: int, seed: int = 0) -> Iterator[Case]:
    """``n`` triples from a seeded generator: about a quarter valid, the rest mutated."""
    rng = random.Random(seed)
    keys = [PrivateKey.from_seed(rng.randbytes(32)) for _ in range(16)]
    for _ in range(n):
        k = rng.choice(keys)
        msg = rng.randbytes(rng.choice((0, 1, 32, 200, 1500)))
        sig = k.sign(msg)
        raw = k.public_key.raw
        r, s = sig[:32], sig[32:]
        how = rng.randrange(10)
        if how == 1:
            sig = _flip(sig, rng)
        elif how == 2:
            msg = _flip(msg, rng) if msg else b"\x00"
        elif how == 3:
            raw = rng.choice(keys).public_key.raw  # another key (often the same: valid)
        elif how == 4:
            sig = r + ((int.from_bytes(s, "little") + L) % 2**256).to_bytes(32, "little")
        elif how == 5:
            sig = rng.choice(_SMALL) + s
        elif how == 6:
            other = rng.choice(keys).sign(rng.randbytes(16))
            sig = other[:32] + s  # R of another signature
        elif how == 7:
            sig = r + rng.randbytes(32)  # a random S (almost always >= L or wrong)
        elif how == 8:
            raw = _flip(raw, rng)  # a damaged key: most fail the KEY rule, a few pass
        elif how == 9:
            sig = rng.randbytes(64)
        yield raw, sig, msg


def libsodium_path(raw: bytes, sig: bytes, msg: bytes) -> bool | None:
    """The rule as shipped; None when the key fails the KEY rule (never reaches the equation)."""
    try:
        key = PublicKey.from_raw(raw)
    except WeakKeyError:
        return None
    try:
        key.verify(sig, msg)
    except InvalidSignatureError:
        return False
    return True


def openssl_path(raw: bytes, sig: bytes, msg: bytes) -> bool | None:
    """The reference: the same rules 1-3, rule 4 by OpenSSL."""
    try:
        key = PublicKey.from_raw(raw)
    except WeakKeyError:
        return None
    if len(sig) != 64 or sig[:32] in SMALL_ORDER_ENCODINGS:
        return False
    if int.from_bytes(sig[32:], "little") >= L:
        return False
    return key.verify_openssl(sig, msg)


def disagreements(triples: Iterator[Case]) -> tuple[list[Case], dict[str, int]]:
    """The triples on which the two paths differ, and counts of each verdict seen."""
    wrong: list[Case] = []
    seen = {"accepted": 0, "refused": 0, "weak key": 0}
    for raw, sig, msg in triples:
        a, b = libsodium_path(raw, sig, msg), openssl_path(raw, sig, msg)
        if a != b:
            wrong.append((raw, sig, msg))
        seen["weak key" if a is None else "accepted" if a else "refused"] += 1
    return wrong, seen
