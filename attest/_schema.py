"""A small, private toolkit for reading JSON objects into models while collecting every problem.

A reader walks an already-decoded JSON value (§1 of docs/SPEC.md) and records a
:class:`~attest.errors.FieldProblem` for each thing that is wrong, with an RFC 6901 pointer from the
statement root, instead of stopping at the first. Each parser has the shape
``(value, parent, token, ctx) -> T``: the value's pointer is ``parent`` plus the member name or
array index ``token`` (``None``: ``parent`` itself), and is only spelled out (:func:`pointer_of`)
when a problem is recorded or a nested object or array needs it. On failure a parser records a
problem and returns :data:`INVALID`, a sentinel that is never stored in a model because
:meth:`Obj.build` only builds an object when nothing in its subtree was wrong.

Parsers are built once, at import (``enum``, ``array``, ``obj``... are factories), and the happy
path of each is kept short: this reader runs for every entry ingested, verified or served.

The same reader doubles as each model's invariant check: :class:`Model` re-reads
``self.to_dict()`` in check-only mode when a model is built directly, so the rules live in one
place (the ``_read`` classmethod of each model). While :func:`parse` is building a tree it has just
checked, that re-check is switched off.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ParamSpec, Self, TypeAlias, TypeVar

from attest.errors import FieldProblem, SchemaError

__all__: list[str] = []  # private toolkit: see attest.statements

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)
P = ParamSpec("P")

Token: TypeAlias = str | int | None
Parser: TypeAlias = Callable[[object, str, Token, "Ctx"], T]

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
    for v in values:  # noqa: SIM110 (a plain loop: no generator on this hot path)
        if v is INVALID:
            return False
    return True


class _Absent:
    """Type of :data:`_ABSENT`: what :meth:`Obj.req` finds for a member that is not there."""

    __slots__ = ()


_ABSENT: Any = _Absent()


# --------------------------------------------------------------------------------------------
# pointers and messages


def child(pointer: str, token: str | int) -> str:
    """The RFC 6901 pointer to member or item ``token`` of the value at ``pointer``."""
    text = token if type(token) is str else str(token)
    if "~" in text or "/" in text:
        text = text.replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{text}"


def pointer_of(parent: str, token: Token) -> str:
    """The pointer given to a parser as ``(parent, token)``; ``token`` None means ``parent``."""
    return parent if token is None else child(parent, token)


def _pointer(parent: str, token: Token) -> str:
    """:func:`pointer_of`, with the common tokens inline: a member name that needs no escape, an
    array index (``str`` of an int never holds ``~`` or ``/``)."""
    kind = type(token)
    if kind is int or (kind is str and "~" not in token and "/" not in token):  # type: ignore[operator]
        return f"{parent}/{token}"
    return pointer_of(parent, token)


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


def _problem(ctx: Ctx, parent: str, token: Token, what: str) -> Any:
    """Record ``<label> <what>`` at the field ``(parent, token)``; returns :data:`INVALID`."""
    pointer = pointer_of(parent, token)
    return ctx.add(pointer, f"{label(pointer)} {what}")


def _wrong_type(value: object, parent: str, token: Token, ctx: Ctx, name: str) -> Any:
    """Record ``<label> must be <name>, got <JSON type>``; returns :data:`INVALID`."""
    return _problem(ctx, parent, token, f"must be {name}, got {json_type(value)}")


class Obj:
    """Reads the members of one JSON object, recording problems in a :class:`Ctx`."""

    __slots__ = ("_lookup", "_mark", "_seen", "ctx", "pointer", "value")

    def __init__(self, value: object, pointer: str, ctx: Ctx) -> None:
        self.ctx = ctx
        self.pointer = pointer
        self._mark = len(ctx.problems)
        self._seen: set[str] = set()
        # _lookup(name, default): the member, or default when absent (or when not an object).
        self._lookup: Callable[[str, Any], Any]
        if type(value) is dict:
            self.value: Mapping[str, Any] | None = value
            self._lookup = value.get
        elif isinstance(value, Mapping):
            self.value = value
            self._lookup = _mapping_lookup(value)
        else:
            self.value = None
            self._lookup = _no_member
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
        raw = self._lookup(name, _ABSENT)
        if raw is _ABSENT:
            if self.value is None:
                return INVALID  # type: ignore[no-any-return]
            return self.ctx.add(  # type: ignore[no-any-return]
                self.at(name), f"missing required field '{name}' in {where(self.pointer)}"
            )
        return parse(raw, self.pointer, name, self.ctx)

    def opt(self, name: str, parse: Parser[T]) -> T | None:
        """Read an optional member: ``None`` when absent; present as ``null`` is a problem."""
        self._seen.add(name)
        raw = self._lookup(name, _ABSENT)
        if raw is _ABSENT:
            return INVALID if self.value is None else None
        return parse(raw, self.pointer, name, self.ctx)

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

    def build(self, factory: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Refuse unknown members, then build the model if nothing in this object was wrong.

        The model is ``factory(*args, **kwargs)``, called only then (the arguments are the
        values read, some of them :data:`INVALID` when something was wrong).
        """
        value = self.value
        # issuperset walks the members in C; the loop (in member order) runs only when one of
        # them is unknown.
        if value is not None and not self._seen.issuperset(value):
            for key in value:
                if key not in self._seen:
                    self.ctx.add(
                        child(self.pointer, key),
                        f"unknown field '{key}' in {where(self.pointer)}",
                    )
        if len(self.ctx.problems) > self._mark:
            return INVALID  # type: ignore[no-any-return]
        if not self.ctx.build:
            return UNBUILT  # type: ignore[no-any-return]
        return factory(*args, **kwargs)


def _mapping_lookup(value: Mapping[str, Any]) -> Callable[[str, Any], Any]:
    """``_lookup`` for a Mapping that is not a dict: ``in`` then ``[]``, as Mappings define."""

    def lookup(name: str, default: Any) -> Any:
        # Exactly the membership test and item access the reader always made.
        return value[name] if name in value else default  # noqa: SIM401

    return lookup


def _no_member(name: str, default: Any) -> Any:
    """``_lookup`` for a value that is not an object."""
    return default


def obj(read: Callable[[Obj], T]) -> Parser[T]:
    """A parser for a JSON object read by ``read``."""

    def parse(value: object, parent: str, token: Token, ctx: Ctx) -> T:
        # _pointer(parent, token), with a member name that needs no escape joined inline.
        if type(token) is str and "~" not in token and "/" not in token:
            return read(Obj(value, f"{parent}/{token}", ctx))
        return read(Obj(value, _pointer(parent, token), ctx))

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


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def string(
    max_len: int = NAME_MAX,
    *,
    multiline: bool = False,
    check: Callable[[str], str | None] | None = None,
    fullmatch: tuple[Callable[[str], object], str] | None = None,
) -> Parser[str]:
    """A non-blank string of at most ``max_len`` code points.

    Single-line strings (the default) refuse control characters and leading or trailing
    whitespace; ``multiline`` text allows tab and newline. ``check`` returns an extra problem
    (a phrase completing "<field> ...") or ``None``. ``fullmatch`` is :func:`pattern`'s format
    check, made in the same place: a regular expression's ``fullmatch`` and what it describes.
    """
    controls = (_CONTROL_TEXT if multiline else _CONTROL).search
    matches, what = fullmatch if fullmatch is not None else (None, "")

    def parse(value: object, parent: str, token: Token, ctx: Ctx) -> str:
        if not isinstance(value, str):
            return _wrong_type(value, parent, token, ctx, "a string")  # type: ignore[no-any-return]
        stripped = value.strip()
        if not stripped:
            return _problem(ctx, parent, token, "must not be empty or blank")  # type: ignore[no-any-return]
        # Printable ASCII (U+0020..U+007E) holds no control character: no need to search it.
        if not (value.isascii() and value.isprintable()) and controls(value):
            return _problem(ctx, parent, token, "contains a control character")  # type: ignore[no-any-return]
        if not multiline and value != stripped:
            return _problem(  # type: ignore[no-any-return]
                ctx, parent, token, "must not have leading or trailing whitespace"
            )
        # A format check first: its message says more than a length would.
        if matches is not None and matches(value) is None:
            return _problem(ctx, parent, token, f"must be {what}, got {show(value)}")  # type: ignore[no-any-return]
        if check is not None:
            problem = check(value)
            if problem is not None:
                return _problem(ctx, parent, token, problem)  # type: ignore[no-any-return]
        if len(value) > max_len:
            return _problem(  # type: ignore[no-any-return]
                ctx, parent, token, f"is {len(value)} characters long; the limit is {max_len}"
            )
        return value

    return parse


def pattern(regex: str, what: str, max_len: int = NAME_MAX) -> Parser[str]:
    """A string matching ``regex`` in full (``what`` describes the format for messages)."""
    return string(max_len, fullmatch=(re.compile(regex).fullmatch, what))


def integer(minimum: int, maximum: int) -> Parser[int]:
    """An integer (never a boolean) in ``[minimum, maximum]``."""

    def parse(value: object, parent: str, token: Token, ctx: Ctx) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            return _wrong_type(value, parent, token, ctx, "an integer")  # type: ignore[no-any-return]
        if not minimum <= value <= maximum:
            return _problem(  # type: ignore[no-any-return]
                ctx, parent, token, f"must be between {minimum} and {maximum}, got {value}"
            )
        return value

    return parse


def boolean(value: object, parent: str, token: Token, ctx: Ctx) -> bool:
    """A JSON boolean."""
    if not isinstance(value, bool):
        return _wrong_type(value, parent, token, ctx, "a boolean")  # type: ignore[no-any-return]
    return value


_VOCABULARIES: dict[Parser[Any], Mapping[str, Any]] = {}
"""For the parsers made by :func:`enum` and :func:`choice`: what each accepted string reads as."""


def enum(kind: type[E]) -> Parser[E]:
    """A string naming a member of the StrEnum ``kind`` (by value, exact case)."""
    known = ", ".join(m.value for m in kind)
    # What kind(value) looks up first; for a string it finds exactly what kind(value) returns.
    by_value: dict[str, E] = {m.value: m for m in kind.__members__.values()}

    def parse(value: object, parent: str, token: Token, ctx: Ctx) -> E:
        if not isinstance(value, str):
            return _wrong_type(value, parent, token, ctx, "a string")  # type: ignore[no-any-return]
        member = by_value.get(value)
        if member is None:
            return _problem(ctx, parent, token, f"{show(value)} is not one of: {known}")  # type: ignore[no-any-return]
        return member

    _VOCABULARIES[parse] = by_value
    return parse


def choice(options: Sequence[str]) -> Parser[str]:
    """A string equal to one of ``options`` (an open vocabulary kept as plain strings)."""
    known = ", ".join(options)
    allowed = frozenset(options)

    def parse(value: object, parent: str, token: Token, ctx: Ctx) -> str:
        if not isinstance(value, str):
            return _wrong_type(value, parent, token, ctx, "a string")  # type: ignore[no-any-return]
        if value not in allowed:
            return _problem(ctx, parent, token, f"{show(value)} is not one of: {known}")  # type: ignore[no-any-return]
        return value

    _VOCABULARIES[parse] = {option: option for option in allowed}
    return parse


def array(
    item: Parser[T], *, min_items: int = 0, max_items: int = LIST_MAX, unique: bool = False
) -> Parser[tuple[T, ...]]:
    """A JSON array of ``min_items``..``max_items`` items read by ``item``.

    With ``unique``, an item equal (as JSON) to an earlier one is a problem at the later item.
    """
    need = "item" if min_items == 1 else "items"
    vocabulary = _VOCABULARIES.get(item)

    def parse(value: object, parent: str, token: Token, ctx: Ctx) -> tuple[T, ...]:
        if not isinstance(value, list):
            return _wrong_type(value, parent, token, ctx, "an array")  # type: ignore[no-any-return]
        size = len(value)
        if size < min_items:
            return _problem(  # type: ignore[no-any-return]
                ctx, parent, token, f"must have at least {min_items} {need}, got {size}"
            )
        if size > max_items:
            return _problem(  # type: ignore[no-any-return]
                ctx, parent, token, f"must have at most {max_items} items, got {size}"
            )
        if vocabulary is not None:
            # Items of an enum or choice: when every item is a plain string of the vocabulary
            # (and, if unique, no two are equal), ``item`` would return vocabulary[x] for each
            # and record nothing, so the result is built here without a call per item. Any
            # other array takes the item-by-item path below.
            fast: list[Any] = []
            for x in value:
                read = vocabulary.get(x) if type(x) is str else None
                if read is None:
                    break
                fast.append(read)
            else:
                if not unique or len(set(value)) == size:
                    return tuple(fast)
        if type(token) is str and "~" not in token and "/" not in token:
            pointer = f"{parent}/{token}"  # _pointer(parent, token), inline for a plain name
        else:
            pointer = _pointer(parent, token)
        if unique and not _distinct(value):
            return _unique_items(item, value, pointer, ctx)
        out: list[T] = []
        ok = True
        for i, raw in enumerate(value):
            result = item(raw, pointer, i, ctx)
            if result is INVALID:
                ok = False
            out.append(result)
        if not ok:
            return INVALID  # type: ignore[no-any-return]
        return tuple(out)

    return parse


def _distinct(items: list[Any]) -> bool:
    """True when no item can equal (as JSON) another: then ``unique`` finds nothing to report.

    Only decided for fewer than two items or all exact strings (whose ``==`` agrees with their
    hash, so a set counts them exactly); any other list gets the item-by-item comparison.
    """
    if len(items) < 2:
        return True
    for x in items:
        if type(x) is not str:
            return False
    return len(set(items)) == len(items)


def _unique_items(item: Parser[T], value: list[Any], pointer: str, ctx: Ctx) -> tuple[T, ...]:
    """Read the items of an array that must hold no repeats; a repeat names its first copy."""
    out: list[T] = []
    first: dict[object, int] = {}
    for i, raw in enumerate(value):
        j = first.setdefault(_json_key(raw), i)
        if j != i:
            ctx.add(child(pointer, i), f"{label(pointer)}[{i}] repeats {label(pointer)}[{j}]")
        out.append(item(raw, pointer, i, ctx))
    if not valid(*out):
        return INVALID  # type: ignore[no-any-return]
    return tuple(out)


def _json_key(value: object) -> object:
    """A hashable key, equal for two values exactly when they are equal as JSON (SPEC §3.2).

    Types are compared at every depth (Python's ``==`` says ``True == 1``; JSON does not), and
    objects whatever the order of their members.
    """
    if isinstance(value, Mapping):
        return ("o", frozenset((str(k), _json_key(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("a", tuple(_json_key(v) for v in value))
    return (json_type(value), value)


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
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


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
    return _timestamp_ms(value)


@functools.lru_cache(maxsize=1 << 12)
def _timestamp_ms(value: str) -> int:
    # Memoized: the rules and the views read the same few timestamps again and again (every
    # entry's signedAt, shared by the entries signed in the same second). Errors are not cached.
    m = _TIMESTAMP.fullmatch(value)
    if m is None:
        raise ValueError(
            f"{show(value)} is not of the form YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds)"
        )
    year, month, day, hour, minute, second = map(int, m.groups())
    try:
        # Naive: the fields are UTC, and a time zone changes none of the constructor's checks.
        instant = datetime(year, month, day, hour, minute, second)  # noqa: DTZ001
    except ValueError as exc:
        raise ValueError(f"{show(value)} is not a real instant ({exc})") from None
    # Exact integer arithmetic: the same whole seconds as the UTC instant's int(timestamp()),
    # without the float (toordinal() of 1970-01-01 is _EPOCH_ORDINAL).
    days = instant.toordinal() - _EPOCH_ORDINAL
    ms = (days * 86400 + hour * 3600 + minute * 60 + second) * 1000
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
    # For exactly this form, date.fromisoformat builds date(year, month, day) with the same
    # checks, in C; when it refuses, the constructor below words the error.
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError as exc:
        raise ValueError(f"{show(value)} is not a real date ({exc})") from None


def _check_timestamp(value: str) -> str | None:
    # The happy path without int() or datetime: for this fixed-width form, parse_timestamp
    # accepts exactly when the date is real, hour < 24, minute < 60, second < 60 (two ASCII
    # digits compare as text as they do as numbers) and the year is at least 1970. Anything
    # else goes through parse_timestamp for its message.
    if (
        _TIMESTAMP.fullmatch(value) is not None
        and value[:4] >= "1970"
        and value[11:13] < "24"
        and value[14:16] < "60"
        and value[17:19] < "60"
    ):
        try:
            date.fromisoformat(value[:10])
        except ValueError:
            pass
        else:
            return None
    try:
        parse_timestamp(value)
    except ValueError as exc:
        return f"must be a timestamp: {exc}"
    return None


def _check_date(value: str) -> str | None:
    # parse_date's own happy path, inline; anything else goes through it for its message.
    if _DATE.fullmatch(value) is not None:
        try:
            date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return None
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


_URI_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_URI_HOST_PORT = re.compile(rf"{_URI_LABEL}(?:\.{_URI_LABEL})*(?::[0-9]{{1,5}})?")
_URI_AUTHORITY_END = re.compile(r"[/?#]")


def _check_uri(value: str) -> str | None:
    # SPEC §3.2, by its own grammar (no URL library: their readings differ between versions).
    if _URI_CHARS.fullmatch(value) is None:
        return "must be an absolute URI of printable ASCII characters without spaces"
    if value.startswith("https://"):
        rest = value[8:]
    elif value.startswith("http://"):
        rest = value[7:]
    else:
        return f"must be an absolute https:// or http:// URI, got {show(value)}"
    end = _URI_AUTHORITY_END.search(rest)
    authority = rest if end is None else rest[: end.start()]
    if _URI_HOST_PORT.fullmatch(authority) is None:
        return (
            "must name a host: a DNS name with an optional port (no user info, no IP literal "
            f"in brackets), got {show(value)}"
        )
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


_SAFE_INTEGER = integer(-SAFE_INT, SAFE_INT)


def int_or_decimal(value: object, parent: str, token: Token, ctx: Ctx) -> int | str:
    """A JSON integer or a decimal string (the profile has no floats)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _SAFE_INTEGER(value, parent, token, ctx)
    if isinstance(value, str):
        return decimal(value, parent, token, ctx)
    return _problem(  # type: ignore[no-any-return]
        ctx, parent, token, f"must be an integer or a decimal string, got {json_type(value)}"
    )


def freeze(value: Any) -> Any:
    """A JSON value with arrays as tuples and objects as sorted tuples of pairs (hashable)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value  # the common leaves first: none of them is a Mapping, list or tuple
    # Members that are plain strings are leaves too: kept as they are, without a call.
    if kind is dict or isinstance(value, Mapping):
        return FrozenObject(
            tuple(sorted([(k, v if type(v) is str else freeze(v)) for k, v in value.items()]))
        )
    if kind is list or isinstance(value, list | tuple):
        return tuple([v if type(v) is str else freeze(v) for v in value])
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
