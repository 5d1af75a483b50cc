"""A small, private toolkit for reading JSON objects into models while collecting every problem.

A reader walks an already-decoded JSON value (§1 of docs/SPEC.md) and records a
:class:`~attest.errors.FieldProblem` for each thing that is wrong, with an RFC 6901 pointer from the
statement root, instead of stopping at the first. Each parser has the shape
``(value, pointer, ctx) -> T``; on failure it records a problem and returns :data:`INVALID`, a
sentinel that is never stored in a model because :meth:`Obj.build` only builds an object when
nothing in its subtree was wrong.

The same reader doubles as each model's invariant check: :class:`Model` re-reads
``self.to_dict()`` in check-only mode when a model is built directly, so the rules live in one
place (the ``_read`` classmethod of each model). While :func:`parse` is building a tree it has just
checked, that re-check is switched off.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

from attest.errors import FieldProblem, SchemaError

__all__: list[str] = []  # private toolkit: see attest.statements

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

Parser = Callable[[object, str, "Ctx"], T]

# Limits on strings, in Unicode code points.
NAME_MAX = 200
TEXT_MAX = 4000
URI_MAX = 2000
LIST_MAX = 100
SAFE_INT = 2**53 - 1


class _Invalid:
    """Type of :data:`INVALID`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()
"""Returned by a parser for a value it found wrong (after recording the problem)."""


class _Unbuilt:
    """Type of :data:`UNBUILT`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNBUILT"


UNBUILT: Any = _Unbuilt()
"""Returned in check-only mode for a valid object that was not built.

Cross-field checks therefore look at raw JSON members, never at built nested models.
"""


def valid(*values: object) -> bool:
    """True when none of ``values`` is :data:`INVALID`."""
    return not any(v is INVALID for v in values)


# --------------------------------------------------------------------------------------------
# pointers and messages


def child(pointer: str, token: str | int) -> str:
    """The RFC 6901 pointer to member or item ``token`` of the value at ``pointer``."""
    text = str(token)
    if "~" in text or "/" in text:
        text = text.replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{text}"


def label(pointer: str) -> str:
    """A short name for the field at ``pointer``: ``party``, ``keys[2]``, ``the statement``."""
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
    if not tokens:
        return "the statement"
    suffix = ""
    while tokens and tokens[-1].isdigit() and len(tokens) > 1:
        suffix = f"[{tokens.pop()}]{suffix}"
    return f"{tokens[-1]}{suffix}"


def where(pointer: str) -> str:
    """``/body`` or ``the statement`` for the root, for messages about an object."""
    return pointer or "the statement"


def json_type(value: object) -> str:
    """The JSON type name of a decoded value (``bool`` before ``int``: bool is an int in Python)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def show(value: object, limit: int = 60) -> str:
    """A short quoted rendering of a bad value for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# the context and the object reader


_CHECK_OFF: ContextVar[bool] = ContextVar("_CHECK_OFF", default=False)


class Ctx:
    """Problems found so far, and whether readers should build models or only check."""

    __slots__ = ("build", "problems")

    def __init__(self, *, build: bool) -> None:
        self.problems: list[FieldProblem] = []
        self.build = build

    def add(self, pointer: str, message: str) -> Any:
        """Record a problem; returns :data:`INVALID` so parsers can ``return ctx.add(...)``."""
        self.problems.append(FieldProblem(pointer, message))
        return INVALID


class Obj:
    """Reads the members of one JSON object, recording problems in a :class:`Ctx`."""

    __slots__ = ("_mark", "_seen", "ctx", "pointer", "value")

    def __init__(self, value: object, pointer: str, ctx: Ctx) -> None:
        self.ctx = ctx
        self.pointer = pointer
        self._mark = len(ctx.problems)
        self._seen: set[str] = set()
        if isinstance(value, Mapping):
            self.value: Mapping[str, Any] | None = value
        else:
            self.value = None
            what = "the statement" if not pointer else label(pointer)
            ctx.add(pointer, f"{what} must be an object, got {json_type(value)}")

    def at(self, name: str) -> str:
        """The pointer to member ``name``."""
        return child(self.pointer, name)

    def has(self, name: str) -> bool:
        """Whether member ``name`` is present (it is then counted as known)."""
        self._seen.add(name)
        return self.value is not None and name in self.value

    def req(self, name: str, parse: Parser[T]) -> T:
        """Read a required member."""
        self._seen.add(name)
        if self.value is None:
            return INVALID  # type: ignore[no-any-return]
        if name not in self.value:
            return self.ctx.add(  # type: ignore[no-any-return]
                self.at(name), f"missing required field '{name}' in {where(self.pointer)}"
            )
        return parse(self.value[name], self.at(name), self.ctx)

    def opt(self, name: str, parse: Parser[T]) -> T | None:
        """Read an optional member: ``None`` when absent; present as ``null`` is a problem."""
        self._seen.add(name)
        if self.value is None:
            return INVALID  # type: ignore[no-any-return]
        if name not in self.value:
            return None
        return parse(self.value[name], self.at(name), self.ctx)

    def forbid(self, name: str, why: str) -> None:
        """Record a problem if member ``name`` is present."""
        self._seen.add(name)
        if self.value is not None and name in self.value:
            self.ctx.add(self.at(name), f"field '{name}' is not allowed here: {why}")

    def skip(self, name: str) -> None:
        """Count member ``name`` as known without reading it (its reader could not run)."""
        self._seen.add(name)

    def fail(self, name: str, message: str) -> None:
        """Record a problem at member ``name``."""
        self.ctx.add(self.at(name), message)

    def build(self, factory: Callable[[], T]) -> T:
        """Refuse unknown members, then build the model if nothing in this object was wrong."""
        if self.value is not None:
            for key in self.value:
                if key not in self._seen:
                    self.ctx.add(
                        child(self.pointer, key),
                        f"unknown field '{key}' in {where(self.pointer)}",
                    )
        if len(self.ctx.problems) > self._mark:
            return INVALID  # type: ignore[no-any-return]
        if not self.ctx.build:
            return UNBUILT  # type: ignore[no-any-return]
        return factory()


def obj(read: Callable[[Obj], T]) -> Parser[T]:
    """A parser for a JSON object read by ``read``."""

    def parse(value: object, pointer: str, ctx: Ctx) -> T:
        return read(Obj(value, pointer, ctx))

    return parse


# --------------------------------------------------------------------------------------------
# running a reader


def parse(read: Callable[[Obj], T], value: object, pointer: str = "") -> T:
    """Read and build ``value``; raise :class:`SchemaError` with every problem found.

    Raises:
        SchemaError: listing every problem, each with a pointer.
    """
    ctx = Ctx(build=True)
    token = _CHECK_OFF.set(True)
    try:
        result = read(Obj(value, pointer, ctx))
    finally:
        _CHECK_OFF.reset(token)
    if ctx.problems:
        raise SchemaError(ctx.problems)
    return result


def problems(read: Callable[[Obj], object], value: object, pointer: str = "") -> list[FieldProblem]:
    """Every problem ``read`` finds in ``value``, without building anything."""
    ctx = Ctx(build=False)
    read(Obj(value, pointer, ctx))
    return ctx.problems


def checks_off() -> bool:
    """Whether :func:`parse` is building a tree it has just checked (models skip re-checks)."""
    return _CHECK_OFF.get()


class Model:
    """Base of the statement models: ``from_dict``/``to_dict`` and a check when built.

    Subclasses are frozen slotted dataclasses that define ``_read`` (the schema, as a reader)
    and ``to_dict``. Building one directly re-reads its ``to_dict()`` in check-only mode, so a
    model never holds a value its JSON form would not pass; problems point into the model's own
    JSON form (``/effectiveUntil``).
    """

    __slots__ = ()

    @classmethod
    def _read(cls, o: Obj) -> Self:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form (plain dicts, lists, str, int, bool)."""
        raise NotImplementedError

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Self:
        """Read the JSON object form, refusing unknown members, wrong types and bad values.

        Raises:
            SchemaError: listing every problem found, with pointers relative to ``value``.
        """
        return parse(cls._read, value)

    def __post_init__(self) -> None:
        if _CHECK_OFF.get():
            return
        try:
            form = self.to_dict()
        except (AttributeError, TypeError, ValueError) as exc:
            raise SchemaError(
                [FieldProblem("", f"{type(self).__name__} holds a value of the wrong type: {exc}")]
            ) from exc
        found = problems(type(self)._read, form)
        if found:
            raise SchemaError(found)


# --------------------------------------------------------------------------------------------
# scalar checks: each returns an error message naming the field, or None


def _expect(value: object, pointer: str, ctx: Ctx, kind: type, name: str) -> bool:
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        ctx.add(pointer, f"{label(pointer)} must be {name}, got {json_type(value)}")
    return ok


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def string(
    max_len: int = NAME_MAX,
    *,
    multiline: bool = False,
    check: Callable[[str], str | None] | None = None,
) -> Parser[str]:
    """A non-blank string of at most ``max_len`` code points.

    Single-line strings (the default) refuse control characters and leading or trailing
    whitespace; ``multiline`` text allows tab and newline. ``check`` returns an extra problem
    (a phrase completing "<field> ...") or ``None``.
    """

    def parse(value: object, pointer: str, ctx: Ctx) -> str:
        if not _expect(value, pointer, ctx, str, "a string"):
            return INVALID  # type: ignore[no-any-return]
        assert isinstance(value, str)  # noqa: S101 (narrowing for mypy)
        if not value.strip():
            return ctx.add(pointer, f"{label(pointer)} must not be empty or blank")  # type: ignore[no-any-return]
        controls = _CONTROL_TEXT if multiline else _CONTROL
        if controls.search(value):
            return ctx.add(pointer, f"{label(pointer)} contains a control character")  # type: ignore[no-any-return]
        if not multiline and value != value.strip():
            return ctx.add(  # type: ignore[no-any-return]
                pointer, f"{label(pointer)} must not have leading or trailing whitespace"
            )
        # A format check first: its message says more than a length would.
        if check is not None:
            problem = check(value)
            if problem is not None:
                return ctx.add(pointer, f"{label(pointer)} {problem}")  # type: ignore[no-any-return]
        if len(value) > max_len:
            return ctx.add(  # type: ignore[no-any-return]
                pointer, f"{label(pointer)} is {len(value)} characters long; the limit is {max_len}"
            )
        return value

    return parse


def pattern(regex: str, what: str, max_len: int = NAME_MAX) -> Parser[str]:
    """A string matching ``regex`` in full (``what`` describes the format for messages)."""
    compiled = re.compile(regex)

    def check(value: str) -> str | None:
        if compiled.fullmatch(value) is None:
            return f"must be {what}, got {show(value)}"
        return None

    return string(max_len, check=check)


def integer(minimum: int, maximum: int) -> Parser[int]:
    """An integer (never a boolean) in ``[minimum, maximum]``."""

    def parse(value: object, pointer: str, ctx: Ctx) -> int:
        if not _expect(value, pointer, ctx, int, "an integer"):
            return INVALID  # type: ignore[no-any-return]
        assert isinstance(value, int)  # noqa: S101 (narrowing for mypy)
        if not minimum <= value <= maximum:
            return ctx.add(  # type: ignore[no-any-return]
                pointer, f"{label(pointer)} must be between {minimum} and {maximum}, got {value}"
            )
        return value

    return parse


def boolean(value: object, pointer: str, ctx: Ctx) -> bool:
    """A JSON boolean."""
    if not _expect(value, pointer, ctx, bool, "a boolean"):
        return INVALID  # type: ignore[no-any-return]
    assert isinstance(value, bool)  # noqa: S101 (narrowing for mypy)
    return value


def enum(kind: type[E]) -> Parser[E]:
    """A string naming a member of the StrEnum ``kind`` (by value, exact case)."""
    known = ", ".join(m.value for m in kind)

    def parse(value: object, pointer: str, ctx: Ctx) -> E:
        if not _expect(value, pointer, ctx, str, "a string"):
            return INVALID  # type: ignore[no-any-return]
        assert isinstance(value, str)  # noqa: S101 (narrowing for mypy)
        try:
            return kind(value)
        except ValueError:
            return ctx.add(  # type: ignore[no-any-return]
                pointer, f"{label(pointer)} {show(value)} is not one of: {known}"
            )

    return parse


def choice(options: Sequence[str]) -> Parser[str]:
    """A string equal to one of ``options`` (an open vocabulary kept as plain strings)."""
    known = ", ".join(options)
    allowed = frozenset(options)

    def parse(value: object, pointer: str, ctx: Ctx) -> str:
        if not _expect(value, pointer, ctx, str, "a string"):
            return INVALID  # type: ignore[no-any-return]
        assert isinstance(value, str)  # noqa: S101 (narrowing for mypy)
        if value not in allowed:
            return ctx.add(  # type: ignore[no-any-return]
                pointer, f"{label(pointer)} {show(value)} is not one of: {known}"
            )
        return value

    return parse


def array(
    item: Parser[T], *, min_items: int = 0, max_items: int = LIST_MAX, unique: bool = False
) -> Parser[tuple[T, ...]]:
    """A JSON array of ``min_items``..``max_items`` items read by ``item``.

    With ``unique``, an item equal (as JSON) to an earlier one is a problem at the later item.
    """

    def parse(value: object, pointer: str, ctx: Ctx) -> tuple[T, ...]:
        if not _expect(value, pointer, ctx, list, "an array"):
            return INVALID  # type: ignore[no-any-return]
        assert isinstance(value, list)  # noqa: S101 (narrowing for mypy)
        if len(value) < min_items:
            need = "item" if min_items == 1 else "items"
            return ctx.add(  # type: ignore[no-any-return]
                pointer, f"{label(pointer)} must have at least {min_items} {need}, got {len(value)}"
            )
        if len(value) > max_items:
            return ctx.add(  # type: ignore[no-any-return]
                pointer, f"{label(pointer)} must have at most {max_items} items, got {len(value)}"
            )
        out: list[T] = []
        for i, raw in enumerate(value):
            if unique:
                for j in range(i):
                    if _same_json(value[j], raw):
                        ctx.add(
                            child(pointer, i),
                            f"{label(pointer)}[{i}] repeats {label(pointer)}[{j}]",
                        )
                        break
            out.append(item(raw, child(pointer, i), ctx))
        if not valid(*out):
            return INVALID  # type: ignore[no-any-return]
        return tuple(out)

    return parse


def _same_json(a: object, b: object) -> bool:
    # Python's == says True == 1; JSON does not.
    return json_type(a) == json_type(b) and a == b


# --------------------------------------------------------------------------------------------
# scalar formats of docs/SPEC.md §3.2

_PARTY_ID = re.compile(r"[a-z][a-z0-9-]{1,62}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_B64_KEY = re.compile(r"[A-Za-z0-9+/]{43}=")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
_URI_CHARS = re.compile(r"[\x21-\x7e]+")
RESERVED_PARTY_IDS = frozenset({"registry"})


def is_party_id(value: object) -> bool:
    """Whether ``value`` is a party id: ``^[a-z][a-z0-9-]{1,62}$``, no final ``-``, not reserved."""
    return (
        isinstance(value, str)
        and _PARTY_ID.fullmatch(value) is not None
        and not value.endswith("-")
        and value not in RESERVED_PARTY_IDS
    )


def parse_timestamp(value: str) -> int:
    """Milliseconds since the Unix epoch of a ``YYYY-MM-DDTHH:MM:SSZ`` timestamp.

    Only this exact form is accepted: UTC with ``Z``, whole seconds, a real calendar instant
    (no leap second), not before 1970-01-01T00:00:00Z.

    Raises:
        ValueError: if ``value`` is not such a timestamp.
    """
    if not isinstance(value, str):
        raise ValueError(f"a timestamp must be a string, got {json_type(value)}")
    m = _TIMESTAMP.fullmatch(value)
    if m is None:
        raise ValueError(
            f"{show(value)} is not of the form YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds)"
        )
    year, month, day, hour, minute, second = (int(g) for g in m.groups())
    try:
        instant = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"{show(value)} is not a real instant ({exc})") from None
    ms = int(instant.timestamp()) * 1000
    if ms < 0:
        raise ValueError(f"{show(value)} is before 1970-01-01T00:00:00Z")
    return ms


def format_timestamp(ms: int) -> str:
    """The ``YYYY-MM-DDTHH:MM:SSZ`` form of ``ms`` milliseconds since the epoch.

    A sub-second part is dropped (rounded down), so ``parse_timestamp(format_timestamp(ms))``
    equals ``ms - ms % 1000``.

    Raises:
        ValueError: if ``ms`` is not an integer, is negative or is past year 9999.
    """
    if not isinstance(ms, int) or isinstance(ms, bool):
        raise ValueError(f"milliseconds must be an integer, got {json_type(ms)}")
    if ms < 0:
        raise ValueError(f"milliseconds must not be negative, got {ms}")
    try:
        instant = datetime.fromtimestamp(ms // 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"{ms} ms is out of range") from exc
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(value: str) -> date:
    """The calendar date of a ``YYYY-MM-DD`` string.

    Raises:
        ValueError: if ``value`` is not of that form or not a real date.
    """
    m = _DATE.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"{show(value)} is not of the form YYYY-MM-DD")
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError as exc:
        raise ValueError(f"{show(value)} is not a real date ({exc})") from None


def _check_timestamp(value: str) -> str | None:
    try:
        parse_timestamp(value)
    except ValueError as exc:
        return f"must be a timestamp: {exc}"
    return None


def _check_date(value: str) -> str | None:
    try:
        parse_date(value)
    except ValueError as exc:
        return f"must be a date: {exc}"
    return None


def _check_party(value: str) -> str | None:
    if value in RESERVED_PARTY_IDS:
        return f"must be a party id, but {value!r} is reserved"
    if not is_party_id(value):
        return (
            f"must be a party id (^[a-z][a-z0-9-]{{1,62}}$, not ending in '-'), got {show(value)}"
        )
    return None


def _check_b64_key(value: str) -> str | None:
    if _B64_KEY.fullmatch(value) is None:
        return "must be a 32-byte Ed25519 public key in padded standard base64 (44 characters)"
    raw = base64.b64decode(value, validate=True)
    if base64.b64encode(raw).decode("ascii") != value:
        return "is not canonical base64 (non-zero trailing bits)"
    return None


def _check_uri(value: str) -> str | None:
    if _URI_CHARS.fullmatch(value) is None:
        return "must be an absolute URI of printable ASCII characters without spaces"
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not value.startswith(f"{parts.scheme}://"):
        return f"must be an absolute https:// or http:// URI, got {show(value)}"
    if not parts.hostname or "@" in parts.netloc:
        return f"must name a host (and no user info), got {show(value)}"
    return None


def _check_decimal(value: str) -> str | None:
    if _DECIMAL.fullmatch(value) is None:
        return f"must be a decimal string like '12' or '-0.25', got {show(value)}"
    return None


def _check_non_negative_decimal(value: str) -> str | None:
    problem = _check_decimal(value)
    if problem is None and value.startswith("-"):
        return f"must not be negative, got {show(value)}"
    return problem


party_id = string(63, check=_check_party)
hex64 = pattern(r"[0-9a-f]{64}", "64 lowercase hex characters", 64)
timestamp = string(20, check=_check_timestamp)
date_str = string(10, check=_check_date)
b64_key = string(44, check=_check_b64_key)
uri = string(URI_MAX, check=_check_uri)
decimal = string(40, check=_check_decimal)
non_negative_decimal = string(40, check=_check_non_negative_decimal)
name = string(NAME_MAX)
text = string(TEXT_MAX, multiline=True)
alpha2 = pattern(r"[A-Z]{2}", "an ISO 3166-1 alpha-2 code (two capital letters)", 2)
language = pattern(
    r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", "a BCP 47 language tag such as 'en' or 'pt-BR'", 35
)


def decimal_value(value: str) -> tuple[int, int]:
    """A checked decimal string as an exact fraction ``(numerator, 10**scale)`` for comparing."""
    negative = value.startswith("-")
    digits = value.lstrip("-")
    whole, _, frac = digits.partition(".")
    num = int(whole + frac) * (-1 if negative else 1)
    return num, 10 ** len(frac)


def decimal_less(a: str, b: str) -> bool:
    """Whether decimal string ``a`` is numerically less than ``b``."""
    an, ad = decimal_value(a)
    bn, bd = decimal_value(b)
    return an * bd < bn * ad


def int_or_decimal(value: object, pointer: str, ctx: Ctx) -> int | str:
    """A JSON integer or a decimal string (the profile has no floats)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return integer(-SAFE_INT, SAFE_INT)(value, pointer, ctx)
    if isinstance(value, str):
        return decimal(value, pointer, ctx)
    return ctx.add(  # type: ignore[no-any-return]
        pointer, f"{label(pointer)} must be an integer or a decimal string, got {json_type(value)}"
    )


def freeze(value: Any) -> Any:
    """A JSON value with arrays as tuples and objects as sorted tuples of pairs (hashable)."""
    if isinstance(value, Mapping):
        return FrozenObject(tuple(sorted((k, freeze(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The plain JSON value of a :func:`freeze` result."""
    if isinstance(value, FrozenObject):
        return {k: thaw(v) for k, v in value.items}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


class FrozenObject:
    """An immutable, hashable JSON object (members sorted by name)."""

    __slots__ = ("items",)

    def __init__(self, items: tuple[tuple[str, Any], ...]) -> None:
        self.items = items

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> FrozenObject:
        """Freeze a plain JSON object."""
        frozen = freeze(dict(value))
        assert isinstance(frozen, FrozenObject)  # noqa: S101 (narrowing for mypy)
        return frozen

    def to_dict(self) -> dict[str, Any]:
        """The plain JSON object."""
        return {k: thaw(v) for k, v in self.items}

    def get(self, name: str, default: Any = None) -> Any:
        """The frozen value of member ``name``, or ``default``."""
        for k, v in self.items:
            if k == name:
                return v
        return default

    def __contains__(self, name: object) -> bool:
        return any(k == name for k, _ in self.items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FrozenObject) and self.items == other.items

    def __hash__(self) -> int:
        return hash(self.items)

    def __repr__(self) -> str:
        return f"FrozenObject({dict(self.items)!r})"
