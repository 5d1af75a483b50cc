"""The tlog-tiles routes (api/routers/tiles.py, SPEC §14): byte-identical to ``tiles export``,
with tlog-tiles' content types and cache headers, and 404 (RFC 9457) for what no kept checkpoint
needs."""

from __future__ import annotations

import base64
import random
from pathlib import Path

from fastapi.testclient import TestClient

from api import create_app
from attest.tiles import TileHashReader, TileRef
from ledger import export_tiles, read_tile
from tests.ledger.actors import init_ledger, register_story
from tests.ledger.test_tiles import files_of, grow


def test_proofs_from_api_tiles_equal_the_api_proofs_at_many_sizes(tmp_path: Path) -> None:
    ledger = init_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    register_story(ledger)
    kept = [7, 31, 128, 255, 256, 257, 300, 511, 512, 530]
    grow(ledger, 530, keep_at=kept)
    with TestClient(create_app(ledger)) as client:

        def tile(level: int, index: int, width: int) -> bytes:
            r = client.get("/" + TileRef("hash", level, index, width).path)
            assert r.status_code == 200
            return r.content

        def api_proof(path: str, **params: int) -> list[bytes]:
            r = client.get(path, params=params)
            assert r.status_code == 200
            return [base64.b64decode(h) for h in r.json()["hashes"]]

        rng = random.Random(10)
        for size in kept:
            reader = TileHashReader(size, tile)
            for index in {0, size - 1, rng.randrange(size), rng.randrange(size)}:
                assert reader.inclusion_proof(index) == api_proof(
                    "/v1/log/proof/inclusion", index=index, size=size
                )
            for old in {1, size - 1, rng.randint(1, size), *(k for k in kept if k < size)}:
                if 0 < old < size:
                    assert reader.consistency_proof(old) == api_proof(
                        "/v1/log/proof/consistency", **{"from": old, "to": size}
                    )
    ledger.close()


def test_tile_routes_serve_the_exported_files(tmp_path: Path) -> None:
    ledger = init_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    register_story(ledger)
    grow(ledger, 270, keep_at=(100,))
    export_tiles(ledger, tmp_path / "out")
    files = files_of(tmp_path / "out")
    with TestClient(create_app(ledger)) as client:
        served = 0
        for path, data in files.items():
            if path.startswith("bundle/"):
                continue
            r = client.get("/" + path)
            assert r.status_code == 200, path
            assert r.content == data, path
            if path == "checkpoint":
                assert r.headers["content-type"] == "text/plain; charset=utf-8"
                assert r.headers["cache-control"] == "public, max-age=5"
            else:
                assert r.headers["content-type"] == "application/octet-stream"
                assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
            served += 1
        assert served == 8  # the checkpoint, 3 hash tiles, 2 entry and 2 envelope bundles
        # partial tiles of sizes up to the newest kept checkpoint (270), kept (100) or not (99)
        assert client.get("/tile/0/000.p/100").status_code == 200
        assert client.get("/tile/entries/000.p/100").status_code == 200
        assert client.get("/tile/0/000.p/99").content == read_tile(
            ledger.store, TileRef("hash", 0, 0, 99)
        )
        for path in (
            "/tile/0/001.p/15",  # beyond the checkpoint (256 + 15 > 270)
            "/tile/0/001",  # beyond the checkpoint
            "/tile/1/000",
            "/tile/0/1",  # not a tile path
            "/tile/0/x000/001",
            "/tile/data/000",
        ):
            r = client.get(path)
            assert r.status_code == 404, path
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["status"] == 404
        etag = client.get("/tile/0/000").headers["etag"]
        assert client.get("/tile/0/000", headers={"If-None-Match": etag}).status_code == 304
    ledger.close()
