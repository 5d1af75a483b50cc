"""Reading the members of small fixed-shape JSON objects (envelopes, bundles), strictly."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from attest.errors import EncodingError

__all__ = ["members", "string"]


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
