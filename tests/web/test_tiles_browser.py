"""The browser computes proofs from tiles (api/web/static/verify.js ``TileReader``, SPEC §14)
exactly as the Python reference does: the tile vectors' paths, root, proofs and the tiles each
proof reads, over the 773-entry log's tiles served by a loopback static server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts import gen_vectors_tiles
from tests.conftest import OWN_VECTORS

pytestmark = pytest.mark.browser

_JS = """async ([base, size, indexes, incl, cons]) => {
  const v = await import("/static/verify.js");
  const fetchTile = async (path) => {
    const r = await fetch(`${base}/${path}`);
    if (!r.ok) throw new Error(`${path}: ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  };
  const out = { paths: indexes.map((n) => v.tileIndexPath(BigInt(n))), incl: [], cons: [] };
  out.root = v.hex(await new v.TileReader(size, fetchTile).root());
  for (const [index, n] of incl) {
    const r = new v.TileReader(n, fetchTile);
    out.incl.push({ proof: (await r.inclusionProof(index)).map(v.hex), tiles: r.fetched });
  }
  for (const [old, n] of cons) {
    const r = new v.TileReader(n, fetchTile);
    out.cons.push({ proof: (await r.consistencyProof(old)).map(v.hex), tiles: r.fetched });
  }
  try {
    await new v.TileReader(size, async () => new Uint8Array(31)).root();
    out.short = "accepted";
  } catch (err) {
    out.short = err.kind;
  }
  return out;
}"""


def test_proofs_from_tiles_in_the_browser(page: Any, gen_dir: Path, server: str) -> None:
    datas, envs = gen_vectors_tiles.log()
    cases = json.loads((OWN_VECTORS / "tiles" / gen_vectors_tiles.FILE).read_text())["cases"]
    incl = [c for c in cases if c["name"].startswith("inclusion of")]
    cons = [c for c in cases if c["name"].startswith("consistency from")]
    index_cases = [c for c in cases if c["name"].startswith("index ")]
    sizes = {gen_vectors_tiles.SIZE} | {c["input"]["size"] for c in incl + cons}
    for size in sizes:  # each size's tiles, as the log serves them for its checkpoint
        for path, data in gen_vectors_tiles.serve(datas, envs, size).items():
            target = gen_dir / "tiles773" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    (log,) = [c for c in cases if c["name"].startswith("the files of")]
    got = page.evaluate(
        _JS,
        [
            f"{server}/gen/tiles773",
            gen_vectors_tiles.SIZE,
            [str(c["input"]["index"]) for c in index_cases],
            [[c["input"]["index"], c["input"]["size"]] for c in incl],
            [[c["input"]["old"], c["input"]["size"]] for c in cons],
        ],
    )
    assert got["paths"] == [c["expect"] for c in index_cases]
    assert got["root"] == log["expect"]["root"]
    assert got["incl"] == [c["expect"] for c in incl]
    assert got["cons"] == [c["expect"] for c in cons]
    assert got["short"] == "EncodingError"
