"""``claimledger tiles export`` and ``verify [STREAM] --tiles URL`` through a real static file
server (``python -m http.server`` on loopback, no claimledger server running): the whole log and
a company's record verify from tiles alone, a changed tile, bundle or evidence bundle is caught,
and a bundle older than the checkpoint is extended by a consistency proof from tiles."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ledger import Ledger
from tests.attest.logbuilder import key
from tests.cli.conftest import Cli, free_port, one_line_error
from tests.ledger.actors import LOG_KEY, P, Q, claim, init_ledger, register_story
from tests.ledger.test_tiles import grow


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """``python -m http.server`` serving ``directory`` on a free loopback port; stopped after."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "-d",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(base + "/checkpoint", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def flip(path: Path, at: int) -> bytes:
    """Flip one bit of the file at ``path``; return the original bytes."""
    data = path.read_bytes()
    path.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :])
    return data


def test_verify_from_a_static_tile_server(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = init_ledger(url)
    register_story(ledger)
    grow(ledger, 300)
    ledger.close()
    out = tmp_path / "site"
    line = cli("tiles", "export", "--db", url, out).output
    assert line.strip().endswith("bytes")
    assert "tree size 0 -> 300" in line
    assert (
        cli("tiles", "export", "--db", url, out)
        .output.strip()
        .endswith("up to date at tree size 300")
    )

    bare = tmp_path / "bare"
    assert "0 evidence bundles" in cli("tiles", "export", "--no-bundles", "--db", url, bare).output
    assert not (bare / "bundle").exists()
    assert (bare / "tile/0/000").read_bytes() == (out / "tile/0/000").read_bytes()

    with static_server(out) as base:
        whole = cli("verify", "--tiles", base).output
        assert "Verified 300 entries" in whole
        record = cli("verify", P, "--tiles", base).output
        assert f"Verified the record of {P}" in record
        assert "tree size 300" in record
        followed = cli("monitor", "--tiles", base, "--once")
        assert "verified tree size 300" in followed.output
        cli("export", P, "--tiles", base, "-o", tmp_path / "p.bundle")
        assert (tmp_path / "p.bundle").read_bytes() == (out / f"bundle/{P}.json").read_bytes()
        assert "tree size 300" in cli("verify", "--bundle", tmp_path / "p.bundle").output

        # entries on Q's stream only: P's bundle stays at 300, the checkpoint moves to 340
        old_p = (out / f"bundle/{P}.json").read_bytes()
        with Ledger.open(url, log_key=key(LOG_KEY)) as led:
            for _ in range(40):
                led.submit(claim(led, Q))
            led.flush()
        assert "300 -> 340" in cli("tiles", "export", "--db", url, out).output
        assert (out / f"bundle/{P}.json").read_bytes() == old_p
        # from the remembered 300 to 340: the consistency proof comes from tiles
        followed = cli("monitor", Q, "--tiles", base, "--once", "--ndjson")
        assert followed.output.count(f'"stream": "{Q}"') == 40
        record = cli("verify", P, "--tiles", base).output
        assert "tree size 340" in record
        assert "consistent with the checkpoint verified" in record
        assert "Verified 340 entries" in cli("verify", "--tiles", base).output

        # one flipped bit anywhere is caught (exit 1, located)
        for path, at in (
            (out / "tile/entries/000", 100),
            (out / "tile/envelopes/000", 300),
            (out / "tile/0/000", 64),
            (out / "tile/1/000.p/1", 0),
        ):
            original = flip(path, at)
            result = cli("verify", "--tiles", base, code=1)
            assert "verification FAILED" in one_line_error(result.output), path
            path.write_bytes(original)
        original = flip(out / f"bundle/{P}.json", 2000)
        cli("verify", P, "--tiles", base, code=1)
        (out / f"bundle/{P}.json").write_bytes(original)

        # a bundle older than an entry of its record is refused: the tiles withheld the new one
        with Ledger.open(url, log_key=key(LOG_KEY)) as led:
            led.submit(claim(led, P))
            led.flush()
        cli("tiles", "export", "--db", url, out)
        assert (out / f"bundle/{P}.json").read_bytes() != old_p
        (out / f"bundle/{P}.json").write_bytes(old_p)
        result = cli("verify", P, "--tiles", base, code=1)
        assert "withhold a newer bundle" in one_line_error(result.output)
