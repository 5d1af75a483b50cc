"""``claimledger accredit grant`` with a verifier's disclosures and validity period (issue 17
§3): the accrediting body, methods, team, independence declaration and ``--valid-from``, read
back from ``/v1/verifiers/ID`` of a real server process; a grant starting later than it is
logged leaves a gap, and a verdict made before its period reads as not current (its claim
unverified, flagged with the reason) in ``replay``; malformed options are one line and exit
code 2."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from attest.statements import format_timestamp
from tests.attest.examples import example_test_record_body, example_verdict_body
from tests.cli.conftest import (
    AUTHORITY,
    PROVIDER,
    VERIFIER,
    Proc,
    World,
    one_line_error,
    serving,
)


def _ts(offset_days: float) -> str:
    return format_timestamp(int(time.time() + offset_days * 86_400) * 1000)


def _file(world: World, body: dict[str, Any]) -> str:
    path = world.keys.parent / f"body-{len(list(world.keys.parent.iterdir()))}.json"
    path.write_text(json.dumps(body))
    return str(path)


DISCLOSED = [
    "--scheme",
    "Test Scheme 2027",
    "--measure",
    "detect.hash_known_image",
    "--accrediting-body",
    "National Accreditation Service (test)",
    "--method",
    "seeded_canary_hash",
    "--qualification",
    "Lead assessor: 6 years of hash-matching audits.",
    "--other-service",
    f"{PROVIDER}=Staff training, 2025.",
    "--fee-band",
    "EUR 50,000-100,000",
    "--rotation",
    "Lead assessor rotates every three engagements.",
]


def test_disclosures_and_a_gap_through_a_real_server(sqlite_world: World, proc: Proc) -> None:
    world, cli = sqlite_world, sqlite_world.cli
    auth = ["--key", str(world.key("authority")), "--signer", AUTHORITY]
    claim = world.publish()
    with serving(proc, world.url, world.key("log")) as server:
        where = ["--server", server]
        # Malformed: an independence declaration that says nothing of other services; a
        # malformed other service. One line, exit 2, nothing signed.
        out = cli(
            "accredit",
            "grant",
            VERIFIER,
            *where,
            *auth,
            "--fee-band",
            "EUR 1",
            "--rotation",
            "never",
            code=2,
        )
        assert "--no-other-services" in one_line_error(out.stderr)
        out = cli("accredit", "grant", VERIFIER, *where, *auth, "--other-service", "acme", code=2)
        assert "expected PROVIDER=SERVICES" in one_line_error(out.stderr)
        # validFrom not before validUntil: the schema's refusal, from the server, exit 1.
        out = cli(
            "accredit",
            "grant",
            VERIFIER,
            *where,
            *auth,
            *DISCLOSED,
            "--valid-from",
            _ts(30),
            "--valid-until",
            _ts(20),
            code=1,
        )
        assert "validFrom" in one_line_error(out.stderr)

        # Renewed with every disclosure, its period starting in 10 days: the first grant
        # (until 2099) still covers today, so no gap yet and today's verdict counts.
        cli("accredit", "grant", VERIFIER, *where, *auth, *DISCLOSED, "--valid-from", _ts(10))
        data = httpx.get(f"{server}/v1/verifiers/{VERIFIER}").json()
        renewed = data["accreditations"][-1]
        assert renewed["accreditingBody"] == "National Accreditation Service (test)"
        assert renewed["methods"] == ["seeded_canary_hash"]
        assert renewed["independence"] == {
            "otherServices": [{"provider": PROVIDER, "services": "Staff training, 2025."}],
            "feeBand": "EUR 50,000-100,000",
            "rotation": "Lead assessor rotates every three engagements.",
        }
        assert renewed["period"]["end"] is None
        assert (data["periodsContiguous"], data["accreditationGaps"]) == (True, [])

        # Suspended, then granted again from tomorrow: a gap from the suspension to then. A
        # verdict made today rests on the latest grant (the rules accept it) but lies in the gap.
        cli("accredit", "suspend", VERIFIER, *where, *auth, "--reason", "Lapsed insurance.")
        cli(
            "accredit",
            "grant",
            VERIFIER,
            *where,
            *auth,
            *DISCLOSED[:4],
            "--no-other-services",
            "--fee-band",
            "EUR 10,000-20,000",
            "--rotation",
            "None.",
            "--valid-from",
            _ts(1),
        )
        as_verifier = [*where, *world.as_party(VERIFIER), "--provider", PROVIDER]
        test = cli.json(
            "test", "record", *as_verifier, "--body", _file(world, example_test_record_body(claim))
        )["digest"]
        verdict = cli.json(
            "verdict",
            "issue",
            *as_verifier,
            "--body",
            _file(world, example_verdict_body(claim, [test])),
        )["digest"]
        data = httpx.get(f"{server}/v1/verifiers/{VERIFIER}").json()
        assert data["periodsContiguous"] is False
        (gap,) = data["accreditationGaps"]
        assert gap["to"] == data["accreditations"][-1]["period"]["start"]
        assert data["accreditations"][-1]["independence"]["otherServices"] == []
        (mine,) = data["verdicts"]
        assert mine["digest"] == verdict
        assert mine["outOfAccreditation"].startswith("made in a gap in its verifier's")
        page = httpx.get(f"{server}/verifiers/{VERIFIER}").text
        assert 'data-contiguous="no"' in page
        assert "not current: made in a gap" in page

        state = json.loads(cli("replay", PROVIDER, *where, "--format", "json").stdout)
        (c,) = state["claims"]
        assert c["publicStatus"] == "unverified"
        assert c["latestVerdict"]["outOfAccreditation"] == mine["outOfAccreditation"]
        # verify (of the company's record, from its bundle) and report say so too.
        summary = " ".join(cli("verify", PROVIDER, *where).stdout.split())
        assert "1 verdicts NOT CURRENT (made outside their verifier's accreditation" in summary
        bundle = world.keys.parent / "acme.json"
        cli("export", PROVIDER, *where, "-o", bundle)
        report = cli("report", bundle).stdout
        assert f"NOT CURRENT: {mine['outOfAccreditation']}" in report, report
