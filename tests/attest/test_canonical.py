"""Tests for attest.canonical: the JSON profile, RFC 8785 agreement, and "canonical or reject"."""

from __future__ import annotations

import enum
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from attest.canonical import (
    MAX_DEPTH,
    MAX_INT,
    JSONValue,
    check_profile,
    decode,
    decode_object,
    encode,
)
from attest.errors import EncodingError
from tests.conftest import shared_vectors

# --- the RFC 8785 test vectors in ../shared/vectors/jcs/ ---

IN_PROFILE = {"arrays", "unicode"}
# Outside the profile, with the JSON pointer encode() reports for the parsed in-X.json, and the
# pointers of sub-values that are in the profile and must canonicalise as in out-X.json.
OUTSIDE_PROFILE: dict[str, tuple[str, list[str]]] = {
    "french": ("", ["/peach", "/péché", "/pêche", "/sin"]),  # non-ASCII keys
    "structures": ("/1", ["/1/f", "/10", "/111", "/", "/A", "/a"]),  # key "\n"; 56.0 is a float
    "values": ("/numbers/0", ["/string", "/literals"]),  # floats
    "weird": ("", ["/1", "/<~1script>", "/\u0080", "/\U0001f602", "/\r", "/\n"]),  # non-ASCII keys
}


def _jcs_dir() -> Path:
    return shared_vectors() / "jcs"


def _read(name: str, side: str) -> bytes:
    return (_jcs_dir() / f"{side}-{name}.json").read_bytes()


def _at(value: Any, pointer: str) -> Any:
    for part in pointer.split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def test_jcs_vector_files_are_exactly_the_known_ones() -> None:
    names = {p.name for p in _jcs_dir().iterdir()}
    expected = IN_PROFILE | set(OUTSIDE_PROFILE)
    assert names == {f"{side}-{name}.json" for name in expected for side in ("in", "out")}


@pytest.mark.parametrize("name", sorted(IN_PROFILE))
def test_jcs_vector_in_profile(name: str) -> None:
    source, expected = _read(name, "in"), _read(name, "out")
    value = json.loads(source)
    assert encode(value) == expected
    assert encode(value) == rfc8785.dumps(value)
    assert _typed(decode(expected)) == _typed(value)
    with pytest.raises(EncodingError, match="not in canonical form"):
        decode(source)  # the pretty-printed input is the same value, but not canonical


@pytest.mark.parametrize("name", sorted(OUTSIDE_PROFILE))
def test_jcs_vector_outside_profile_is_refused(name: str) -> None:
    field, _ = OUTSIDE_PROFILE[name]
    with pytest.raises(EncodingError) as caught:
        encode(json.loads(_read(name, "in")))
    assert caught.value.field == field
    with pytest.raises(EncodingError):
        decode(_read(name, "in"))
    with pytest.raises(EncodingError):
        decode(_read(name, "out"))


@pytest.mark.parametrize(
    ("name", "pointer"),
    [
        (name, pointer)
        for name, (_, pointers) in sorted(OUTSIDE_PROFILE.items())
        for pointer in pointers
    ],
)
def test_jcs_vector_outside_profile_in_profile_parts(name: str, pointer: str) -> None:
    expected_whole = _read(name, "out")
    part = _at(json.loads(_read(name, "in")), pointer)
    canonical = encode(part)
    # JCS is compositional: the canonical bytes of a member appear verbatim in the canonical whole.
    assert canonical in expected_whole
    assert canonical == rfc8785.dumps(part)
    assert _typed(decode(canonical)) == _typed(_at(json.loads(expected_whole), pointer))


def test_jcs_weird_control_and_del_escaping() -> None:
    # U+007F is written literally, U+000F as a lowercase \u escape (out-weird, out-values).
    assert encode("Control\u007f") == b'"Control\x7f"'
    assert encode('\u20ac$\u000f\nA\'B"\\\\"/') == b'"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'


# --- specific rejections ---

REJECTED: list[tuple[bytes, str, str | None]] = [
    (b'{"a":1,"a":2}', 'duplicate object key "a"', "/a"),
    (b'{"x":{"b":[1,{"k":1,"k":1}]}}', 'duplicate object key "k"', "/x/b/1/k"),
    (b"1.0", "number 1.0 is not an integer", ""),
    (b'{"x":[1e2]}', "number 1e2 is not an integer", "/x/0"),
    (b"[1E2]", "number 1E2 is not an integer", "/0"),
    (b"-0.0", "number -0.0 is not an integer", ""),
    (b"9007199254740992", "integer 9007199254740992 is outside the integer range", ""),
    (b"[-9007199254740992]", "integer -9007199254740992 is outside the integer range", "/0"),
    (b"1" * 5000, "is outside the integer range", ""),
    (b'{"a/b~c":"\\ud800"}', "lone surrogate U+D800", "/a~1b~0c"),
    (b'"\\udc00x"', "lone surrogate U+DC00", ""),
    (b'"\xff"', "not valid UTF-8 (invalid byte at 1)", None),
    (b'"\xed\xa0\x80"', "not valid UTF-8", None),  # a surrogate encoded in UTF-8
    (b'"\xc0\xaf"', "not valid UTF-8", None),  # overlong
    (b"\xef\xbb\xbf{}", "byte order mark", None),
    (b'{"a": 1}', "not in canonical form: first difference at byte 5", None),
    (b'{"a":1}\n', "not in canonical form: first difference at byte 7", None),
    (b' {"a":1}', "not in canonical form: first difference at byte 0", None),
    (b'{"b":1,"a":2}', "not in canonical form: first difference at byte 2", None),
    (b'"\\u0041"', "not in canonical form: first difference at byte 1", None),
    (b'"\\u001F"', "not in canonical form: first difference at byte 6", None),
    (b'"\\/"', "not in canonical form: first difference at byte 1", None),
    (b'"\\u2028"', "not in canonical form: first difference at byte 1", None),
    (b"-0", "not in canonical form: first difference at byte 0", None),
    (b"NaN", "NaN is not allowed", ""),
    (b"[Infinity]", "Infinity is not allowed", "/0"),
    (b"[-Infinity]", "-Infinity is not allowed", "/0"),
    (b"{}x", "malformed JSON: Extra data at byte 2", None),
    (b"{}{}", "malformed JSON: Extra data at byte 2", None),
    (b"", "malformed JSON: Expecting value at byte 0", None),
    (b'["\xc3\xa9",x]', "malformed JSON: Expecting value at byte 6", None),  # byte, not char
    (b'"a\nb"', "malformed JSON: Invalid control character", None),
    (b"[01]", "malformed JSON", None),
    (b'{"\xc3\xa9":1}', 'object key "\\u00e9" is not printable ASCII', ""),
    (b'{"x":{"\\u0000":1}}', 'object key "\\u0000" is not printable ASCII', "/x"),
    (b'{"\\u007f":1}', "is not printable ASCII", ""),
    (
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
        f"nest deeper than {MAX_DEPTH}",
        "/0" * MAX_DEPTH,
    ),
    (b"[" * 100_000 + b"]" * 100_000, "nest deeper than", None),
]


@pytest.mark.parametrize(("data", "message", "field"), REJECTED)
def test_decode_rejects(data: bytes, message: str, field: str | None) -> None:
    with pytest.raises(EncodingError) as caught:
        decode(data)
    assert message in caught.value.what
    assert caught.value.field == field


def test_decode_accepts_deepest_allowed_nesting() -> None:
    data = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert encode(decode(data)) == data


class _Colour(enum.IntEnum):
    RED = 1


class _Text(str):
    pass


ENCODE_REJECTED: list[tuple[object, str, str]] = [
    (1.0, "number 1.0 is not an integer", ""),
    ({"a": [0.5]}, "number 0.5 is not an integer", "/a/0"),
    (float("nan"), "number nan is not an integer", ""),
    (2**53, "outside the integer range", ""),
    (-(2**53), "outside the integer range", ""),
    ({"é": 1}, "is not printable ASCII", ""),
    ({"ok": {"\t": 1}}, "is not printable ASCII", "/ok"),
    ({1: 2}, "object key 1 is a int, not a string", ""),
    (["\ud800"], "lone surrogate U+D800", "/0"),
    ((1, 2), "tuple is not a JSON type", ""),
    (b"x", "bytes is not a JSON type", ""),
    ({"a": {1, 2}}, "set is not a JSON type", "/a"),
    (_Colour.RED, "_Colour is not a JSON type", ""),
    ({"~/": _Text("x")}, "_Text is not a JSON type", "/~0~1"),
    (OrderedDict(a=1), "OrderedDict is not a JSON type", ""),
]


@pytest.mark.parametrize(("value", "message", "field"), ENCODE_REJECTED)
def test_encode_rejects(value: object, message: str, field: str) -> None:
    with pytest.raises(EncodingError) as caught:
        encode(value)  # type: ignore[arg-type]
    assert message in caught.value.what
    assert caught.value.field == field
    with pytest.raises(EncodingError):
        check_profile(value)


def test_encode_limits_and_literals() -> None:
    assert encode([MAX_INT, -MAX_INT, 0, True, False, None]) == (
        b"[9007199254740991,-9007199254740991,0,true,false,null]"
    )
    assert encode({"b": [], "a": {}, "": "", "B": " "}) == b'{"":"","B":" ","a":{},"b":[]}'
    assert encode("\u2028\u2029\U0001f600") == '"\u2028\u2029\U0001f600"'.encode()


def test_fast_path_escapes_every_scalar_value_like_rfc8785() -> None:
    # Every Unicode scalar value, in one string: the escaping of each character is pinned.
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert encode(everything) == rfc8785.dumps(everything)
    assert decode(encode(everything)) == everything


def test_fast_path_sorts_every_printable_ascii_key_like_rfc8785() -> None:
    printable = [chr(c) for c in range(0x20, 0x7F)]
    value: dict[str, JSONValue] = {
        a + b: i for i, (a, b) in enumerate((a, b) for a in printable for b in "~ A")
    }
    value.update({c: c for c in printable})
    assert encode(value) == rfc8785.dumps(value)


def test_decode_object() -> None:
    assert decode_object(b'{"a":[1]}') == {"a": [1]}
    for data, kind in [(b"[]", "array"), (b'"x"', "string"), (b"1", "integer"), (b"null", "null")]:
        with pytest.raises(EncodingError, match=f"must be an object, not {kind}"):
            decode_object(data)


def test_check_profile_accepts_profile_values() -> None:
    check_profile({"a": [1, "x", None, True, {"b": -MAX_INT}]})


# --- properties ---

_SPECIAL_CHARS = (
    '\x00\x08\x09\x0a\x0b\x0c\x0d\x1f\x20"\\/\x7f\x80\u2028\u2029\ufeff\uffff\U0001f602\U0010ffff'
)
_chars = st.one_of(st.characters(codec="utf-8"), st.sampled_from(_SPECIAL_CHARS))
_text = st.text(_chars, max_size=12)
_keys = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=6)
_ints = st.one_of(
    st.integers(min_value=-MAX_INT, max_value=MAX_INT),
    st.sampled_from([0, 1, -1, MAX_INT, -MAX_INT, MAX_INT - 1, 2**31, -(2**31), 2**32]),
)
profile_values: st.SearchStrategy[JSONValue] = st.recursive(
    st.none() | st.booleans() | _ints | _text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=30,
)


def _typed(value: Any) -> Any:
    """``value`` with every scalar tagged by its type, so ``True`` and ``1`` compare unequal."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


@settings(max_examples=500)
@given(profile_values)
def test_encode_matches_rfc8785_reference(value: JSONValue) -> None:
    assert encode(value) == rfc8785.dumps(value)


@settings(max_examples=500)
@given(profile_values)
def test_round_trip(value: JSONValue) -> None:
    data = encode(value)
    decoded = decode(data)
    assert _typed(decoded) == _typed(value)
    assert encode(decoded) == data


@settings(max_examples=300)
@given(profile_values, st.sampled_from(["indent", "ascii", "spaced", "reversed"]))
def test_other_serialisations_are_rejected(value: JSONValue, style: str) -> None:
    if style == "indent":
        text = json.dumps(value, indent=1, ensure_ascii=False)
    elif style == "ascii":
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    elif style == "spaced":
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    else:
        text = json.dumps(_reverse_keys(value), separators=(",", ":"), ensure_ascii=False)
    data = text.encode()
    assert _typed(json.loads(text)) == _typed(value)
    if data == encode(value):
        assert _typed(decode(data)) == _typed(value)
    else:
        with pytest.raises(EncodingError, match="not in canonical form"):
            decode(data)


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in sorted(value, reverse=True)}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


@settings(max_examples=500)
@given(
    st.one_of(
        st.binary(max_size=40),
        st.text(st.sampled_from('{}[]",:0123456789-.eE tfnrulas\\u'), max_size=30).map(str.encode),
        profile_values.map(encode).flatmap(
            lambda b: st.tuples(st.integers(0, max(len(b) - 1, 0)), st.integers(0, 255)).map(
                lambda ib: b[: ib[0]] + bytes([ib[1]]) + b[ib[0] + 1 :]
            )
        ),
    )
)
def test_decode_accepts_only_canonical_bytes(data: bytes) -> None:
    try:
        value = decode(data)
    except EncodingError:
        return
    assert encode(value) == data
