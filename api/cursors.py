"""Opaque page cursors: a short list of strings and integers, as unpadded base64url JSON.

A cursor names where the next page starts (the key of the last row or name returned); clients
pass it back unchanged and never read it. A cursor that does not decode, or that belongs to
another listing, is an ``invalid-parameter`` problem.
"""

from __future__ import annotations

import base64
import binascii

import orjson

from api.problems import InvalidParameterError

__all__ = ["MAX_CURSOR", "decode_cursor", "encode_cursor"]

MAX_CURSOR = 1024
"""Longest cursor accepted, in characters."""


def encode_cursor(tag: str, *parts: str | int) -> str:
    """The cursor of listing ``tag`` continuing after ``parts``."""
    raw = orjson.dumps([tag, *parts])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(text: str, tag: str, shape: tuple[type, ...]) -> list[str | int]:
    """The parts of a cursor of listing ``tag`` whose parts have the types ``shape``.

    Raises:
        InvalidParameterError: not such a cursor.
    """
    problem = InvalidParameterError(
        "cursor is not a cursor of this listing (pass back the 'next' value unchanged)",
        parameter="cursor",
    )
    if len(text) > MAX_CURSOR:
        raise problem
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise problem from None
    if (
        not isinstance(decoded, list)
        or len(decoded) != len(shape) + 1
        or decoded[0] != tag
        or not all(type(v) is t for v, t in zip(decoded[1:], shape, strict=True))
    ):
        raise problem
    return decoded[1:]
