"""The fast paths of canonical decoding and stored-envelope parsing agree with the strict paths.

``canonical.decode`` tries orjson first and ``Envelope.parse_stored`` a direct read of the stored
form; both fall back to the strict path for anything they do not accept. These tests pin that the
fast path accepts only what the strict path accepts, with the same value, and that every input
gets the same outcome (value, or error message and field) as from the strict path alone.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest import canonical
from attest.canonical import MAX_DEPTH, MAX_INT, JSONValue, encode
from attest.dsse import PAYLOAD_TYPE, Envelope, Signature
from attest.errors import EncodingError
from keys import KeyId
from tests.attest.test_canonical import REJECTED, profile_values

Outcome = tuple[str, Any]


def _typed(value: Any) -> Any:
    """``value`` with every scalar tagged by its type and every object's key order kept."""
    if isinstance(value, dict):
        return ("object", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("array", [_typed(v) for v in value])
    return (type(value).__name__, value)


def _outcome(fn: Any, data: Any) -> Outcome:
    try:
        return ("value", _typed(fn(data)))
    except EncodingError as exc:
        return ("error", (type(exc).__name__, exc.what, exc.field, str(exc)))


def _agree(data: bytes) -> Outcome:
    """Decode ``data`` both ways, check they agree, and return the outcome."""
    fast = canonical._decode_fast(data)
    strict = _outcome(canonical._decode_strict, data)
    if fast is not canonical._NOT_CANONICAL:
        # The fast path accepted: the strict path must accept too, with the same value.
        assert strict == ("value", _typed(fast))
    assert _outcome(canonical.decode, data) == strict
    return strict


TRICKY: list[bytes] = [
    # duplicate keys (orjson keeps the last; the strict path refuses)
    b'{"a":1,"a":1}',
    b'{"a":1,"a":2}',
    b'{"a":{"b":1},"a":{"b":1}}',
    b'{"\\u0061":1,"a":1}',
    # big integers (orjson turns them into floats), range edges, -0
    b"9007199254740991",
    b"-9007199254740991",
    b"9007199254740992",
    b"18446744073709551615",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"1" * 400,
    b"-0",
    b"[0,-0]",
    # floats and non-numbers
    b"1.0",
    b"1e2",
    b"-0.0",
    b"1E400",
    b"[NaN]",
    b"Infinity",
    # lone surrogates and escaped pairs
    b'"\\ud800"',
    b'"\\udfff"',
    b'"\\ud83d\\ude02"',
    b'"\xf0\x9f\x98\x82"',
    b'"\xed\xa0\x80"',
    b'{"\\ud800":1}',
    # key order, whitespace, BOM, trailing bytes
    b'{"b":1,"a":2}',
    b'{"a":2,"b":1}',
    b'{"a":1}\n',
    b'{"a": 1}',
    b' {"a":1}',
    b"\xef\xbb\xbf{}",
    b"{}\x00",
    b"{}{}",
    b"",
    # escapes: canonical and needless ones, control characters raw and escaped
    b'"\\u001f"',
    b'"\\u001F"',
    b'"\\u0041"',
    b'"\\/"',
    b'"\\u2028"',
    b'"\xe2\x80\xa8"',
    b'"\\b\\t\\n\\f\\r\\"\\\\"',
    b'"\\u0008"',
    b'"\x01"',
    b'"\x7f"',
    # keys outside printable ASCII
    b'{"\xc3\xa9":1}',
    b'{"\\u0000":1}',
    b'{"\\u007f":1}',
    b'{"\x7f":1}',
    b'{"":1," ":2,"~":3}',
    # nesting at and past the limit
    b"[" * MAX_DEPTH + b"]" * MAX_DEPTH,
    b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH,
    b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1),
    b"[" * 5000 + b"]" * 5000,
    # scalars, literals and their near misses
    b"null",
    b"true",
    b"false",
    b"True",
    b"nul",
    b'"a"',
    b"'a'",
]


@pytest.mark.parametrize("data", TRICKY + [r[0] for r in REJECTED])
def test_fast_and_strict_decode_agree(data: bytes) -> None:
    _agree(data)


def test_canonical_bytes_take_the_fast_path() -> None:
    value: JSONValue = {"a": [1, -MAX_INT, MAX_INT, "é\u2028\x00", None, True], "b": {"": False}}
    data = encode(value)
    assert _typed(canonical._decode_fast(data)) == _typed(value)
    assert _agree(data) == ("value", _typed(value))


def test_decode_of_other_bytes_like_types_is_unchanged() -> None:
    # Only exact bytes take the fast path; anything else gets what it always got.
    for data in (bytearray(b'{"a":1}'), memoryview(b'{"a":1}')):
        try:
            expected: Outcome = ("value", _typed(canonical._decode_strict(data)))  # type: ignore[arg-type]
        except Exception as exc:  # whatever the strict path raises
            expected = ("raised", type(exc))
        try:
            got: Outcome = ("value", _typed(canonical.decode(data)))  # type: ignore[arg-type]
        except Exception as exc:
            got = ("raised", type(exc))
        assert got == expected


def _serialisations(value: Any) -> list[bytes]:
    out = [encode(value)]
    for kw in (
        {},
        {"sort_keys": True},
        {"separators": (",", ":"), "ensure_ascii": True, "sort_keys": True},
        {"separators": (",", ":"), "ensure_ascii": False},
    ):
        out.append(json.dumps(value, **kw).encode("utf-8", "surrogatepass"))
    out.append(orjson.dumps(value))
    return out


@settings(max_examples=300, deadline=None)
@given(profile_values, st.integers(0, 5), st.integers(0, 1000), st.integers(0, 255))
def test_fast_and_strict_agree_on_serialisations_and_mutations(
    value: Any, which: int, at: int, byte: int
) -> None:
    data = _serialisations(value)[which]
    _agree(data)
    if data:
        i = at % len(data)
        _agree(data[:i] + bytes([byte]) + data[i + 1 :])  # one byte replaced
        _agree(data[:i] + bytes([byte]) + data[i:])  # one byte inserted
        _agree(data[:i] + data[i + 1 :])  # one byte dropped


# --- the stored envelope ---


def _stored(payload: bytes = b'{"a":1}', sig: bytes = bytes(range(64))) -> bytes:
    return Envelope(PAYLOAD_TYPE, payload, (Signature(KeyId("ab" * 32), sig),)).to_bytes()


def _envelope_outcome(fn: Any, data: bytes) -> Outcome:
    try:
        env = fn(data)
    except EncodingError as exc:
        return ("error", (type(exc).__name__, exc.what, exc.field, str(exc)))
    return ("envelope", (env.payload_type, env.payload, env.signatures))


def _strict_stored(data: bytes) -> Envelope:
    env = Envelope.parse(data)
    if env.to_bytes() != data:
        raise EncodingError("stored envelope is not in its canonical stored form")
    return env


def _envelope_variants() -> list[bytes]:
    good = _stored()
    obj = json.loads(good)
    b64 = obj["payload"]
    sig = obj["signatures"][0]["sig"]
    urlsafe = base64.urlsafe_b64encode(bytes(range(64))).decode()
    variants: list[Any] = [
        obj,
        {**obj, "payload": b64.rstrip("=")},
        {**obj, "payload": base64.b64encode(b"{}").decode()},
        {**obj, "payload": "e30"},  # unpadded
        {**obj, "payload": "e31="},  # non-zero trailing bits
        {**obj, "payload": ""},
        {**obj, "payload": "!!!!"},
        {**obj, "payload": b64[:8] + "é" + b64[9:]},  # outside ASCII
        {**obj, "signatures": [{"keyid": "ab" * 32, "sig": "é" + sig[1:]}]},
        {**obj, "signatures": [{"keyid": "é" + "ab" * 31 + "a", "sig": sig}]},
        {**obj, "payload": 5},
        {**obj, "payloadType": "application/json"},
        {**obj, "payloadType": None},
        {**obj, "extra": 1},
        {"payload": b64, "payloadType": PAYLOAD_TYPE},
        {**obj, "signatures": []},
        {**obj, "signatures": [obj["signatures"][0]] * 2},
        {**obj, "signatures": {}},
        {**obj, "signatures": [{"keyid": "AB" * 32, "sig": sig}]},
        {**obj, "signatures": [{"keyid": "ab" * 31, "sig": sig}]},
        {**obj, "signatures": [{"keyid": "ab" * 32, "sig": urlsafe}]},
        {**obj, "signatures": [{"keyid": "ab" * 32, "sig": sig.rstrip("=")}]},
        {**obj, "signatures": [{"keyid": "ab" * 32, "sig": base64.b64encode(b"x" * 63).decode()}]},
        {**obj, "signatures": [{"keyid": "ab" * 32, "sig": sig, "x": 1}]},
        {**obj, "signatures": [{"keyid": "ab" * 32}]},
        {**obj, "signatures": ["x"]},
        [],
        "x",
    ]
    out = [json.dumps(v, sort_keys=True, separators=(",", ":")).encode() for v in variants]
    out += [good + b"\n", b" " + good, good.replace(b":", b": ", 1), b"\xef\xbb\xbf" + good]
    out += [good.replace(b'"payload"', b'"payload":"e30=","payload"', 1)]  # duplicate member
    out += [json.dumps(obj).encode(), json.dumps(obj, sort_keys=True).encode()]
    out += [b"x" * (256 * 1024 + 1), good + b" " * (256 * 1024)]
    return out


@pytest.mark.parametrize("data", _envelope_variants())
def test_stored_envelope_fast_and_strict_agree(data: bytes) -> None:
    assert _envelope_outcome(Envelope.parse_stored, data) == _envelope_outcome(_strict_stored, data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.binary(min_size=64, max_size=64), st.integers(0, 10**6))
def test_stored_envelope_mutations_agree(payload: bytes, sig: bytes, at: int) -> None:
    data = _stored(payload, sig)
    assert _envelope_outcome(Envelope.parse_stored, data)[0] == "envelope"
    for i in (at % len(data), (at * 7) % len(data)):
        for mutated in (
            data[:i] + data[i + 1 :],
            data[:i] + b"=" + data[i:],
            data[:i] + b"A" + data[i + 1 :],
            data[:i] + b"-" + data[i + 1 :],
        ):
            assert _envelope_outcome(Envelope.parse_stored, mutated) == _envelope_outcome(
                _strict_stored, mutated
            )
