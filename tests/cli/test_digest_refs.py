"""``claim supersede`` starts from the current version of the claim; ``claim supersede``,
``claim withdraw`` and ``reply`` take a digest or a unique prefix of it (issue 15)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from attest import Envelope
from attest.statements import Kind
from cli import main
from cli._digests import Found, StreamIndex
from cli._errors import CliError
from ledger import Ledger
from tests.attest.examples import example_test_record_body, example_verdict_body
from tests.cli.conftest import PROVIDER, VERIFIER, World, one_line_error


def statements(world: World) -> dict[str, dict[str, Any]]:
    """The provider's statements by digest, read straight from the database."""
    import hashlib

    with Ledger.open(world.url) as led:
        raw = led.stream_entries(PROVIDER)
    out = {}
    for e in raw:
        payload = Envelope.parse_stored(e.envelope).payload
        out[hashlib.sha256(payload).hexdigest()] = json.loads(payload)
    return out


def verdict_on(world: World, claim: str) -> str:
    cli, db = world.cli, world.db()
    test = cli.json(
        "test",
        "record",
        *db,
        *world.as_party(VERIFIER),
        "--provider",
        PROVIDER,
        "--body",
        _file(world, example_test_record_body(claim)),
    )["digest"]
    body = example_verdict_body(claim, [test])
    return str(
        cli.json(
            "verdict",
            "issue",
            *db,
            *world.as_party(VERIFIER),
            "--provider",
            PROVIDER,
            "--body",
            _file(world, body),
        )["digest"]
    )


def _file(world: World, body: dict[str, Any]) -> str:
    path = world.keys.parent / f"body-{len(list(world.keys.parent.iterdir()))}.json"
    path.write_text(json.dumps(body))
    return str(path)


def test_supersede_starts_from_the_current_version(sqlite_world: World) -> None:
    world, cli, db = sqlite_world, sqlite_world.cli, sqlite_world.db()
    first = world.publish()
    original = statements(world)[first]["body"]

    # a prefix, one option: every other member is carried over
    v2 = cli.json(
        "claim", "supersede", first[:12], *db, *world.as_party(PROVIDER), "--status", "pilot"
    )["digest"]
    body = statements(world)[v2]["body"]
    assert body == {**original, "status": "pilot", "supersedes": first}

    # an older version names the claim: its current version (v2) is superseded, and said so
    result = cli(
        "claim",
        "supersede",
        first.upper()[:20],
        *db,
        *world.as_party(PROVIDER),
        "--service",
        "Acme Chat",
        "--service",
        "Acme Social",
        "--json",
    )
    assert f"superseding its current version {v2}" in result.stderr
    v3 = json.loads(result.stdout)["digest"]
    body = statements(world)[v3]["body"]
    # a repeated option replaces the whole list; the status set in v2 is carried over
    assert body == {
        **original,
        "status": "pilot",
        "services": ["Acme Chat", "Acme Social"],
        "supersedes": v2,
    }

    # a body file overrides members too, and options override it
    body_file = _file(world, {"population": "under_18", "status": "deployed"})
    v4 = cli.json(
        "claim",
        "supersede",
        v3,
        *db,
        *world.as_party(PROVIDER),
        "--body",
        body_file,
        "--status",
        "planned",
    )["digest"]
    body = statements(world)[v4]["body"]
    assert (body["population"], body["status"], body["measure"]) == (
        "under_18",
        "planned",
        original["measure"],
    )

    # withdraw takes a prefix; an old version is refused naming the current one
    result = cli("claim", "withdraw", v2[:12], *db, *world.as_party(PROVIDER), code=1)
    assert f"claim {v2} was superseded; its current version is {v4}" in one_line_error(
        result.stderr
    )
    out = cli.json(
        "claim", "withdraw", v4[:16], *db, *world.as_party(PROVIDER), "--reason", "replaced"
    )
    assert statements(world)[out["digest"]]["body"]["claim"] == v4
    result = cli("claim", "supersede", first[:12], *db, *world.as_party(PROVIDER), code=1)
    assert f"claim {v4} is withdrawn: publish a new claim instead" in one_line_error(result.stderr)


def test_reply_takes_a_verdict_prefix_and_bad_references_are_one_line(
    sqlite_world: World,
) -> None:
    world, cli, db = sqlite_world, sqlite_world.cli, sqlite_world.db()
    claim = world.publish()
    verdict = verdict_on(world, claim)
    out = cli.json(
        "reply", *db, *world.as_party(PROVIDER), "--verdict", verdict[:12], "--text", "Thanks."
    )
    assert statements(world)[out["digest"]]["body"]["verdict"] == verdict

    # a claim digest is not a verdict; too short; not hex; no match
    size = world.size()
    result = cli(
        "reply", *db, *world.as_party(PROVIDER), "--verdict", claim[:12], "--text", "x", code=1
    )
    assert f"no verdict in stream {PROVIDER} has a digest {claim[:12]}…" in one_line_error(
        result.stderr
    )
    result = cli("claim", "withdraw", claim[:11], *db, *world.as_party(PROVIDER), code=2)
    assert "at least its first 12" in result.stderr
    result = cli("claim", "withdraw", "z" * 12, *db, *world.as_party(PROVIDER), code=2)
    assert "is not a hex digest" in result.stderr
    # offline signing reads nothing: the whole digest is needed
    result = cli(
        "claim",
        "withdraw",
        claim[:12],
        *world.as_party(PROVIDER),
        "--prev",
        "0" * 64,
        "-o",
        world.keys.parent / "w.json",
        code=2,
    )
    assert "give the whole digest" in result.stderr
    assert world.size() == size  # nothing refused was appended


def test_an_ambiguous_prefix_names_the_matches() -> None:
    index = StreamIndex("acme")
    for d in ("abcdef012345" + "0" * 52, "abcdef012345" + "1" * 52, "ffff" + "0" * 60):
        index.statements[d] = Found(d, Kind.CLAIM_PUBLISH, {})
    with pytest.raises(CliError) as info:
        index.resolve("abcdef012345", frozenset({Kind.CLAIM_PUBLISH}), "claim", "CLAIM")
    assert "is the start of 2 claim digests in stream acme" in info.value.message
    assert "give more characters" in info.value.message
    assert index.resolve(
        "abcdef0123451", frozenset({Kind.CLAIM_PUBLISH}), "claim", "CLAIM"
    ).digest == ("abcdef012345" + "1" * 52)


def test_supersede_help_says_what_is_carried_over() -> None:
    out = " ".join(CliRunner().invoke(main, ["claim", "supersede", "--help"]).output.split())
    assert "every member is carried over" in out
    assert "replaces the whole list" in out
    assert "12 hex characters" in out
