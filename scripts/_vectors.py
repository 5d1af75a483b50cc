"""What every vector generator shares: the file layout and the write-or-check command line.

Each generator (``gen_vectors``, ``gen_vectors_witness``, ``gen_vectors_proof``) builds its files'
exact bytes in memory; this module writes them, or compares them with what is on disk.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["vector_doc", "write_or_check"]


def vector_doc(description: str, spec: str, cases: Sequence[dict[str, Any]]) -> bytes:
    """A vector file: ``{description, spec, cases}``, sorted keys, two-space indent, ASCII only,
    one trailing newline (SPEC §9). Case names must be unique.

    Raises:
        AssertionError: two cases share a name.
    """
    names = [c["name"] for c in cases]
    if len(set(names)) != len(names):
        raise AssertionError(f"duplicate case names in {spec}")
    doc = {"description": description, "spec": spec, "cases": list(cases)}
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


def write_or_check(
    build: Callable[[], dict[str, bytes]],
    default_out: Path,
    argv: list[str] | None,
    description: str | None,
    *,
    exclusive: bool = False,
) -> int:
    """The command line of a generator: write the files ``build`` makes into ``--out``, or with
    ``--check`` return 1 if any is missing or differs (``exclusive``: also if ``--out`` holds a
    ``*.json`` this generator does not make)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--out", type=Path, default=default_out, help="output directory")
    args = parser.parse_args(argv)
    out: Path = args.out
    files = build()
    if args.check:
        stale = [n for n, data in files.items() if _read(out / n) != data]
        extra = sorted(p.name for p in out.glob("*.json") if p.name not in files)
        for name in stale:
            print(f"out of date: {out / name}")
        for name in extra if exclusive else []:
            print(f"not generated: {out / name}")
        return 1 if stale or (exclusive and extra) else 0
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    print(f"wrote {len(files)} file(s) to {out}")
    return 0


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None
