"""Logged open-data dumps (issue 15): ``open-data DIR --publish`` writes a dump and logs its
files' SHA-256s as the authority (``dump.publish``); ``open-data-verify DIR`` checks a downloaded
dump against the logged statement, from a ledger or offline from any company's evidence bundle.
In-process on SQLite and PostgreSQL, and through a real ``claimledger serve`` process, whose /data
page lists the logged dumps (in headless Chromium)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import AUTHORITY, PROVIDER, VERIFIER, Proc, World, one_line_error, serving
from tests.web.conftest import chromium_context


def _authority(world: World) -> list[str | Path]:
    return ["--key", world.key("authority"), "--signer", AUTHORITY]


def test_publish_then_verify_and_a_changed_file_is_caught(world: World) -> None:
    cli, db = world.cli, world.db()
    dump = world.keys.parent / "dump-2026-12-07"
    out = cli("open-data", dump, *db, "--publish", "--date", "2026-12-07", *_authority(world))
    index = world.size() - 1
    assert "Appended dump.publish to stream registry" in out.stdout
    assert f"(log index {index})" in out.stdout
    logged = json.loads(cli("replay", PROVIDER, *db, "--format", "json").stdout)  # any record
    assert logged["stream"] == PROVIDER
    # The logged statement pins every file written but SHA256SUMS, as sha256sum computes them.
    sums: dict[str, str] = {}
    for line in (dump / "SHA256SUMS").read_text().splitlines():
        sha, name = line.split("  ")
        sums[name] = sha
    for name, sha in sums.items():
        assert hashlib.sha256((dump / name).read_bytes()).hexdigest() == sha

    ok = cli("open-data-verify", dump, *db).stdout
    assert f"is the dump the authority logged for 2026-12-07: {len(sums)} files" in ok, ok
    assert f"logged at index {index}" in ok
    # Offline, from any company's bundle (it carries the authority's record, proved complete).
    bundle = world.keys.parent / "acme.bundle.json"
    cli("export", PROVIDER, *db, "-o", bundle)
    ok = cli("open-data-verify", dump, "--bundle", bundle, "--date", "2026-12-07").stdout
    assert "verified from the bundle" in ok, ok

    # One byte more in one file: exit 1, naming the file and both digests.
    with (dump / "records.csv").open("ab") as f:
        f.write(b"\n")
    line = one_line_error(cli("open-data-verify", dump, "--bundle", bundle, code=1).stderr)
    assert "is not the dump logged for 2026-12-07" in line, line
    assert "records.csv: " in line
    assert sums["records.csv"] in line
    (dump / "scorecard.json").unlink()
    line = one_line_error(cli("open-data-verify", dump, *db, code=1).stderr)
    assert "scorecard.json: missing" in line, line
    line = one_line_error(cli("open-data-verify", dump, *db, "--date", "2026-12-08", code=1).stderr)
    assert "no dump for 2026-12-08 is logged in the ledger" in line, line

    # One dump per date; only the authority logs one; --publish needs the authority's key.
    again = world.keys.parent / "again"
    line = one_line_error(
        cli(
            "open-data", again, *db, "--publish", "--date", "2026-12-07", *_authority(world), code=1
        ).stderr
    )
    assert f"the dump of 2026-12-07 is already logged (index {index})" in line, line
    line = one_line_error(
        cli("open-data", again, *db, "--publish", *world.as_party(VERIFIER), code=1).stderr
    )
    assert f"only the authority may sign dump.publish, not {VERIFIER}" in line, line
    line = one_line_error(cli("open-data", again, *db, "--publish", code=2).stderr)
    assert "--publish needs --key and --signer" in line, line
    line = one_line_error(
        cli(
            "open-data", again, *db, "--publish", "--date", "2026-02-30", *_authority(world), code=2
        ).stderr
    )
    assert "must be a date YYYY-MM-DD" in line, line


def test_a_refused_publish_leaves_the_directory_as_it_was(world: World) -> None:
    """The files go into the directory only once the dump is logged: publishing again for a
    date already logged (after the log grew, so every file would differ) is refused, and the
    directory still holds the logged dump, with nothing left over."""
    cli, db = world.cli, world.db()
    dump = world.keys.parent / "daily"
    cli("open-data", dump, *db, "--publish", "--date", "2026-12-07", *_authority(world))
    before = {p.name: p.read_bytes() for p in dump.iterdir()}
    cli(
        "open-data",
        world.keys.parent / "other",
        *db,
        "--publish",
        "--date",
        "2026-12-08",
        *_authority(world),
    )
    line = one_line_error(
        cli(
            "open-data", dump, *db, "--publish", "--date", "2026-12-07", *_authority(world), code=1
        ).stderr
    )
    assert "the dump of 2026-12-07 is already logged" in line, line
    assert {p.name: p.read_bytes() for p in dump.iterdir()} == before
    ok = cli("open-data-verify", dump, *db).stdout
    assert "is the dump the authority logged for 2026-12-07" in ok, ok
    # Not published, the files are written in place, as always.
    out = cli("open-data", dump, *db).stdout
    assert f"Wrote 5 files and SHA256SUMS to {dump}" in out
    assert {p.name for p in dump.iterdir()} == set(before)
    assert (dump / "checkpoint").read_bytes() != before["checkpoint"]


@pytest.fixture
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium_context(tmp_path_factory, "chromium-dumps") as context:
        yield context


def test_through_a_real_server_and_the_data_page(
    sqlite_world: World, proc: Proc, chromium: Any
) -> None:
    world, cli = sqlite_world, sqlite_world.cli
    with serving(proc, world.url, world.key("log")) as base:
        server: list[str | Path] = ["--server", base]
        page = chromium.new_page()
        page.goto(f"{base}/data")
        assert page.locator("#no-dumps").is_visible()
        dump = world.keys.parent / "dump"
        cli("open-data", dump, *server, "--publish", "--date", "2026-12-06", *_authority(world))
        bundle = world.keys.parent / "record.bundle.json"
        cli("export", PROVIDER, *server, "-o", bundle)
        ok = cli("open-data-verify", dump, "--bundle", bundle).stdout
        assert "is the dump the authority logged for 2026-12-06" in ok, ok
        line = one_line_error(cli("open-data-verify", dump, *server, code=2).stderr)
        assert "give --bundle FILE" in line, line

        assert "2026-12-06" in httpx.get(f"{base}/data").text
        # A new URL: the first visit's page may still be fresh in the browser's cache.
        page.goto(f"{base}/data?after=publish")
        row = page.locator("#logged-dumps tr[data-date='2026-12-06']")
        assert row.is_visible()
        text = row.inner_text()
        records = hashlib.sha256((dump / "records.csv").read_bytes()).hexdigest()
        assert records in text
        assert "records.csv" in text
        assert page.locator("#no-dumps").count() == 0
        page.close()
