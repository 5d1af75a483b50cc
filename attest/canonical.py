"""The JSON profile and its canonical form (docs/SPEC.md §1).

Every JSON document that claimledger signs or stores is a value of one restricted profile (objects,
arrays, strings, integers within +-(2^53-1), booleans, null; printable-ASCII keys; nesting at most
:data:`MAX_DEPTH` deep) serialized as its RFC 8785 (JCS) canonical form. Untrusted bytes are
"canonical or reject": :func:`decode` parses strictly, checks the profile, re-encodes and requires
the result to equal the input byte for byte, so a value has exactly one accepted encoding.

:func:`decode` first tries orjson: when orjson's value passes the profile check and re-encodes
to exactly the input, the input is canonical and that value is returned. Any other input goes
through the strict path (the standard library parser with hooks for duplicate keys, numbers and
constants), which accepts or refuses it and words the error; the fast path accepts a subset of
what the strict path accepts, with the same values (the argument is at :func:`_decode_fast`).

Within the profile, JCS is exactly what orjson writes with sorted keys (keys are ASCII, so code
point order is UTF-16 order; there are no floats to format; control characters are escaped the
way ECMAScript's ``JSON.stringify`` does). ``tests/attest/test_canonical.py`` proves that output
byte-identical to the ``rfc8785`` reference implementation across the whole profile.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeAlias, cast

import orjson

from attest.errors import EncodingError

__all__ = [
    "MAX_DEPTH",
    "MAX_INT",
    "JSONValue",
    "check_profile",
    "decode",
    "decode_object",
    "encode",
]

JSONValue: TypeAlias = bool | int | str | list["JSONValue"] | dict[str, "JSONValue"] | None
"""A value of the profile (bool before int: ``True`` is a boolean, never the integer 1)."""

MAX_INT = 2**53 - 1
"""The largest integer magnitude in the profile (the ECMAScript ``Number.MAX_SAFE_INTEGER``)."""

MAX_DEPTH = 64
"""Maximum nesting of arrays and objects: ``[]`` has depth 1, ``[[]]`` depth 2."""

_BOM = b"\xef\xbb\xbf"
_MAX_INT_DIGITS = len(str(MAX_INT))
_RANGE = f"[-{MAX_INT}, {MAX_INT}]"


def encode(value: JSONValue) -> bytes:
    """Serialize a profile value to its canonical bytes (RFC 8785).

    Args:
        value: the value; only the exact types of :data:`JSONValue` are accepted (no subclasses,
            tuples, floats or other types: the core never coerces).

    Returns:
        The canonical UTF-8 bytes.

    Raises:
        EncodingError: ``value`` is outside the profile; ``field`` is the JSON pointer of the
            offending member.
    """
    check_profile(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def decode(data: bytes) -> JSONValue:
    """Parse canonical JSON bytes, refusing anything that is not the canonical form of a value.

    Args:
        data: untrusted bytes.

    Returns:
        The value; ``encode(decode(data)) == data`` always holds.

    Raises:
        EncodingError: ``data`` is not UTF-8 (or starts with a BOM), is malformed JSON, holds a
            duplicate key or a value outside the profile, or is not byte-identical to the canonical
            form of what it parses to. ``field`` is a JSON pointer where one is meaningful.
    """
    if type(data) is bytes:
        value = _decode_fast(data)
        if value is not _NOT_CANONICAL:
            return value  # type: ignore[no-any-return]
    return _decode_strict(data)


_NOT_CANONICAL: Any = object()


def _decode_fast(data: bytes) -> Any:
    """The value of ``data`` if it is exactly the canonical form of a profile value, else
    :data:`_NOT_CANONICAL` (and then :func:`_decode_strict` decides, and words any error).

    It accepts only what :func:`_decode_strict` accepts, with the same value. It returns a
    value ``V`` only when orjson parsed ``data`` to ``V``, ``V`` passed :func:`check_profile`,
    and ``encode(V) == data`` byte for byte. Such bytes are the canonical form of a profile
    value: no BOM, well-formed UTF-8, no whitespace, no duplicate key (a re-serialization has one
    member per key), no number but in-range integers without ``-0``, no escape but the canonical
    ones. The strict parser reads canonical bytes to that same ``V`` (its hooks refuse only what
    the profile refuses, and canonical strings hold no raw control character), ``V`` passes the
    profile check and re-encodes to ``data``: the strict path accepts and returns ``V`` too.
    Everything else (all that orjson refuses or reads differently: big integers become floats,
    a repeated key keeps the last value, trailing whitespace is skipped...) fails one of the
    three tests and goes to the strict path, so the accepted set and every error are the strict
    path's.
    """
    try:
        value = orjson.loads(data)
        check_profile(value)
    except (orjson.JSONDecodeError, EncodingError):
        return _NOT_CANONICAL
    if orjson.dumps(value, option=orjson.OPT_SORT_KEYS) != data:
        return _NOT_CANONICAL
    return value


def _decode_strict(data: bytes) -> JSONValue:
    """:func:`decode` through the standard library parser, which locates every refusal."""
    if data.startswith(_BOM):
        raise EncodingError("JSON text starts with a byte order mark (BOM)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingError(f"JSON text is not valid UTF-8 (invalid byte at {exc.start})") from exc
    value: JSONValue = _parse(text)
    check_profile(value)
    canonical = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    if canonical != data:
        raise EncodingError(_first_difference(canonical, data))
    return value


def decode_object(data: bytes) -> dict[str, JSONValue]:
    """Like :func:`decode`, and require the top-level value to be an object.

    Args:
        data: untrusted bytes.

    Returns:
        The object.

    Raises:
        EncodingError: as :func:`decode`, or the top-level value is not an object.
    """
    value = decode(data)
    if type(value) is not dict:
        raise EncodingError(f"top-level JSON value must be an object, not {_kind(value)}", field="")
    return value


def check_profile(value: object) -> None:
    """Check that ``value`` is a value of the profile (docs/SPEC.md §1.1).

    Args:
        value: any Python object.

    Raises:
        EncodingError: ``value`` is outside the profile. ``field`` is the JSON pointer of the
            offending member (``""`` for the value itself); for a bad key, of the object holding it.
    """
    _check(value, 0)


def _check(value: object, depth: int) -> None:
    # Exact types only (bool is not int here; no subclasses, no coercion). The pointer is built
    # only while an error unwinds, so a valid value costs no string work. Containers are tested
    # first: scalar members are mostly passed inline, without a call of their own.
    kind = type(value)
    if kind is dict or kind is list:
        if depth >= MAX_DEPTH:
            _check_depth(depth)  # raises
        is_object = kind is dict
        members: Iterable[tuple[Any, Any]] = (
            cast("dict[Any, Any]", value).items()
            if is_object
            else enumerate(cast("list[Any]", value))
        )
        for token, item in members:
            if is_object and (
                type(token) is not str or not (token.isascii() and token.isprintable())
            ):
                _check_key(token)  # raises
            # An ASCII string, an in-range integer, null or a boolean is one _check would pass
            # without a word: skip the call (anything else gets it, and its errors).
            item_kind = type(item)
            if (
                (item_kind is str and item.isascii())
                or (item_kind is int and -MAX_INT <= item <= MAX_INT)
                or item is None
                or item_kind is bool
            ):
                continue
            try:
                _check(item, depth + 1)
            except EncodingError as exc:
                where = _escape_pointer(token) if is_object else token
                exc.field = f"/{where}{exc.field}"
                raise
    elif type(value) is str:
        _check_text(value)
    elif type(value) is int:
        if not -MAX_INT <= value <= MAX_INT:
            raise EncodingError(f"integer {value} is outside the integer range {_RANGE}", field="")
    elif value is None or type(value) is bool:
        pass
    elif type(value) is _Duplicate:
        raise EncodingError(
            f"duplicate object key {_quote(value.key)}", field=f"/{_escape_pointer(value.key)}"
        )
    elif type(value) is _Refused:
        raise EncodingError(value.what, field="")
    elif type(value) is float:
        raise EncodingError(
            f"number {value!r} is not an integer (the profile has no floats)", field=""
        )
    else:
        raise EncodingError(f"{type(value).__name__} is not a JSON type of the profile", field="")


def _check_depth(depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise EncodingError(f"arrays and objects nest deeper than {MAX_DEPTH}", field="")


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        raise EncodingError(f"string holds a lone surrogate U+{code:04X}", field="") from exc


def _check_key(key: object) -> None:
    if type(key) is not str:
        raise EncodingError(f"object key {key!r} is a {type(key).__name__}, not a string", field="")
    if not (key.isascii() and key.isprintable()):
        raise EncodingError(
            f"object key {_quote(key)} is not printable ASCII (U+0020..U+007E)", field=""
        )


class _Duplicate(dict[str, Any]):
    """What the parser builds for an object with a repeated key; refused by :func:`_check`."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key


class _Refused:
    """What the parser builds for a number or constant outside the profile."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                return _Duplicate(key)
            seen.add(key)
    return obj


def _parse_int(text: str) -> int | _Refused:
    # Refuse by length first: int() of a huge literal is slow (and capped by Python at 4300 digits).
    if len(text.lstrip("-")) <= _MAX_INT_DIGITS:
        number = int(text)
        if -MAX_INT <= number <= MAX_INT:
            return number
    shown = text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"
    return _Refused(f"integer {shown} is outside the integer range {_RANGE}")


def _parse_float(text: str) -> _Refused:
    return _Refused(f"number {text} is not an integer (the profile has no floats)")


def _parse_constant(text: str) -> _Refused:
    return _Refused(f"{text} is not allowed in JSON")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object,
    parse_float=_parse_float,
    parse_int=_parse_int,
    parse_constant=_parse_constant,
)


def _parse(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        at = len(text[: exc.pos].encode("utf-8"))
        raise EncodingError(f"malformed JSON: {exc.msg} at byte {at}") from exc
    except RecursionError as exc:
        raise EncodingError(f"arrays and objects nest deeper than {MAX_DEPTH}") from exc


def _first_difference(canonical: bytes, data: bytes) -> str:
    at = next(
        (i for i, (a, b) in enumerate(zip(canonical, data, strict=False)) if a != b),
        min(len(canonical), len(data)),
    )
    return (
        f"JSON text is not in canonical form: first difference at byte {at} "
        f"(expected {canonical[at : at + 12]!r}, found {data[at : at + 12]!r})"
    )


def _escape_pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _quote(text: str) -> str:
    return json.dumps(text)


def _kind(value: object) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "integer"}.get(type(value), "null")
