"""C2SP tlog-tiles (SPEC §14, attest/tiles.py).

(a) ``scripts/gen_vectors_tiles.py`` run in memory reproduces tests/vectors/tiles/tiles.json byte
for byte; (b) every case is checked against the library as a consumer would (paths both ways,
refusals, proofs from the served files verified against the root); (c) proofs from tiles equal
the in-memory tree's proofs at many sizes, including a tree with level-2 tiles.
"""

from __future__ import annotations

import json
import random
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from attest.errors import EncodingError, VerificationError
from attest.merkle import MemoryTree, leaf_hash, verify_consistency, verify_inclusion
from attest.tiles import (
    TILE_WIDTH,
    TileBuilder,
    TileHashReader,
    TileRef,
    bundle_log_entries,
    encode_envelope_bundle,
    encode_tile_index,
    parse_tile_path,
    root_with_leaves,
    tile_bytes,
    tiles_for_size,
)
from scripts import gen_vectors_tiles

PATH = Path(__file__).resolve().parents[1] / "vectors" / "tiles" / gen_vectors_tiles.FILE


def _from(files: dict[str, bytes], level: int, index: int, width: int) -> bytes:
    return files[TileRef("hash", level, index, width).path]


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(PATH.read_bytes())["cases"]
    return cases


def test_vectors_are_regenerated_byte_for_byte() -> None:
    assert gen_vectors_tiles.build() == {gen_vectors_tiles.FILE: PATH.read_bytes()}, (
        "tests/vectors/tiles/tiles.json is out of date: run python -m scripts.gen_vectors_tiles"
    )


def test_path_vectors() -> None:
    seen = 0
    for case in _cases():
        inp = case["input"]
        if case["name"].startswith("index "):
            assert encode_tile_index(inp["index"]) == case["expect"]
        elif case["name"].startswith("path "):
            ref = TileRef(inp["kind"], inp["level"], inp["index"], inp["width"])
            assert ref.path == case["expect"]
            assert parse_tile_path(case["expect"]) == ref
        elif case["name"].startswith("refused path"):
            assert case["error"]["class"] == "ValueError"
            with pytest.raises(ValueError, match="tile"):
                parse_tile_path(inp["path"])
        else:
            continue
        seen += 1
    assert seen == 24


def test_the_spec_examples() -> None:
    """tlog-tiles' own words: index 1234067 is x001/x234/067; a tree of 70,000 is 273 full
    level-0 tiles, a 112-wide partial one, one full and a 17-wide level-1 tile, and a 1-wide
    level-2 tile; a tree of 256 is a full level-0 tile and a 1-wide level-1 tile."""
    assert TileRef("hash", 0, 1234067).path == "tile/0/x001/x234/067"
    tiles = tiles_for_size(70_000)
    assert [t for t in tiles if not t.full] == [
        TileRef("hash", 0, 273, 112),
        TileRef("hash", 1, 1, 17),
        TileRef("hash", 2, 0, 1),
    ]
    assert sum(t.full for t in tiles if t.level == 0) == 273
    assert sum(t.full for t in tiles if t.level == 1) == 1
    assert tiles_for_size(256) == [TileRef("hash", 0, 0), TileRef("hash", 1, 0, 1)]
    assert tiles_for_size(0) == []


def test_log_vectors_served_files_verify() -> None:
    datas, envs = gen_vectors_tiles.log()
    files = gen_vectors_tiles.serve(datas, envs, gen_vectors_tiles.SIZE)
    (log,) = [c for c in _cases() if c["name"].startswith("the files of")]
    root = bytes.fromhex(log["expect"]["root"])
    assert sorted(files) == sorted(log["expect"]["files"])
    reader = TileHashReader(
        gen_vectors_tiles.SIZE, lambda lv, n, w: files[TileRef("hash", lv, n, w).path]
    )
    assert reader.root() == root
    entries = []
    for ref in tiles_for_size(gen_vectors_tiles.SIZE, ("entries",)):
        tile = files[TileRef("hash", 0, ref.index, ref.width).path]
        env = files[TileRef("envelopes", 0, ref.index, ref.width).path]
        entries += bundle_log_entries(ref.index, files[ref.path], env, ref.width, tile)
    assert [e.index for e in entries] == list(range(gen_vectors_tiles.SIZE))
    assert [e.envelope for e in entries] == envs
    for case in _cases():
        inp = case["input"]
        if case["name"].startswith("inclusion of"):
            proof = [bytes.fromhex(h) for h in case["expect"]["proof"]]
            size = inp["size"]
            sub = MemoryTree(leaf_hash(d) for d in datas[:size])
            verify_inclusion(leaf_hash(datas[inp["index"]]), inp["index"], size, proof, sub.root())
        elif case["name"].startswith("consistency from"):
            proof = [bytes.fromhex(h) for h in case["expect"]["proof"]]
            tree = MemoryTree(leaf_hash(d) for d in datas[: inp["size"]])
            verify_consistency(
                inp["old"], inp["size"], proof, tree.root(inp["old"]), tree.root(inp["size"])
            )
        elif case["name"].startswith("refused bundle"):
            assert case["error"]["class"] in ("EncodingError", "VerificationError", "ProofError")


def test_refused_bundles_say_why() -> None:
    datas, envs = gen_vectors_tiles.log(TILE_WIDTH)
    files = gen_vectors_tiles.serve(datas, envs, TILE_WIDTH)
    e, v, t = files["tile/entries/000"], files["tile/envelopes/000"], files["tile/0/000"]
    with pytest.raises(EncodingError, match="cut short"):
        bundle_log_entries(0, e[:-1], v, TILE_WIDTH, t)
    with pytest.raises(EncodingError, match="more than 256"):
        bundle_log_entries(0, e + b"\x00", v, TILE_WIDTH, t)
    with pytest.raises(EncodingError, match="255 entries, not 256"):
        bundle_log_entries(0, e, v[: -4 - len(envs[-1])], TILE_WIDTH, t)
    swapped = encode_envelope_bundle([envs[1], envs[0], *envs[2:]])
    with pytest.raises(VerificationError, match="not the one its leaf data names") as err:
        bundle_log_entries(0, e, swapped, TILE_WIDTH, t)
    assert err.value.index == 0
    flipped = bytearray(t)
    flipped[32 * 7] ^= 1
    with pytest.raises(VerificationError, match="leaf 7 does not hash to its place"):
        bundle_log_entries(0, e, v, TILE_WIDTH, bytes(flipped))


@pytest.mark.parametrize("seed", [1, 2])
def test_proofs_from_tiles_equal_the_trees_at_many_sizes(seed: int) -> None:
    rng = random.Random(seed)
    tree = MemoryTree(leaf_hash(b"%d" % i) for i in range(1300))
    sizes = [1, 2, 255, 256, 257, 511, 512, 513, 1024, 1299, 1300, *rng.sample(range(1, 1300), 25)]
    for size in sizes:
        files = {ref.path: tile_bytes(ref, tree.get_node) for ref in tiles_for_size(size)}
        reader = TileHashReader(size, partial(_from, files))
        assert reader.root() == tree.root(size)
        for index in {0, size - 1, rng.randrange(size), rng.randrange(size)}:
            assert reader.inclusion_proof(index) == tree.inclusion_proof(index, size)
        for old in {1, size, rng.randint(1, size), rng.randint(1, size)}:
            assert reader.consistency_proof(old) == tree.consistency_proof(old, size)


def test_level_two_tiles() -> None:
    size = 70_000
    tree = MemoryTree(leaf_hash(i.to_bytes(4, "big")) for i in range(size))
    files = {ref.path: tile_bytes(ref, tree.get_node) for ref in tiles_for_size(size)}
    reader = TileHashReader(size, lambda lv, n, w: files[TileRef("hash", lv, n, w).path])
    assert reader.root() == tree.root()
    assert reader.inclusion_proof(69_999) == tree.inclusion_proof(69_999)
    assert reader.consistency_proof(65_536) == tree.consistency_proof(65_536, size)
    assert reader.consistency_proof(1000) == tree.consistency_proof(1000, size)
    # a proof reads O(log n) tiles, not the tree
    assert len(reader.fetched) <= 10


def test_a_tile_of_the_wrong_length_is_refused() -> None:
    tree = MemoryTree(leaf_hash(b"%d" % i) for i in range(300))
    reader = TileHashReader(
        300, lambda lv, n, w: tile_bytes(TileRef("hash", lv, n, w), tree.get_node)[:-1]
    )
    with pytest.raises(EncodingError, match="is 31 bytes, not 32"):
        reader.root()
    with pytest.raises(ValueError, match="no tile"):
        TileHashReader(300, lambda lv, n, w: b"").tile(0, 2)


def test_tile_builder_makes_the_tiles_of_every_size() -> None:
    tree = MemoryTree(leaf_hash(i.to_bytes(4, "big")) for i in range(600))
    builder = TileBuilder()
    made: dict[str, bytes] = {}
    for i in range(600):
        made.update((ref.path, data) for ref, data in builder.add(tree.get_node(0, i)))
        if i + 1 in (1, 255, 256, 257, 512, 513, 600):
            partial = {ref.path: data for ref, data in builder.finish()}
            expect = {r.path: tile_bytes(r, tree.get_node) for r in tiles_for_size(i + 1)}
            assert {**{p: made[p] for p in expect if p in made}, **partial} == expect


def test_root_with_leaves_authenticates_the_new_leaves() -> None:
    tree = MemoryTree(leaf_hash(b"%d" % i) for i in range(700))
    files = {ref.path: tile_bytes(ref, tree.get_node) for ref in tiles_for_size(700)}
    reader = TileHashReader(700, partial(_from, files))
    for start in (0, 1, 255, 256, 300, 699, 700):
        leaves = [tree.get_node(0, i) for i in range(start, 700)]
        assert root_with_leaves(reader, start, leaves) == tree.root()
        if leaves:
            leaves[-1] = leaf_hash(b"another")
            assert root_with_leaves(reader, start, leaves) != tree.root()
