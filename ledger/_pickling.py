"""The pickling a snapshot and the signature workers' results use (ledger/_snapshot.py,
ledger/_pool.py): fast for slotted dataclasses, and resolving only this code's classes.

The default pickle of a slotted dataclass restores each object through
``dataclasses._dataclass_setstate``, which looks the fields up again per object: most of the time
of reading a snapshot (8 of 11 s for 100,000 entries), and ≈ 100 µs an entry of the worker
results a catch-up unpickles in the ledger's one process. :class:`_Pickler` calls the class with
its fields instead, or, for a class that would validate itself again in ``__post_init__`` (a
statement body's takes ≈ 1 ms), sets them without calling it (:class:`_Restored`): the object
was valid when it was pickled, and only our own processes' bytes are read here (a snapshot's are
signed by the log key; a worker's come through a pipe from our own process). :func:`loads`
resolves only classes of :data:`PACKAGES` and a few plain builtins.
"""

from __future__ import annotations

import dataclasses
import gc
import io
import pickle
from typing import Any, Final

from attest.statemap import StateMap
from keys import PublicKey
from ledger._gc import collector_paused, heap_frozen

__all__ = ["PACKAGES", "dumps", "loads", "loads_lasting"]

PACKAGES: Final = ("attest", "keys", "ledger")
"""The packages whose classes :func:`loads` resolves."""

_BUILTINS: Final = frozenset({"frozenset", "set", "bytearray", "complex", "slice", "range"})


def dumps(obj: object) -> bytes:
    """``obj`` pickled (see the module docstring)."""
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return out.getvalue()


def loads(data: bytes) -> Any:
    """What :func:`dumps` made of ``data``.

    Raises:
        pickle.UnpicklingError: ``data`` names a class outside :data:`PACKAGES`, or any other
            failure to read it (whatever the unpickler raises).
    """
    return _Unpickler(io.BytesIO(data)).load()


def loads_lasting(data: bytes) -> Any:
    """:func:`loads` for state read after an open that lives as long as the ledger (a snapshot's
    part, name index or state map nodes, read when first needed): no collection walks the
    objects while they are built, and they join the permanent generation if the process froze
    its heap after its open (:func:`ledger._gc.freeze_heap`, as a server does), so that later
    collections need not walk them either.

    Raises:
        pickle.UnpicklingError: as :func:`loads`.
    """
    with collector_paused():
        value = loads(data)
    if heap_frozen():
        gc.freeze()
    return value


class _Pickler(pickle.Pickler):
    """Pickles slotted dataclasses as a call of the class with their fields.

    The default for a dataclass with ``slots=True`` restores each object through
    ``dataclasses._dataclass_setstate``, which looks the fields up again per object: most of the
    time of reading a snapshot (8 of 11 s for 100,000 entries). Calling the class runs its
    generated ``__init__`` instead; a class with a ``__post_init__`` (own or inherited: statement
    bodies validate themselves there) is restored from its fields without it (:class:`_Restored`),
    and a ``PublicKey`` without its point check (:class:`_RestoredKey`). Other classes with their
    own ``__reduce__`` keep the default.
    """

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        if cls is PublicKey:
            return _RestoredKey, (obj.raw,)
        if cls is StateMap:
            load = obj.loader
            data = load.data if isinstance(load, _MapNodes) else dumps(obj.nodes())
            return _RestoredMap, (obj.root(), obj.size, data)
        names = _init_fields(cls)
        if names is not None:
            return cls, tuple(getattr(obj, n) for n in names)
        names = _slot_fields(cls)
        if names is not None:
            return _Restored, (cls, tuple(getattr(obj, n) for n in names))
        return NotImplemented


_SLOT_FIELDS: dict[type, tuple[str, ...] | None] = {}
_INIT_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _slot_fields(cls: type) -> tuple[str, ...] | None:
    """Every field of a slotted dataclass without its own ``__reduce__``, or None for other
    classes (pickled by default)."""
    if cls not in _SLOT_FIELDS:
        own = cls.__dict__
        _SLOT_FIELDS[cls] = (
            tuple(f.name for f in dataclasses.fields(cls))
            if dataclasses.is_dataclass(cls)
            and "__slots__" in own
            and not {"__reduce__", "__reduce_ex__"} & own.keys()
            else None
        )
    return _SLOT_FIELDS[cls]


def _init_fields(cls: type) -> tuple[str, ...] | None:
    """The field names to call a slotted dataclass with (all of them, when all are ``__init__``
    arguments and no ``__post_init__``, own or inherited, would validate the object again: a
    statement body's takes ≈ 1 ms), or None."""
    if cls not in _INIT_FIELDS:
        names = _slot_fields(cls)
        callable_ = (
            names is not None
            and not hasattr(cls, "__post_init__")
            and all(f.init for f in dataclasses.fields(cls))
        )
        _INIT_FIELDS[cls] = names if callable_ else None
    return _INIT_FIELDS[cls]


class _Restored:
    """Unpickles a slotted dataclass with a ``__post_init__`` from its fields, without calling
    it: a statement body's validates it again (≈ 1 ms each), though the rules accepted it once.
    The default (``dataclasses._dataclass_setstate``) looks the fields up again per object."""

    def __new__(cls, target: type, values: tuple[Any, ...]) -> Any:
        names = _slot_fields(target)
        if names is None or len(names) != len(values):
            raise pickle.UnpicklingError(f"{target.__name__} is not restored from its fields")
        obj: Any = object.__new__(target)
        for name, value in zip(names, values, strict=True):
            object.__setattr__(obj, name, value)
        return obj


class _RestoredKey:
    """Unpickles a :class:`PublicKey` without checking its point again: every key in a snapshot
    passed the KEY rule (SPEC §2.1) when the entry that named it was decided, and the snapshot's
    data is what the log key signed. (A key's own ``__reduce__``, which the default pickle uses,
    checks it again: ≈ 50 µs, five seconds for a regime of 100,000 companies.) The workers'
    results carry no keys; the keys sent to a worker go as raw bytes and are checked there."""

    def __new__(cls, raw: bytes) -> Any:
        return PublicKey._checked_before(raw)  # the one caller it is for


class _RestoredMap:
    """Unpickles a :class:`StateMap` deferred: its nodes, pickled apart (bytes within the
    snapshot's), are read when first needed (its root and size are at hand before). Reading
    them took a tenth of an open from a snapshot of 100,000 companies, and a server may serve
    long before its first append or evidence bundle needs them."""

    def __new__(cls, root: bytes, size: int, data: bytes) -> Any:
        if not isinstance(root, bytes) or not isinstance(size, int) or not isinstance(data, bytes):
            raise pickle.UnpicklingError("a state map is its root, size and nodes")
        return StateMap.deferred(root, size, _MapNodes(data))


class _MapNodes:
    """Reads a deferred state map's nodes from their pickled bytes (kept, so that a snapshot
    taken before they are read copies them as they are)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __call__(self) -> Any:
        nodes = loads_lasting(self.data)
        if nodes is not None and not isinstance(nodes, tuple):
            raise pickle.UnpicklingError("a state map's nodes are a tuple")
        return nodes


class _Unpickler(pickle.Unpickler):
    """Resolves only classes of :data:`PACKAGES` (and a few plain builtins)."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _BUILTINS:
            return super().find_class(module, name)
        if module.partition(".")[0] in PACKAGES:
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} may not be in a snapshot")
