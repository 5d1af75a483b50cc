"""Reading the members of small fixed-shape JSON objects (envelopes, bundles), strictly."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from typing import Any

from attest.errors import EncodingError

__all__ = ["hash_b64", "members", "string", "uint"]


def members(obj: object, where: str, names: Collection[str]) -> dict[str, Any]:
    """``obj`` as an object with exactly the members ``names``.

    Raises:
        EncodingError: not an object, an unknown member or a missing one (``field`` points to it).
    """
    if type(obj) is not dict:
        raise EncodingError("expected a JSON object", field=where or "/")
    unknown = sorted(set(obj) - set(names))
    if unknown:
        raise EncodingError(f"unknown member {unknown[0]!r}", field=f"{where}/{unknown[0]}")
    missing = sorted(set(names) - set(obj))
    if missing:
        raise EncodingError(f"missing member {missing[0]!r}", field=f"{where}/{missing[0]}")
    return obj


def string(v: object, where: str) -> str:
    """``v`` as a string.

    Raises:
        EncodingError: ``v`` is not a string.
    """
    if type(v) is not str:
        raise EncodingError("expected a string", field=where)
    return v


def uint(v: object, where: str) -> int:
    """``v`` as a non-negative integer.

    Raises:
        EncodingError: anything else.
    """
    if type(v) is not int or v < 0:
        raise EncodingError("must be a non-negative integer", field=where)
    return v


def hash_b64(v: object, where: str) -> bytes:
    """``v`` as a 32-byte hash in canonical padded standard base64.

    Raises:
        EncodingError: anything else.
    """
    text = string(v, where)
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise EncodingError("not standard base64", field=where) from exc
    if len(raw) != 32 or base64.b64encode(raw).decode("ascii") != text:
        raise EncodingError("must be a 32-byte hash in padded standard base64", field=where)
    return raw
