"""Keys and parties (issue 15): ``key revoke --compromised-since`` and ``party retire``, from a
database in-process and through a real ``claimledger serve`` process. A compromised key's entries
stay in the log and read as not to be relied on (verify, the bundle check, the views, the page); a
retired party signs nothing and its record stays (SPEC §8.2 rule 5)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import httpx

from ledger import Ledger, ScorecardCell
from tests.attest.examples import example_test_record_body, example_verdict_body
from tests.cli.conftest import (
    AUTHORITY,
    PROVIDER,
    VERIFIER,
    Proc,
    World,
    claim_body,
    one_line_error,
    serving,
)

MEASURE = "detect.hash_known_image"


def _file(world: World, name: str, body: object) -> Path:
    path = world.keys.parent / name
    path.write_text(json.dumps(body))
    return path


def _cell(led: Ledger) -> ScorecardCell:
    """The provider's cell for the measure its claim states."""
    card = led.views.scorecard(at_ms=led.state.last_log_time_ms, measure=MEASURE)
    return card.rows[0].cells[0]


def _judged(world: World, where: Sequence[str | Path]) -> tuple[str, str]:
    """A claim of the provider, then a test record and a CONFIRMED verdict on it."""
    cli = world.cli
    claim = cli.json(
        "claim",
        "publish",
        *where,
        *world.as_party(PROVIDER),
        "--body",
        _file(world, "claim.json", claim_body()),
    )["digest"]
    as_verifier = [*where, *world.as_party(VERIFIER), "--provider", PROVIDER]
    test = cli.json(
        "test",
        "record",
        *as_verifier,
        "--body",
        _file(world, "test.json", example_test_record_body(claim)),
    )["digest"]
    cli.json(
        "verdict",
        "issue",
        *as_verifier,
        "--body",
        _file(world, "verdict.json", example_verdict_body(claim, [test])),
    )
    return str(claim), str(test)


def test_a_compromised_key_and_a_retired_provider(sqlite_world: World) -> None:
    world, cli, db = sqlite_world, sqlite_world.cli, sqlite_world.db()
    authority: list[str | Path] = [*db, "--key", world.key("authority"), "--signer", AUTHORITY]
    _judged(world, db)
    verdict_index = world.size() - 1
    with Ledger.open(world.url) as led:
        cell = _cell(led)
        assert cell.status == "confirmed"

    # Only the authority may say a key was compromised: the verifier revoking its own is refused.
    line = one_line_error(
        cli(
            "key",
            "revoke",
            VERIFIER,
            *db,
            *world.as_party(VERIFIER),
            "--public-key",
            world.key(VERIFIER),
            "--compromised-since",
            str(verdict_index),
            "--reason",
            "Lost.",
            code=1,
        ).stderr
    )
    assert "only the authority may state that a key was compromised" in line, line
    cli(
        "key",
        "revoke",
        VERIFIER,
        *authority,
        "--public-key",
        world.key(VERIFIER),
        "--reason",
        "The signing key was copied from the lab's build server.",
        "--compromised-since",
        str(verdict_index),
    )
    # verify: everything holds, and the one verdict signed since then is named (not its test).
    out = cli("verify", *db).stdout
    assert "NOT TO BE RELIED ON: 1 entries" in out, out
    assert f": {verdict_index} (revocation {verdict_index + 1})" in out, out
    with Ledger.open(world.url) as led:
        cell = _cell(led)
        assert cell.status == "unverified"
        assert cell.key_compromised
        assert cell.to_dict()["keyCompromised"] is True
    dump = world.keys.parent / "open-data"
    cli("open-data", dump, *db)
    (row,) = json.loads((dump / "scorecard.json").read_text())["rows"]
    assert (row["status"], row["keyCompromised"]) == ("unverified", True)

    # Retire the provider: it signs nothing more, its record stays and verifies.
    cli("party", "retire", PROVIDER, *authority, "--reason", "Service closed.")
    line = one_line_error(
        cli(
            "claim",
            "publish",
            *db,
            *world.as_party(PROVIDER),
            "--body",
            _file(world, "claim2.json", claim_body()),
            code=1,
        ).stderr
    )
    assert f"{PROVIDER} was retired at index {verdict_index + 2}" in line, line
    line = one_line_error(
        cli("party", "retire", PROVIDER, *authority, "--reason", "Again.", code=1).stderr
    )
    assert "already retired" in line, line
    out = cli("verify", *db).stdout
    assert "NOT TO BE RELIED ON: 1 entries" in out
    # The evidence bundle carries the revocation: checked and reported offline, the same flag.
    bundle = world.keys.parent / "acme.bundle.json"
    cli("export", PROVIDER, *db, "-o", bundle)
    out = cli("verify", "--bundle", bundle).stdout
    assert "NOT TO BE RELIED ON: 1 entries signed with keys the authority since stated" in out
    report = cli("report", bundle).stdout
    assert "NOT TO BE RELIED ON: its key was later stated compromised" in report, report
    with Ledger.open(world.url) as led:
        party = led.views.party(PROVIDER)
        assert party is not None
        assert party.retired_at == verdict_index + 2
        assert party.to_dict()["retiredSince"] is not None
        assert led.views.replay(PROVIDER).claims  # the past stays
        rows = led.views.scorecard(at_ms=led.state.last_log_time_ms).rows
        assert [r.provider for r in rows] == []  # out of current comparisons
        before = led.views.scorecard(at_ms=0, size=verdict_index + 2).rows
        assert [r.provider for r in before] == [PROVIDER]


def test_through_a_real_server(sqlite_world: World, proc: Proc, tmp_path: Path) -> None:
    """The same commands through ``claimledger serve``: the bundle check names the compromised
    verdict, the API and the search page mark the retired company, and the company page says
    since when."""
    world, cli = sqlite_world, sqlite_world.cli
    with serving(proc, world.url, world.key("log")) as base:
        server: list[str | Path] = ["--server", base]
        authority: list[str | Path] = [
            *server,
            "--key",
            world.key("authority"),
            "--signer",
            AUTHORITY,
        ]
        _judged(world, server)
        verdict_index = int(httpx.get(f"{base}/v1/log").json()["size"]) - 1
        cli(
            "key",
            "revoke",
            VERIFIER,
            *authority,
            "--public-key",
            world.key(VERIFIER),
            "--reason",
            "Key material leaked.",
            "--compromised-since",
            str(verdict_index),
        )
        cli("party", "retire", PROVIDER, *authority, "--reason", "Service closed.")
        out = cli("verify", *server, PROVIDER).stdout
        assert "NOT TO BE RELIED ON: 1 entries" in out, out
        assert f": {verdict_index} (revocation {verdict_index + 1})" in out, out
        party = httpx.get(f"{base}/v1/parties/{PROVIDER}").json()
        assert party["retiredAt"] == verdict_index + 2
        page = httpx.get(f"{base}/providers/{PROVIDER}").text
        assert 'id="retired-banner"' in page
        assert 'data-flag="key-compromised"' in page
        search = httpx.get(f"{base}/search", params={"q": "acme"}).text
        assert "retired since" in search
        found = httpx.get(f"{base}/v1/search", params={"q": "acme"}).json()
        assert found["results"][0]["retiredSince"] is not None
        feed = httpx.get(f"{base}/v1/streams/{PROVIDER}/feed.atom").text
        assert "Acme Social, Inc. was retired" in feed
        assert f"compromised from log index {verdict_index}" in feed
