"""Generate the tile vectors, ``tests/vectors/tiles/tiles.json`` (SPEC §14, C2SP tlog-tiles).

Run ``python -m scripts.gen_vectors_tiles`` to (re)write the file, or ``--check`` to compare it
with what would be written (exit status 1 when it differs). Conventions as the other generators:
``{"description", "spec", "cases"}``, each case ``{name, input, expect | error}``, sorted keys,
ASCII, a trailing newline; every expectation is computed by the library and every refusal is
checked to be refused here.

Cases: the tlog-tiles path examples and index encodings; refused paths; the tiles of the spec's
70,000-leaf and 256-leaf trees; a 773-leaf log with synthetic envelopes (only their entry hashes
matter, SPEC §5.1): every tile and bundle (path, length, SHA-256 of the bytes), the first entry
of each bundle kind in hex, the root, and proofs computed from tiles with the tiles they read;
refused bundles.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attest.dsse import PAYLOAD_TYPE, Envelope, Signature
from attest.entry import entry_hash, leaf_data
from attest.errors import VerificationError
from attest.merkle import MemoryTree, leaf_hash
from attest.tiles import (
    TILE_WIDTH,
    TileHashReader,
    TileRef,
    bundle_log_entries,
    encode_entry_bundle,
    encode_envelope_bundle,
    encode_tile_index,
    parse_tile_path,
    tile_bytes,
    tiles_for_size,
)
from keys import KeyId
from scripts._vectors import vector_doc, write_or_check

__all__ = ["FILE", "SIZE", "VECTORS_DIR", "build", "log", "main", "serve"]

Json = dict[str, Any]

VECTORS_DIR = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "tiles"
FILE = "tiles.json"
SIZE = 773  # three full bundles and a partial one of 5; a partial level-1 tile of 3
LOG_TIME_MS = 1_800_000_000_000
_STREAMS = ("registry", "acme-social", "pixelstream")


def envelope(i: int) -> bytes:
    """A synthetic envelope for entry ``i`` (stored form); only its entry hash matters here."""
    payload = json.dumps({"entry": i}, separators=(",", ":")).encode("ascii")
    sig = Signature(KeyId(hashlib.sha256(b"key %d" % i).hexdigest()), bytes([i % 256]) * 64)
    return Envelope(PAYLOAD_TYPE, payload, (sig,)).to_bytes()


def log(size: int = SIZE) -> tuple[list[bytes], list[bytes]]:
    """The leaf data and stored envelopes of the first ``size`` entries of the vector log."""
    datas, envs = [], []
    positions: dict[str, int] = {}
    for i in range(size):
        stream = _STREAMS[i % 3]
        position = positions.get(stream, 0)
        positions[stream] = position + 1
        env = envelope(i)
        ehash = entry_hash(Envelope.parse_stored(env))
        root = hashlib.sha256(b"state root %d" % i).digest()
        datas.append(leaf_data(i, stream, position, LOG_TIME_MS + i, ehash, root))
        envs.append(env)
    return datas, envs


def serve(datas: list[bytes], envs: list[bytes], size: int) -> dict[str, bytes]:
    """Every file of the tree of ``size`` leaves: path -> bytes (tiles and both bundles)."""
    tree = MemoryTree()
    for d in datas[:size]:
        tree.append(leaf_hash(d))
    files: dict[str, bytes] = {}
    for ref in tiles_for_size(size, ("hash", "entries", "envelopes")):
        lo, hi = ref.index * TILE_WIDTH, ref.index * TILE_WIDTH + ref.width
        if ref.kind == "hash":
            files[ref.path] = tile_bytes(ref, tree.get_node)
        elif ref.kind == "entries":
            files[ref.path] = encode_entry_bundle(datas[lo:hi])
        else:
            files[ref.path] = encode_envelope_bundle(envs[lo:hi])
    return files


def _same(got: object, want: object) -> None:
    if got != want:
        raise AssertionError(f"{got!r} != {want!r}")


def _refused(name: str, input_: Json, reason: str, call: Callable[[], object]) -> Json:
    try:
        call()
    except (ValueError, VerificationError) as exc:
        return {
            "name": name,
            "input": input_,
            "error": {"class": type(exc).__name__, "reason": reason},
        }
    raise AssertionError(f"{name}: not refused")


def _paths(cases: list[Json]) -> None:
    for n in (0, 5, 999, 1000, 1234067, 2**64 - 1):
        cases.append({"name": f"index {n}", "input": {"index": n}, "expect": encode_tile_index(n)})
    examples = [
        TileRef("hash", 0, 1234067),
        TileRef("hash", 1, 1234, 17),
        TileRef("hash", 2, 0, 1),
        TileRef("hash", 63, 0, 255),
        TileRef("entries", 0, 1234067),
        TileRef("entries", 0, 273, 112),
        TileRef("envelopes", 0, 3, 5),
    ]
    for ref in examples:
        _same(parse_tile_path(ref.path), ref)
        cases.append(
            {
                "name": f"path {ref.path}",
                "input": {
                    "kind": ref.kind,
                    "level": ref.level,
                    "index": ref.index,
                    "width": ref.width,
                },
                "expect": ref.path,
            }
        )
    bad = {
        "tile/01/000": "level with a leading zero",
        "tile/64/000": "level above 63",
        "tile/0/1234": "index group not 3 digits",
        "tile/0/x1/234": "index group not 3 digits",
        "tile/0/x000/005": "leading zero group",
        "tile/0/005.p/0": "width 0",
        "tile/0/005.p/256": "width 256",
        "tile/0/005.p/07": "width with a leading zero",
        "tile/0/001/234": "group without x",
        "tile/data/000": "unknown bundle",
        "tile/0/000/": "trailing slash",
    }
    for path, why in bad.items():
        cases.append(
            _refused(f"refused path {path}", {"path": path}, why, partial(parse_tile_path, path))
        )
    for size in (256, 70_000):
        tiles = tiles_for_size(size)
        cases.append(
            {
                "name": f"tiles of a tree of {size}",
                "input": {"size": size},
                "expect": {
                    "full": {
                        str(lv): sum(1 for t in tiles if t.level == lv and t.full)
                        for lv in sorted({t.level for t in tiles})
                    },
                    "partial": [t.path for t in tiles if not t.full],
                },
            }
        )


def _log(cases: list[Json]) -> None:
    datas, envs = log()
    files = serve(datas, envs, SIZE)
    tree = MemoryTree()
    for d in datas:
        tree.append(leaf_hash(d))
    cases.append(
        {
            "name": f"the files of a log of {SIZE} entries",
            "input": {"size": SIZE, "log": "scripts/gen_vectors_tiles.py log()"},
            "expect": {
                "root": tree.root(SIZE).hex(),
                "files": {
                    p: {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                    for p, b in sorted(files.items())
                },
                "firstEntry": datas[0].hex(),
                "firstEntryBundlePrefix": files["tile/entries/000"][:2].hex(),
                "firstEnvelope": envs[0].hex(),
                "firstEnvelopeBundlePrefix": files["tile/envelopes/000"][:4].hex(),
            },
        }
    )

    def reader(size: int) -> TileHashReader:
        served = serve(datas, envs, size)
        return TileHashReader(size, lambda lv, n, w: served[TileRef("hash", lv, n, w).path])

    for index, size in ((0, 1), (0, SIZE), (255, 256), (256, 257), (700, SIZE), (772, SIZE)):
        r = reader(size)
        proof = r.inclusion_proof(index)
        _same(proof, tree.inclusion_proof(index, size))
        cases.append(
            {
                "name": f"inclusion of {index} in {size} from tiles",
                "input": {"index": index, "size": size},
                "expect": {"proof": [h.hex() for h in proof], "tiles": [t.path for t in r.fetched]},
            }
        )
    for old, size in ((1, SIZE), (256, SIZE), (300, 512), (512, 768), (600, SIZE)):
        r = reader(size)
        proof = r.consistency_proof(old)
        _same(proof, tree.consistency_proof(old, size))
        cases.append(
            {
                "name": f"consistency from {old} to {size} from tiles",
                "input": {"old": old, "size": size},
                "expect": {"proof": [h.hex() for h in proof], "tiles": [t.path for t in r.fetched]},
            }
        )
    e, v, t = files["tile/entries/000"], files["tile/envelopes/000"], files["tile/0/000"]
    _same(len(bundle_log_entries(0, e, v, TILE_WIDTH, t)), TILE_WIDTH)
    other = encode_envelope_bundle([envs[1], envs[0], *envs[2:256]])
    moved = encode_entry_bundle(datas[1:257])
    refusals: dict[str, tuple[str, bytes, bytes, int]] = {
        "entry bundle cut short": ("cut short", e[:-1], v, 0),
        "entry bundle with a trailing byte": ("more bytes", e + b"\x00", v, 0),
        "envelope bundle cut short": ("cut short", e, v[:-1], 0),
        "two envelopes swapped": ("not the one its leaf data names", e, other, 0),
        "leaves of another bundle": ("out of place", moved, v, 0),
        "a flipped bit in a leaf": (
            "does not hash to its place",
            bytes([*e[:40], e[40] ^ 1, *e[41:]]),
            v,
            0,
        ),
    }
    for name, (why, eb, vb, n) in refusals.items():
        cases.append(
            _refused(
                f"refused bundle: {name}",
                {
                    "index": n,
                    "width": TILE_WIDTH,
                    "entries": "tile/entries/000 changed",
                    "why": why,
                },
                why,
                partial(bundle_log_entries, n, eb, vb, TILE_WIDTH, t),
            )
        )


def build() -> dict[str, bytes]:
    """The vector file's name and exact bytes."""
    cases: list[Json] = []
    _paths(cases)
    _log(cases)
    description = (
        "C2SP tlog-tiles: tile paths and refused paths, which tiles a tree size has, the tiles "
        "and both bundles of a 773-entry log, proofs computed from tiles (and the tiles read), "
        "refused bundles"
    )
    return {FILE: vector_doc(description, "docs/SPEC.md §14", cases)}


def main(argv: list[str] | None = None) -> int:
    """Write the vector file(s), or with ``--check`` report whether they are up to date."""
    description = __doc__.splitlines()[0] if __doc__ else None
    return write_or_check(build, VECTORS_DIR, argv, description)


if __name__ == "__main__":
    sys.exit(main())
