"""Every mode of ``verify`` says what the log or record contains, in the same words, and shows
the root in base64, as the checkpoint note does (issue 15)."""

from __future__ import annotations

import base64
import json
import re

from tests.attest.examples import example_test_record_body, example_verdict_body
from tests.cli.conftest import PROVIDER, VERIFIER, World

CONTENTS = re.compile(
    r"contains: +(\d+) entries — (\d+) claim versions, (\d+) test records, (\d+) verdicts, "
    r"(\d+) replies, (\d+) withdrawals"
)


def contents(out: str) -> tuple[int, ...]:
    (found,) = CONTENTS.findall(out)
    return tuple(map(int, found))


def root_line(out: str) -> str:
    (root,) = re.findall(r"^  root: +(\S+)$", out, re.MULTILINE)
    return str(root)


def test_every_verify_mode_says_what_it_verified(sqlite_world: World) -> None:
    world, cli, db = sqlite_world, sqlite_world.cli, sqlite_world.db()
    first = world.publish()
    other = world.publish("report.authority")
    v2 = cli.json("claim", "supersede", first, *db, *world.as_party(PROVIDER), "--status", "pilot")
    body = world.keys.parent / "test.json"
    body.write_text(json.dumps(example_test_record_body(v2["digest"])))
    test = cli.json(
        "test", "record", *db, *world.as_party(VERIFIER), "--provider", PROVIDER, "--body", body
    )["digest"]
    body.unlink()
    body.write_text(json.dumps(example_verdict_body(v2["digest"], [test])))
    verdict = cli.json(
        "verdict", "issue", *db, *world.as_party(VERIFIER), "--provider", PROVIDER, "--body", body
    )["digest"]
    cli("reply", *db, *world.as_party(PROVIDER), "--verdict", verdict, "--text", "Thanks.")
    cli("claim", "withdraw", other, *db, *world.as_party(PROVIDER), "--reason", "Replaced.")
    size = world.size()

    # the whole log: everything, with the registry's entries (genesis, 2 parties, 1 grant)
    out = cli("verify", *db).stdout
    assert contents(out) == (size, 3, 1, 1, 1, 1)
    assert "; 4 registry entries; 2 streams, 3 parties" in out
    # one company's record: its stream only, complete at the checkpoint
    record = (7, 3, 1, 1, 1, 1)
    out = cli("verify", PROVIDER, *db).stdout
    assert contents(out) == record
    assert f"(complete at tree size {size})" in out
    # its bundle, offline: the same words
    bundle = world.keys.parent / "acme.bundle.json"
    cli("export", PROVIDER, *db, "-o", bundle)
    bundled = cli("verify", "--bundle", bundle).stdout
    assert contents(bundled) == record

    # one root, in base64 (as in the checkpoint note), in every mode
    note = json.loads(bundle.read_text())["checkpoint"].split("\n")
    assert root_line(out) == root_line(bundled) == note[2]
    assert len(base64.b64decode(note[2], validate=True)) == 32
