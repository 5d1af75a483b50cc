"""The demo ledger: fictional providers, verifiers and an authority, over the past months.

Every company, person and document here is invented (``.example`` domains, made-up digests). The
story, in log order, has: five providers across several measures; three accredited verifiers
(and a fourth whose accreditation is suspended); claims, test records and verdicts of every
result (CONFIRMED, CONFIRMED_WITH_COMMENTS, NO_EVIDENCE_FOUND, CONTRADICTED, INCONCLUSIVE) and
claims with no verdict; a verdict that has expired; a withdrawn claim; a superseded claim; a
provider's reply to a verdict; and a key rotation (``key.add`` of a new key, then ``key.revoke``
of the old one, after which only the new key signs). Then, from ``demo_story.json`` (data, not
code): engagements registered before testing — one running with a test record under it and a
planned method not reported yet, one overdue, one withdrawn by the provider.

The ledger's clock is fixed to each statement's time, spread over the ~200 days before the day
the demo is built (times are relative to that day, so "as of" dates and verdict expiry read the
same whenever it runs). Keys are fresh random keys written *unencrypted* to the demo's key
directory: that is what makes it a demo.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attest import Envelope, make_statement, sign_statement
from attest.statements import Kind, format_timestamp
from keys import PrivateKey
from ledger import Ledger

__all__ = ["AUTHORITY", "ORIGIN", "DemoLedger", "build_demo"]

AUTHORITY = "child-safety-board"
ORIGIN = "demo.claimledger.example/log"
DAY_MS = 86_400_000

Json = dict[str, Any]


def _digest(label: str) -> str:
    """A made-up SHA-256 standing for a fictional public document."""
    return hashlib.sha256(f"claimledger demo document: {label}".encode()).hexdigest()


def _doc(uri: str, title: str | None = None) -> Json:
    out: Json = {"uri": uri, "digest": {"sha256": _digest(uri)}}
    if title is not None:
        out["title"] = title
    return out


def _plain_doc(uri: str) -> Json:
    return {"uri": uri, "digest": {"sha256": _digest(uri)}}


@dataclass
class DemoLedger:
    """What the demo built: where, who, and the digests worth trying commands on."""

    url: str
    keys_dir: Path
    fingerprint: str
    entries: int
    providers: list[str] = field(default_factory=list)
    verifiers: list[str] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)
    past_date: str = ""


class _Story:
    """Signs and appends statements at fixed times with a ledger whose clock follows them."""

    def __init__(
        self, ledger: Ledger, clock: list[int], keys: dict[str, PrivateKey], keys_dir: Path
    ) -> None:
        self.ledger = ledger
        self.keys_dir = keys_dir
        self.clock = clock
        self.keys = keys
        self.digests: dict[str, str] = {}

    def add(
        self,
        at_ms: int,
        kind: Kind,
        signer: str,
        body: Json,
        *,
        stream: str | None = None,
        key: str | None = None,
        label: str | None = None,
    ) -> str:
        if at_ms < self.clock[0]:
            raise ValueError(f"demo story goes back in time at {kind} by {signer}")
        self.clock[0] = at_ms
        target = stream or ("registry" if kind.startswith(("party", "key", "accred")) else signer)
        prev, _ = self.ledger.head(target)
        statement = make_statement(
            kind=kind,
            stream=target,
            prev=prev,
            signer=signer,
            signed_at=format_timestamp(at_ms // 1000 * 1000),
            body=body,
        )
        envelope: Envelope = sign_statement(statement, self.keys[key or signer])
        self.ledger.submit(envelope.to_bytes())
        digest = hashlib.sha256(envelope.payload).hexdigest()
        if label is not None:
            self.digests[label] = digest
        return digest


def _claim(
    measure: str,
    service: str,
    surfaces: list[str],
    details: Json,
    *,
    effective_from: str,
    status: str = "deployed",
    jurisdictions: list[str] | None = None,
    population: Any = "all_users",
    excluded: list[Json] | None = None,
    metrics: list[Json] | None = None,
    evidence: list[Json] | None = None,
    refs: list[str] | None = None,
) -> Json:
    body: Json = {
        "measure": measure,
        "services": [service],
        "surfaces": surfaces,
    }
    if excluded:
        body["excludedSurfaces"] = excluded
    body["jurisdictions"] = jurisdictions or ["GLOBAL"]
    body["population"] = population
    body["status"] = status
    body["effectiveFrom"] = effective_from
    body["details"] = details
    if metrics:
        body["metrics"] = metrics
    if evidence:
        body["evidence"] = evidence
    if refs:
        body["frameworkRefs"] = refs
    return body


def _test(
    claim: str,
    *,
    method: str,
    protocol: str,
    service: str,
    surface: str,
    jurisdiction: str,
    start_ms: int,
    end_ms: int,
    cooperation: str,
    trials: list[tuple[str, str, str, str]],
    summary: str,
    result: str,
    limitations: list[str],
    client: str | None = None,
) -> Json:
    env: Json = {"service": service, "surface": surface, "jurisdiction": jurisdiction}
    if client is not None:
        env["clientVersion"] = client
    return {
        "claim": claim,
        "method": method,
        "protocol": _plain_doc(protocol),
        "environment": env,
        "window": {
            "start": format_timestamp(start_ms // 1000 * 1000),
            "end": format_timestamp(end_ms // 1000 * 1000),
        },
        "cooperation": cooperation,
        "trials": [
            {
                "name": name,
                "expected": expected,
                "observed": observed,
                "outcome": outcome,
                "evidence": [{"sha256": _digest(f"{claim} {name} recording")}],
            }
            for name, expected, observed, outcome in trials
        ],
        "summary": summary,
        "result": result,
        "limitations": limitations,
    }


def _verdict(
    claim: str,
    tests: list[str],
    result: str,
    *,
    surfaces: list[str],
    jurisdictions: list[str],
    scope_match: str,
    valid_until_ms: int,
    assurance: str = "limited",
    comments: str | None = None,
    recommendations: list[str] | None = None,
) -> Json:
    body: Json = {
        "claim": claim,
        "tests": tests,
        "result": result,
        "assurance": assurance,
        "scopeTested": {"surfaces": surfaces, "jurisdictions": jurisdictions},
        "scopeMatch": scope_match,
        "validUntil": format_timestamp(valid_until_ms // 1000 * 1000),
    }
    if comments is not None:
        body["comments"] = comments
    if recommendations:
        body["recommendations"] = recommendations
    body["conflictsOfInterest"] = "none declared"
    return body


def _metric(name: str, value: int | str, unit: str, method: str, start: str, end: str) -> Json:
    return {
        "name": name,
        "period": {"start": start, "end": end},
        "value": value,
        "unit": unit,
        "method": method,
    }


_PARTIES: list[tuple[str, str, str, str, str]] = [
    # id, role, name, jurisdiction, website
    ("brightchat", "provider", "BrightChat Messenger Ltd", "GB", "https://brightchat.example"),
    ("pixelstream", "provider", "PixelStream, Inc.", "US", "https://pixelstream.example"),
    ("kiteworld", "provider", "Kiteworld Games GmbH", "DE", "https://kiteworld.example"),
    ("nimbus-drive", "provider", "Nimbus Drive Oy", "FI", "https://nimbusdrive.example"),
    ("lumen-search", "provider", "Lumen Search SAS", "FR", "https://lumensearch.example"),
    ("clearsight-audit", "verifier", "ClearSight Audit LLP", "GB", "https://clearsight.example"),
    (
        "northstar-assurance",
        "verifier",
        "Northstar Assurance B.V.",
        "NL",
        "https://northstar-assurance.example",
    ),
    ("openprobe-lab", "verifier", "OpenProbe Lab Pty Ltd", "AU", "https://openprobe.example"),
    ("quickcert", "verifier", "QuickCert Compliance Ltd", "IE", "https://quickcert.example"),
]

_ACCREDITATIONS: dict[str, list[str]] = {
    "clearsight-audit": [
        "detect.hash_known_image",
        "detect.hash_known_video",
        "detect.classifier_novel",
        "report.authority",
    ],
    "northstar-assurance": [
        "detect.e2ee_measures",
        "defaults.minor_settings",
        "detect.url_blocklist",
        "transparency.report",
    ],
    "openprobe-lab": ["detect.livestream", "age.assurance", "detect.grooming_text"],
    "quickcert": ["policy.csea_definition", "transparency.report"],
}


_STORY_FILE = Path(__file__).with_name("demo_story.json")


def _resolve(value: Any, story: _Story, at: Callable[..., int]) -> Any:
    """A body from demo_story.json with its references filled in (see its description)."""
    if isinstance(value, str) and value.startswith("@"):
        return story.digests[value[1:]]
    if isinstance(value, list):
        return [_resolve(v, story, at) for v in value]
    if isinstance(value, dict):
        if "$at" in value:
            return format_timestamp(at(*value["$at"]) // 1000 * 1000)
        if "$date" in value:
            return _date(at(value["$date"]))
        if "$doc" in value:
            return _plain_doc(value["$doc"])
        if "$digest" in value:
            return {"sha256": _digest(value["$digest"])}
        return {k: _resolve(v, story, at) for k, v in value.items()}
    return value


def _tell_from_data(story: _Story, at: Callable[..., int], path: Path = _STORY_FILE) -> None:
    """Append the entries of ``path`` (demo_story.json), in order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for e in data["entries"]:
        story.add(
            at(*e["at"]),
            Kind(e["kind"]),
            e["signer"],
            _resolve(e["body"], story, at),
            stream=e["stream"],
            label=e.get("label"),
        )


def _date(ms: int) -> str:
    return format_timestamp(ms)[:10]


def build_demo(
    url: str,
    keys_dir: Path,
    *,
    today_ms: int,
    progress: Callable[[str], None] | None = None,
) -> DemoLedger:
    """Create the demo ledger at ``url`` and its keys in ``keys_dir`` (which must not exist).

    Raises:
        LedgerExistsError: ``url`` already holds a ledger.
        KeysError: a key file cannot be written.
    """
    say = progress or (lambda _msg: None)
    day0 = today_ms - today_ms % DAY_MS - 200 * DAY_MS  # midnight UTC, 200 days ago

    def at(day: int, hour: int = 10, minute: int = 0) -> int:
        return day0 + day * DAY_MS + (hour * 60 + minute) * 60_000

    keys_dir.mkdir(parents=True)
    keys: dict[str, PrivateKey] = {}

    def new_key(name: str) -> PrivateKey:
        k = PrivateKey.generate()
        k.save(keys_dir / f"{name}.key", None, unsafe_unencrypted=True)
        keys[name] = k
        return k

    authority = new_key(AUTHORITY)
    log_key = new_key("log")
    for party, *_ in _PARTIES:
        new_key(party)

    clock = [at(0, 9)]
    say(f"creating the ledger {url}")
    ledger = Ledger.init(
        url,
        authority_id=AUTHORITY,
        authority_name="Child Safety Verification Board (fictional)",
        authority_key=authority,
        origin=ORIGIN,
        log_key=log_key,
        clock=lambda: clock[0],
    )
    try:
        story = _Story(ledger, clock, keys, keys_dir)
        _tell(story, at, today_ms, new_key, say)
        say("verifiers register engagements before testing (demo_story.json)")
        _tell_from_data(story, at)
        fingerprint = (ledger.state.genesis_hash or b"").hex()
        size = ledger.size
    finally:
        ledger.close()
    return DemoLedger(
        url=url,
        keys_dir=keys_dir,
        fingerprint=fingerprint,
        entries=size,
        providers=[p for p, role, *_ in _PARTIES if role == "provider"],
        verifiers=[p for p, role, *_ in _PARTIES if role == "verifier"],
        digests=story.digests,
        past_date=_date(at(120)),
    )


def _tell(
    story: _Story,
    at: Callable[..., int],
    today_ms: int,
    new_key: Callable[[str], PrivateKey],
    say: Callable[[str], None],
) -> None:
    add = story.add
    year_ahead = today_ms + 365 * DAY_MS

    say("registering 5 providers and 4 verifiers; accrediting verifiers")
    for i, (party, role, name, country, website) in enumerate(_PARTIES):
        add(
            at(1, 9, i),
            Kind.PARTY_REGISTER,
            AUTHORITY,
            {
                "party": party,
                "role": role,
                "name": name,
                "jurisdiction": country,
                "website": website,
                "keys": [story.keys[party].public_key.b64()],
            },
        )
    for i, (verifier, measures) in enumerate(_ACCREDITATIONS.items()):
        add(
            at(2, 9, i),
            Kind.ACCREDITATION_GRANT,
            AUTHORITY,
            {
                "party": verifier,
                "scheme": "CSVB Independent Verification Scheme 2026 (fictional)",
                "measures": measures,
                "validUntil": format_timestamp(year_ahead // 1000 * 1000),
            },
        )

    say("providers publish claims")
    # -- BrightChat: a messenger --------------------------------------------------------------
    bc_hash = add(
        at(5),
        Kind.CLAIM_PUBLISH,
        "brightchat",
        _claim(
            "detect.hash_known_image",
            "BrightChat",
            ["profiles", "dm_unencrypted", "group_chat"],
            {
                "technologies": ["PhotoDNA", "PDQ"],
                "hashSources": ["NCMEC", "IWF"],
                "matchPoints": ["upload", "in_transit"],
            },
            effective_from="2025-09-01",
            excluded=[
                {
                    "surface": "dm_e2ee",
                    "reason": "Message content is end-to-end encrypted; "
                    "see our detect.e2ee_measures claim.",
                }
            ],
            metrics=[
                _metric(
                    "images_blocked_by_hash_match",
                    48211,
                    "images",
                    "Uploads blocked on a hash match, deduplicated by hash.",
                    "2026-01-01",
                    "2026-03-31",
                )
            ],
            evidence=[
                _doc(
                    "https://brightchat.example/transparency/2026-q1.pdf",
                    "BrightChat transparency report, Q1 2026",
                )
            ],
            refs=["OFCOM:ICU-C9"],
        ),
        label="brightchat-hash",
    )
    bc_e2ee = add(
        at(5, 11),
        Kind.CLAIM_PUBLISH,
        "brightchat",
        _claim(
            "detect.e2ee_measures",
            "BrightChat",
            ["dm_e2ee"],
            {
                "methods": [
                    "user_reporting_with_content",
                    "on_device_nudity_warning",
                    "behavioural_signals",
                ],
                "leavesDevice": ["reported_messages", "metadata"],
            },
            effective_from="2025-11-15",
            population="under_18",
            evidence=[_doc("https://brightchat.example/safety/encrypted-chats")],
        ),
        label="brightchat-e2ee",
    )

    # -- PixelStream: video and livestreams -----------------------------------------------------
    px_video = add(
        at(8),
        Kind.CLAIM_PUBLISH,
        "pixelstream",
        _claim(
            "detect.hash_known_video",
            "PixelStream",
            ["public_posts", "livestream"],
            {
                "technologies": ["TMK+PDQF", "vPDQ"],
                "hashSources": ["NCMEC", "Tech_Coalition"],
                "matchPoints": ["upload", "at_rest"],
            },
            effective_from="2025-06-01",
            metrics=[
                _metric(
                    "videos_removed_by_hash_match",
                    9120,
                    "videos",
                    "Videos removed on a hash match.",
                    "2025-10-01",
                    "2026-03-31",
                )
            ],
            refs=["DSA-SoR:KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"],
        ),
        label="pixelstream-video",
    )
    px_live = add(
        at(8, 12),
        Kind.CLAIM_PUBLISH,
        "pixelstream",
        _claim(
            "detect.livestream",
            "PixelStream",
            ["livestream"],
            {"methods": ["real_time_classifier", "sampling"], "samplingIntervalSeconds": 20},
            effective_from="2026-01-10",
            jurisdictions=["US", "GB", "CA"],
        ),
        label="pixelstream-live",
    )
    add(
        at(9),
        Kind.CLAIM_PUBLISH,
        "pixelstream",
        _claim(
            "policy.csea_definition",
            "PixelStream",
            ["public_posts", "profiles", "comments", "livestream"],
            {
                "policy": _plain_doc("https://pixelstream.example/legal/community-guidelines"),
                "languages": ["en", "es"],
                "covers": ["csam", "grooming", "sextortion", "ai_generated_csam"],
            },
            effective_from="2024-03-01",
        ),
        label="pixelstream-policy",
    )

    # -- Kiteworld: a game platform for children -------------------------------------------------
    kw_defaults = add(
        at(12),
        Kind.CLAIM_PUBLISH,
        "kiteworld",
        _claim(
            "defaults.minor_settings",
            "Kiteworld",
            ["profiles", "group_chat", "dm_unencrypted"],
            {
                "settings": [
                    "private_account",
                    "not_suggested_to_strangers",
                    "dms_from_connections_only",
                    "location_hidden",
                ],
                "lockedForMinors": True,
            },
            effective_from="2025-04-01",
            population={"ageBand": {"min": 9, "max": 17}},
            jurisdictions=["DE", "AT", "CH", "GB"],
        ),
        label="kiteworld-defaults",
    )
    kw_age = add(
        at(12, 11),
        Kind.CLAIM_PUBLISH,
        "kiteworld",
        _claim(
            "age.assurance",
            "Kiteworld",
            ["profiles"],
            {
                "methods": ["self_declaration", "facial_age_estimation"],
                "appliedAt": ["sign_up", "on_signal"],
            },
            effective_from="2025-04-01",
            jurisdictions=["DE", "AT", "CH", "GB"],
        ),
        label="kiteworld-age",
    )

    # -- Nimbus Drive: cloud storage -------------------------------------------------------------
    nd_v1 = add(
        at(15),
        Kind.CLAIM_PUBLISH,
        "nimbus-drive",
        _claim(
            "detect.hash_known_image",
            "Nimbus Drive",
            ["cloud_storage", "file_sharing"],
            {"technologies": ["PhotoDNA"], "hashSources": ["NCMEC"], "matchPoints": ["on_report"]},
            effective_from="2025-10-01",
            status="pilot",
            jurisdictions=["FI", "SE"],
        ),
        label="nimbus-hash-v1",
    )
    nd_cls = add(
        at(16),
        Kind.CLAIM_PUBLISH,
        "nimbus-drive",
        _claim(
            "detect.classifier_novel",
            "Nimbus Drive",
            ["cloud_storage"],
            {
                "media": ["image"],
                "humanReview": "all_before_action",
                "falsePositiveRate": "0.03",
                "falsePositiveMethod": "Review of 500 sampled flags by the trust and safety team",
            },
            effective_from="2026-02-01",
            status="pilot",
            jurisdictions=["FI"],
        ),
        label="nimbus-classifier",
    )

    # -- Lumen Search ----------------------------------------------------------------------------
    ls_url = add(
        at(17),
        Kind.CLAIM_PUBLISH,
        "lumen-search",
        _claim(
            "detect.url_blocklist",
            "Lumen Search",
            ["search"],
            {"listSources": ["IWF", "INHOPE"], "appliedAt": ["search_results", "link_previews"]},
            effective_from="2024-01-01",
        ),
        label="lumen-blocklist",
    )
    add(
        at(17, 14),
        Kind.CLAIM_PUBLISH,
        "lumen-search",
        _claim(
            "transparency.report",
            "Lumen Search",
            ["search"],
            {
                "report": _plain_doc("https://lumensearch.example/transparency/2025.pdf"),
                "period": {"start": "2025-01-01", "end": "2025-12-31"},
                "metricsIncluded": ["urls_blocked", "reports_to_hotlines"],
            },
            effective_from="2026-02-15",
        ),
        label="lumen-transparency",
    )

    say("verifiers test claims and issue verdicts")
    # Lumen: CONFIRMED early, valid for 5 months: it has expired by today.
    t = add(
        at(22),
        Kind.TEST_RECORD,
        "northstar-assurance",
        _test(
            ls_url,
            method="seeded_canary_hash",
            protocol="https://northstar-assurance.example/protocols/url-canary-v2",
            service="Lumen Search",
            surface="search",
            jurisdiction="FR",
            start_ms=at(19),
            end_ms=at(21),
            cooperation="coordinated",
            trials=[
                ("canary URL in web results", "URL not shown", "URL not shown", "pass"),
                ("canary URL in link preview", "No preview", "No preview", "pass"),
            ],
            summary="Canary URLs placed on the IWF test list by arrangement were searched for "
            "from three regions.",
            result="PASSED",
            limitations=["Desktop web only."],
            client="web 2026.4",
        ),
        stream="lumen-search",
    )
    add(
        at(23),
        Kind.VERDICT_ISSUE,
        "northstar-assurance",
        _verdict(
            ls_url,
            [t],
            "CONFIRMED",
            surfaces=["search"],
            jurisdictions=["GLOBAL"],
            scope_match="full",
            valid_until_ms=at(23) + 150 * DAY_MS,
        ),
        stream="lumen-search",
        label="lumen-verdict-expired",
    )

    # PixelStream video: CONTRADICTED, and PixelStream replies.
    t = add(
        at(40),
        Kind.TEST_RECORD,
        "clearsight-audit",
        _test(
            px_video,
            method="seeded_canary_hash",
            protocol="https://clearsight.example/protocols/canary-video-v1",
            service="PixelStream",
            surface="public_posts",
            jurisdiction="US",
            start_ms=at(33),
            end_ms=at(39),
            cooperation="notified",
            trials=[
                (
                    "canary video upload",
                    "Blocked at upload",
                    "Published; removed after 31 h",
                    "fail",
                ),
                (
                    "canary video re-upload",
                    "Blocked at upload",
                    "Published; still up after 72 h",
                    "fail",
                ),
            ],
            summary="Benign canary videos whose hashes were added to a test bank by arrangement "
            "were uploaded from five test accounts.",
            result="FAILED",
            limitations=["Livestreams were not tested."],
            client="iOS 8.12",
        ),
        stream="pixelstream",
    )
    px_verdict = add(
        at(44),
        Kind.VERDICT_ISSUE,
        "clearsight-audit",
        _verdict(
            px_video,
            [t],
            "CONTRADICTED",
            surfaces=["public_posts"],
            jurisdictions=["US"],
            scope_match="partial",
            valid_until_ms=year_ahead,
            assurance="reasonable",
            comments="Known videos were not matched at upload; removal, when it came, followed "
            "user reports.",
            recommendations=[
                "Match at upload, not only at rest.",
                "Publish the time from upload to removal.",
            ],
        ),
        stream="pixelstream",
        label="pixelstream-verdict",
    )
    add(
        at(50),
        Kind.PROVIDER_REPLY,
        "pixelstream",
        {
            "verdict": px_verdict,
            "text": "We have found the cause: a queue backlog delayed at-upload matching. It was "
            "fixed on day 48 and we have invited ClearSight to re-test.",
            "evidence": [_doc("https://pixelstream.example/safety/incident-2026-07")],
        },
        label="pixelstream-reply",
    )

    # PixelStream livestream: INCONCLUSIVE (no access).
    t = add(
        at(55),
        Kind.TEST_RECORD,
        "openprobe-lab",
        _test(
            px_live,
            method="test_account_probe",
            protocol="https://openprobe.example/protocols/live-probe-v1",
            service="PixelStream",
            surface="livestream",
            jurisdiction="GB",
            start_ms=at(52),
            end_ms=at(54),
            cooperation="none",
            trials=[
                (
                    "go live from a test account",
                    "Stream starts",
                    "Account blocked from going live (new-account limit)",
                    "inconclusive",
                )
            ],
            summary="Test accounts could not go live within the test window.",
            result="WARNED",
            limitations=["No provider cooperation; accounts were new."],
        ),
        stream="pixelstream",
    )
    add(
        at(56),
        Kind.VERDICT_ISSUE,
        "openprobe-lab",
        _verdict(
            px_live,
            [t],
            "INCONCLUSIVE",
            surfaces=["livestream"],
            jurisdictions=["GB"],
            scope_match="none",
            valid_until_ms=year_ahead,
            comments="We could not observe livestream detection without provider cooperation.",
        ),
        stream="pixelstream",
    )

    # Kiteworld: CONFIRMED defaults; NO_EVIDENCE_FOUND on age assurance.
    t = add(
        at(62),
        Kind.TEST_RECORD,
        "northstar-assurance",
        _test(
            kw_defaults,
            method="test_account_probe",
            protocol="https://northstar-assurance.example/protocols/minor-defaults-v3",
            service="Kiteworld",
            surface="profiles",
            jurisdiction="DE",
            start_ms=at(58),
            end_ms=at(61),
            cooperation="coordinated",
            trials=[
                ("new 12-year-old account: profile visibility", "Private", "Private", "pass"),
                ("stranger sends a DM", "Not delivered", "Not delivered", "pass"),
                ("minor tries to make profile public", "Refused", "Refused", "pass"),
            ],
            summary="Twelve test accounts registered with ages 9 to 17 in four countries.",
            result="PASSED",
            limitations=[],
            client="Android 5.4.0",
        ),
        stream="kiteworld",
    )
    add(
        at(63),
        Kind.VERDICT_ISSUE,
        "northstar-assurance",
        _verdict(
            kw_defaults,
            [t],
            "CONFIRMED",
            surfaces=["profiles", "group_chat", "dm_unencrypted"],
            jurisdictions=["DE", "AT", "CH", "GB"],
            scope_match="full",
            valid_until_ms=year_ahead,
            assurance="reasonable",
        ),
        stream="kiteworld",
        label="kiteworld-verdict",
    )
    t = add(
        at(70),
        Kind.TEST_RECORD,
        "openprobe-lab",
        _test(
            kw_age,
            method="test_account_probe",
            protocol="https://openprobe.example/protocols/age-checks-v2",
            service="Kiteworld",
            surface="profiles",
            jurisdiction="GB",
            start_ms=at(66),
            end_ms=at(69),
            cooperation="notified",
            trials=[
                (
                    "adult declares age 25 with child-like behaviour",
                    "Age check triggered",
                    "No check within 3 days",
                    "fail",
                ),
                (
                    "sign-up with facial estimation",
                    "Estimation offered",
                    "Not offered in GB",
                    "fail",
                ),
            ],
            summary="Accounts signalling a likely wrong age were observed for three days.",
            result="FAILED",
            limitations=["Only the GB app store build was tested."],
        ),
        stream="kiteworld",
    )
    add(
        at(72),
        Kind.VERDICT_ISSUE,
        "openprobe-lab",
        _verdict(
            kw_age,
            [t],
            "NO_EVIDENCE_FOUND",
            surfaces=["profiles"],
            jurisdictions=["GB"],
            scope_match="partial",
            valid_until_ms=year_ahead,
            comments="We found no facial age estimation and no check on signals in GB.",
        ),
        stream="kiteworld",
        label="kiteworld-age-verdict",
    )

    say("key rotation: BrightChat adds a new key, then revokes the old one")
    old = story.keys["brightchat"]
    story.keys["brightchat-old"] = old
    (story.keys_dir / "brightchat.key").replace(story.keys_dir / "brightchat-old.key")
    new = new_key("brightchat")
    add(
        at(80),
        Kind.KEY_ADD,
        "brightchat",
        {"party": "brightchat", "key": new.public_key.b64()},
        key="brightchat-old",
    )
    add(
        at(80, 11),
        Kind.KEY_REVOKE,
        "brightchat",
        {
            "party": "brightchat",
            "keyId": old.public_key.key_id,
            "reason": "Scheduled rotation to a key held in a hardware security module.",
        },
        key="brightchat",
        label="brightchat-revoke",
    )

    # BrightChat: hash matching CONFIRMED; E2EE CONFIRMED_WITH_COMMENTS; report.authority unverified
    t = add(
        at(90),
        Kind.TEST_RECORD,
        "clearsight-audit",
        _test(
            bc_hash,
            method="seeded_canary_hash",
            protocol="https://clearsight.example/protocols/canary-image-v4",
            service="BrightChat",
            surface="dm_unencrypted",
            jurisdiction="GB",
            start_ms=at(85),
            end_ms=at(89),
            cooperation="coordinated",
            trials=[
                ("canary image in a 1:1 chat", "Blocked", "Blocked in 2 s", "pass"),
                ("canary image in a group", "Blocked", "Blocked in 3 s", "pass"),
                ("canary image as profile photo", "Blocked", "Blocked at upload", "pass"),
            ],
            summary="Benign canary images whose hashes were placed in a test bank by arrangement.",
            result="PASSED",
            limitations=["Canary hashes came from a test bank, not the live lists."],
            client="Android 24.3",
        ),
        stream="brightchat",
    )
    add(
        at(92),
        Kind.VERDICT_ISSUE,
        "clearsight-audit",
        _verdict(
            bc_hash,
            [t],
            "CONFIRMED",
            surfaces=["profiles", "dm_unencrypted", "group_chat"],
            jurisdictions=["GB"],
            scope_match="full",
            valid_until_ms=year_ahead,
        ),
        stream="brightchat",
        label="brightchat-verdict",
    )
    t = add(
        at(100),
        Kind.TEST_RECORD,
        "northstar-assurance",
        _test(
            bc_e2ee,
            method="test_account_probe",
            protocol="https://northstar-assurance.example/protocols/e2ee-safety-v1",
            service="BrightChat",
            surface="dm_e2ee",
            jurisdiction="NL",
            start_ms=at(95),
            end_ms=at(99),
            cooperation="coordinated",
            trials=[
                (
                    "report an encrypted message",
                    "Reported content reaches moderators",
                    "Reached moderators in 40 min",
                    "pass",
                ),
                (
                    "nudity warning for a 14-year-old",
                    "Warning shown",
                    "Shown on Android only",
                    "inconclusive",
                ),
            ],
            summary="Test accounts aged 13 to 16 exchanged benign test images.",
            result="WARNED",
            limitations=["iOS warning could not be triggered in the window."],
        ),
        stream="brightchat",
    )
    add(
        at(102),
        Kind.VERDICT_ISSUE,
        "northstar-assurance",
        _verdict(
            bc_e2ee,
            [t],
            "CONFIRMED_WITH_COMMENTS",
            surfaces=["dm_e2ee"],
            jurisdictions=["NL"],
            scope_match="partial",
            valid_until_ms=year_ahead,
            comments="Reporting works; the on-device warning was seen on Android only.",
            recommendations=["Ship the nudity warning on iOS."],
        ),
        stream="brightchat",
    )
    add(
        at(110),
        Kind.CLAIM_PUBLISH,
        "brightchat",
        _claim(
            "report.authority",
            "BrightChat",
            ["profiles", "dm_unencrypted", "group_chat", "dm_e2ee"],
            {
                "recipients": ["NCMEC", "IWF"],
                "targetMedianHours": "12",
                "targetP90Hours": "48",
                "preservationDays": 365,
            },
            effective_from="2026-01-01",
            metrics=[
                _metric(
                    "reports_to_ncmec",
                    61034,
                    "reports",
                    "CyberTipline reports filed.",
                    "2026-01-01",
                    "2026-06-30",
                )
            ],
        ),
        label="brightchat-reporting",
    )

    say("Nimbus Drive supersedes one claim and withdraws another")
    nd_v2 = add(
        at(115),
        Kind.CLAIM_SUPERSEDE,
        "nimbus-drive",
        {
            **_claim(
                "detect.hash_known_image",
                "Nimbus Drive",
                ["cloud_storage", "file_sharing"],
                {
                    "technologies": ["PhotoDNA", "PDQ"],
                    "hashSources": ["NCMEC", "IWF"],
                    "matchPoints": ["upload", "at_rest"],
                },
                effective_from="2026-05-01",
                jurisdictions=["FI", "SE", "NO"],
            ),
            "supersedes": nd_v1,
        },
        label="nimbus-hash-v2",
    )
    add(
        at(118),
        Kind.CLAIM_WITHDRAW,
        "nimbus-drive",
        {
            "claim": nd_cls,
            "reason": "The classifier pilot ended; the false-positive rate was too high to deploy.",
        },
        label="nimbus-withdrawal",
    )
    t = add(
        at(130),
        Kind.TEST_RECORD,
        "clearsight-audit",
        _test(
            nd_v2,
            method="seeded_canary_hash",
            protocol="https://clearsight.example/protocols/canary-image-v4",
            service="Nimbus Drive",
            surface="cloud_storage",
            jurisdiction="FI",
            start_ms=at(124),
            end_ms=at(129),
            cooperation="coordinated",
            trials=[
                ("canary image uploaded to a private folder", "Blocked", "Blocked", "pass"),
                (
                    "canary image shared by link",
                    "Link disabled",
                    "Disabled after 26 h",
                    "inconclusive",
                ),
            ],
            summary="Canary images uploaded to private folders and shared by link.",
            result="WARNED",
            limitations=["Sweden and Norway not tested."],
        ),
        stream="nimbus-drive",
    )
    add(
        at(132),
        Kind.VERDICT_ISSUE,
        "clearsight-audit",
        _verdict(
            nd_v2,
            [t],
            "CONFIRMED_WITH_COMMENTS",
            surfaces=["cloud_storage", "file_sharing"],
            jurisdictions=["FI"],
            scope_match="partial",
            valid_until_ms=year_ahead,
            comments="Uploads are matched; at-rest matching of shared links took a day.",
        ),
        stream="nimbus-drive",
        label="nimbus-verdict",
    )

    say("the authority suspends one verifier's accreditation")
    add(
        at(150),
        Kind.ACCREDITATION_SUSPEND,
        AUTHORITY,
        {
            "party": "quickcert",
            "reason": "Undeclared commercial relationship with a provider it was due to verify.",
        },
    )
    # Kiteworld's grooming detection, published lately: not verified yet.
    add(
        at(190),
        Kind.CLAIM_PUBLISH,
        "kiteworld",
        _claim(
            "detect.grooming_text",
            "Kiteworld",
            ["group_chat", "dm_unencrypted"],
            {
                "languages": ["de", "en"],
                "interventions": ["warn_minor", "human_review", "restrict_account"],
            },
            effective_from="2026-06-01",
            population="under_18",
            status="pilot",
            jurisdictions=["DE", "AT"],
        ),
        label="kiteworld-grooming",
    )
