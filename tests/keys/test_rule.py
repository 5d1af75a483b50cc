"""The strict Ed25519 acceptance rule (docs/SPEC.md §2), pinned against the C2SP CCTV vectors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

import keys._ed25519
from keys import (
    InvalidSignatureError,
    KeyFormatError,
    PrivateKey,
    PublicKey,
    WeakKeyError,
    verify_strict,
)
from keys._ed25519 import SMALL_ORDER_ENCODINGS, L
from tests.conftest import shared_vectors

CCTV_COUNT = 914
KEY_FLAGS = frozenset({"low_order_A", "non_canonical_A", "low_order_component_A"})

# RFC 8032 §7.1, test 1.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIG_EMPTY = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
    "d25bf5f0595bbe24655141438e7a100b"
)

# --- Independent curve arithmetic (affine twisted Edwards), only for deriving test data. ---------

P = 2**255 - 19
D = -121665 * pow(121666, -1, P) % P
Point = tuple[int, int]
IDENTITY: Point = (0, 1)


def _add(a: Point, b: Point) -> Point:
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + x2 * y1) * pow(1 + t, -1, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P
    return x3, y3


def _mul(n: int, a: Point) -> Point:
    result = IDENTITY
    while n:
        if n & 1:
            result = _add(result, a)
        a = _add(a, a)
        n >>= 1
    return result


def _x_for(y: int, sign: int) -> int | None:
    """The x with this sign bit on the curve at y (y reduced mod p), or None."""
    y %= P
    x2 = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return x


def _encode(a: Point) -> bytes:
    x, y = a
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _decode(raw: bytes) -> Point:
    n = int.from_bytes(raw, "little")
    y, sign = n & ((1 << 255) - 1), n >> 255
    x = _x_for(y, sign)
    assert x is not None, raw.hex()
    return x, y % P


@cache
def _small_order_points() -> frozenset[Point]:
    # [L]Q lies in the 8-torsion subgroup for every curve point Q; a few Q's reach all of it.
    points = set()
    for y in range(2, 60):
        x = _x_for(y, 0)
        if x is not None:
            points.add(_mul(L, (x, y)))
    return frozenset(points)


# --- CCTV vectors -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Vector:
    number: int
    key: bytes
    sig: bytes
    msg: bytes
    flags: frozenset[str]


@cache
def _cctv() -> tuple[Vector, ...]:
    path = shared_vectors() / "ed25519" / "ed25519vectors.json"
    cases = json.loads(path.read_text(encoding="utf-8"))
    return tuple(
        Vector(
            number=case["number"],
            key=bytes.fromhex(case["key"]),
            sig=bytes.fromhex(case["sig"]),
            msg=case["msg"].encode("utf-8"),
            flags=frozenset(case["flags"] or ()),
        )
        for case in cases
    )


def _verdict(v: Vector) -> type[Exception] | None:
    try:
        verify_strict(v.key, v.sig, v.msg)
    except (WeakKeyError, InvalidSignatureError) as exc:
        return type(exc)
    return None


def test_cctv_file_is_complete() -> None:
    vectors = _cctv()
    assert len(vectors) == CCTV_COUNT
    assert [v.number for v in vectors] == list(range(CCTV_COUNT))
    assert sum(1 for v in vectors if not v.flags) >= 1


def test_cctv_accept_iff_no_flags() -> None:
    verdicts = {v.number: _verdict(v) for v in _cctv()}
    wrong = [
        (v.number, sorted(v.flags))
        for v in _cctv()
        if (verdicts[v.number] is None) == bool(v.flags)
    ]
    assert wrong == []
    assert sum(1 for verdict in verdicts.values() if verdict is None) == sum(
        1 for v in _cctv() if not v.flags
    )


def test_cctv_rejection_reason_follows_flags() -> None:
    """Key flags mean the KEY rule refuses first; otherwise the SIGNATURE rule refuses."""
    wrong = []
    for v in _cctv():
        if not v.flags:
            continue
        expected = WeakKeyError if v.flags & KEY_FLAGS else InvalidSignatureError
        got = _verdict(v)
        if got is not expected:
            wrong.append((v.number, sorted(v.flags), got))
    assert wrong == []


def test_cctv_key_rule_matches_key_flags() -> None:
    wrong = []
    for v in _cctv():
        try:
            PublicKey.from_raw(v.key)
            refused = False
        except WeakKeyError:
            refused = True
        if refused != bool(v.flags & KEY_FLAGS):
            wrong.append((v.number, sorted(v.flags)))
    assert wrong == []


def test_small_order_list_matches_cctv_low_order_r_flags() -> None:
    wrong = [
        (v.number, sorted(v.flags))
        for v in _cctv()
        if (v.sig[:32] in SMALL_ORDER_ENCODINGS) != ("low_order_R" in v.flags)
    ]
    assert wrong == []


def test_openssl_alone_behaves_as_spec_says() -> None:
    """SPEC §2.2 relies on `cryptography` for rules 1, 3 and 4; pin what it does alone."""
    wrong = []
    accepted_flagged = 0
    for v in _cctv():
        try:
            Ed25519PublicKey.from_public_bytes(v.key).verify(v.sig, v.msg)
            accepted = True
        except InvalidSignature:
            accepted = False
        if accepted != (not v.flags & {"non_canonical_R", "low_order_residue"}):
            wrong.append((v.number, sorted(v.flags)))
        accepted_flagged += accepted and bool(v.flags)
    assert wrong == []
    assert accepted_flagged == 207


def test_small_order_r_check_is_load_bearing() -> None:
    """Without the list, OpenSSL alone accepts a small-order R under a valid key."""
    rescued = []
    for v in _cctv():
        if v.flags & KEY_FLAGS or "low_order_R" not in v.flags:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(v.key).verify(v.sig, v.msg)
        except InvalidSignature:
            continue
        rescued.append(v.number)
    assert rescued != []


# --- The small-order encodings ------------------------------------------------------------------


def test_small_order_encodings_derived_from_the_curve() -> None:
    points = _small_order_points()
    assert len(points) == 8
    assert all(_mul(8, pt) == IDENTITY for pt in points)
    derived = set()
    for x, y in points:
        # Every y' = y (mod p) that fits in 255 bits; x = 0 also admits the non-canonical sign bit.
        for y_enc in (y, y + P):
            if y_enc >= 1 << 255:
                continue
            for sign in (0, 1) if x == 0 else (x & 1,):
                derived.add((y_enc | sign << 255).to_bytes(32, "little"))
    assert derived == SMALL_ORDER_ENCODINGS
    assert len(SMALL_ORDER_ENCODINGS) == 14


# --- The KEY rule -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", sorted(SMALL_ORDER_ENCODINGS), ids=lambda b: b.hex()[:8])
def test_small_order_keys_refused(raw: bytes) -> None:
    with pytest.raises(WeakKeyError):
        PublicKey.from_raw(raw)


def test_mixed_order_key_refused() -> None:
    good = _decode(RFC8032_PUBLIC)
    torsion = next(pt for pt in _small_order_points() if _mul(4, pt) != IDENTITY)  # order 8
    mixed = _encode(_add(good, torsion))
    assert mixed != RFC8032_PUBLIC
    with pytest.raises(WeakKeyError):
        PublicKey.from_raw(mixed)
    with pytest.raises(WeakKeyError):
        verify_strict(mixed, RFC8032_SIG_EMPTY, b"")


def test_off_curve_key_refused() -> None:
    y = next(y for y in range(2, 100) if _x_for(y, 0) is None)
    with pytest.raises(WeakKeyError):
        PublicKey.from_raw(y.to_bytes(32, "little"))


def test_non_canonical_y_refused() -> None:
    # y = p + 1 encodes the identity non-canonically; y = p + 2 must not slip through either.
    for y in range(P, 1 << 255):
        for sign in (0, 1):
            with pytest.raises(WeakKeyError):
                PublicKey.from_raw((y | sign << 255).to_bytes(32, "little"))


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_wrong_key_length_is_a_format_error(size: int) -> None:
    with pytest.raises(KeyFormatError) as info:
        PublicKey.from_raw(b"\x01" * size)
    assert type(info.value) is KeyFormatError
    with pytest.raises(KeyFormatError):
        verify_strict(b"\x01" * size, RFC8032_SIG_EMPTY, b"")


def test_key_must_be_bytes() -> None:
    with pytest.raises(TypeError):
        PublicKey.from_raw(bytearray(RFC8032_PUBLIC))  # type: ignore[arg-type]


def test_verify_does_no_per_call_key_check(monkeypatch: pytest.MonkeyPatch) -> None:
    key = PublicKey.from_raw(RFC8032_PUBLIC)

    def fail(raw: bytes) -> bool:
        raise AssertionError("the KEY rule ran inside verify()")

    monkeypatch.setattr(keys._ed25519, "_is_prime_order_point", fail)
    key.verify(RFC8032_SIG_EMPTY, b"")


# --- The SIGNATURE rule -------------------------------------------------------------------------


def test_rfc8032_known_answer() -> None:
    private = PrivateKey.from_seed(RFC8032_SEED)
    assert private.public_key.raw == RFC8032_PUBLIC
    assert private.sign(b"") == RFC8032_SIG_EMPTY
    private.public_key.verify(RFC8032_SIG_EMPTY, b"")
    verify_strict(RFC8032_PUBLIC, RFC8032_SIG_EMPTY, b"")


@pytest.mark.parametrize("size", [0, 32, 63, 65, 128])
def test_wrong_signature_length_refused(size: int) -> None:
    sig = (RFC8032_SIG_EMPTY * 2)[:size]
    with pytest.raises(InvalidSignatureError):
        PublicKey.from_raw(RFC8032_PUBLIC).verify(sig, b"")


def test_unreduced_s_refused() -> None:
    s = int.from_bytes(RFC8032_SIG_EMPTY[32:], "little")
    malleated = RFC8032_SIG_EMPTY[:32] + (s + L).to_bytes(32, "little")
    with pytest.raises(InvalidSignatureError, match="S >= L"):
        PublicKey.from_raw(RFC8032_PUBLIC).verify(malleated, b"")


def test_small_order_r_refused_before_the_equation() -> None:
    sig = bytes.fromhex("01" + "00" * 31) + RFC8032_SIG_EMPTY[32:]
    with pytest.raises(InvalidSignatureError, match="small-order"):
        PublicKey.from_raw(RFC8032_PUBLIC).verify(sig, b"")


_SIGNER = PrivateKey.from_seed(bytes(range(32)))


@given(message=st.binary(max_size=300), bit=st.integers(min_value=0, max_value=64 * 8 - 1))
def test_flipped_signature_bit_refused(message: bytes, bit: int) -> None:
    sig = bytearray(_SIGNER.sign(message))
    sig[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidSignatureError):
        _SIGNER.public_key.verify(bytes(sig), message)


@given(data=st.data(), message=st.binary(min_size=1, max_size=300))
def test_flipped_message_bit_refused(data: st.DataObject, message: bytes) -> None:
    sig = _SIGNER.sign(message)
    bit = data.draw(st.integers(min_value=0, max_value=len(message) * 8 - 1))
    tampered = bytearray(message)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidSignatureError):
        _SIGNER.public_key.verify(sig, bytes(tampered))


@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=1000))
def test_sign_verify_round_trip(seed: bytes, message: bytes) -> None:
    private = PrivateKey.from_seed(seed)
    sig = private.sign(message)
    assert len(sig) == 64
    private.public_key.verify(sig, message)
    verify_strict(private.public_key.raw, sig, message)
    assert PublicKey.from_raw(private.public_key.raw) == private.public_key


# --- libsodium on the hot path, held to OpenSSL -------------------------------------------------


def test_libsodium_and_openssl_agree_on_every_cctv_vector() -> None:
    from tests.keys.differential import libsodium_path, openssl_path

    wrong = [
        v.number
        for v in _cctv()
        if libsodium_path(v.key, v.sig, v.msg) != openssl_path(v.key, v.sig, v.msg)
    ]
    assert wrong == []


def test_libsodium_and_openssl_agree_on_random_and_mutated_signatures() -> None:
    from tests.keys.differential import cases, disagreements

    wrong, seen = disagreements(cases(4000, seed=1))
    assert wrong == []
    # The run reaches every verdict, so agreement is not vacuous.
    assert seen["accepted"] > 300  # unmutated: about 1 in 9
    assert seen["refused"] > 2000
    assert seen["weak key"] > 100
