"""Realistic, valid example statements for tests, rules tests and vector generation.

Every builder returns a fresh plain JSON object (dicts, lists, str, int) that passes
:func:`attest.statements.parse_statement` (bodies: inside a statement of their kind). Keys are real
Ed25519 public keys derived from fixed seeds, so they can also sign.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from attest.statements import REGISTRY_KINDS, REGISTRY_STREAM, STATEMENT_VERSION, Kind

__all__ = [
    "AUTHORITY",
    "PROVIDER",
    "SIGNED_AT",
    "VERIFIER",
    "example_accreditation_grant_body",
    "example_accreditation_suspend_body",
    "example_body",
    "example_claim_body",
    "example_claim_withdraw_body",
    "example_commitment",
    "example_details",
    "example_digest",
    "example_disclosures",
    "example_dump_publish_body",
    "example_engagement_close_body",
    "example_engagement_open_body",
    "example_engagement_withdraw_body",
    "example_genesis_body",
    "example_key",
    "example_key_add_body",
    "example_key_revoke_body",
    "example_log_key_rotate_body",
    "example_party_register_body",
    "example_party_retire_body",
    "example_provider_reply_body",
    "example_reference_publish_body",
    "example_seed",
    "example_statement",
    "example_test_record_body",
    "example_verdict_body",
]

AUTHORITY = "online-safety-board"
PROVIDER = "acme-social"
VERIFIER = "safecheck-labs"
SIGNED_AT = "2026-11-20T10:00:00Z"

Json = dict[str, Any]


def example_seed(n: int) -> bytes:
    """The fixed 32-byte Ed25519 seed of example key ``n``."""
    return hashlib.sha256(f"claimledger example key {n}".encode()).digest()


def example_key(n: int = 1) -> str:
    """The b64 public key of example key ``n`` (a real Ed25519 key)."""
    raw = Ed25519PrivateKey.from_private_bytes(example_seed(n)).public_key().public_bytes_raw()
    return base64.b64encode(raw).decode("ascii")


def example_digest(label: str) -> str:
    """A fixed hex SHA-256 digest standing for the document or statement ``label``."""
    return hashlib.sha256(label.encode()).hexdigest()


def _doc(uri: str) -> Json:
    return {"uri": uri, "digest": {"sha256": example_digest(uri)}}


# --------------------------------------------------------------------------------------------
# registry bodies


def example_genesis_body(*, authority_key: int = 1, log_key: int = 2) -> Json:
    """A ``genesis`` body (signer: :data:`AUTHORITY`)."""
    return {
        "origin": "claimledger.example/log",
        "authorityName": "Online Safety Standards Board",
        "authorityKey": example_key(authority_key),
        "logKey": example_key(log_key),
    }


def example_party_register_body(
    party: str = PROVIDER, role: str = "provider", *, keys: Sequence[int] = (3,)
) -> Json:
    """A ``party.register`` body for a provider (or, with ``role="verifier"``, a verifier)."""
    if role == "verifier":
        return {
            "party": party,
            "role": role,
            "name": "SafeCheck Labs Ltd",
            "jurisdiction": "GB",
            "website": "https://safecheck.example",
            "keys": [example_key(k) for k in keys],
        }
    return {
        "party": party,
        "role": role,
        "name": "Acme Social, Inc.",
        "jurisdiction": "US",
        "website": "https://acme-social.example",
        "keys": [example_key(k) for k in keys],
    }


def example_key_add_body(party: str = PROVIDER, key: int = 4) -> Json:
    """A ``key.add`` body."""
    return {"party": party, "key": example_key(key)}


def example_key_revoke_body(party: str = PROVIDER, key_id: str | None = None) -> Json:
    """A ``key.revoke`` body (``key_id`` defaults to a fixed placeholder id)."""
    return {
        "party": party,
        "keyId": key_id or example_digest("key id of example key 3"),
        "reason": "Laptop holding the key was lost; rotated to a new hardware key.",
    }


def example_accreditation_grant_body(
    party: str = VERIFIER, measures: Sequence[str] | None = None
) -> Json:
    """An ``accreditation.grant`` body."""
    return {
        "party": party,
        "scheme": "OSSB Child Safety Verification Programme 2026",
        "measures": list(
            measures or ["detect.hash_known_image", "detect.hash_known_video", "report.authority"]
        ),
        "validUntil": "2027-12-31T23:59:59Z",
    }


def example_disclosures(valid_from: str = "2026-01-01T00:00:00Z") -> Json:
    """The optional disclosures of an ``accreditation.grant`` (issue 17 §3), to merge into
    :func:`example_accreditation_grant_body`."""
    return {
        "accreditingBody": "National Accreditation Service (example)",
        "methods": ["seeded_canary_hash", "reporting_flow_review"],
        "qualifications": [
            "Lead assessor: ISO/IEC 17020 inspection body lead, 6 years.",
            "Two engineers with hash-matching and content-moderation systems experience.",
        ],
        "independence": {
            "otherServices": [{"provider": PROVIDER, "services": "Staff safety training, 2025."}],
            "feeBand": "EUR 50,000-100,000 per engagement",
            "rotation": "The lead assessor changes at least every three engagements per provider.",
        },
        "validFrom": valid_from,
    }


def example_party_retire_body(party: str = PROVIDER) -> Json:
    """A ``party.retire`` body."""
    return {"party": party, "reason": "Service closed in all covered countries."}


def example_log_key_rotate_body(key: int = 12, from_size: int = 20) -> Json:
    """A ``log.key.rotate`` body: example key ``key`` signs checkpoints from ``from_size`` on."""
    return {"key": example_key(key), "fromSize": from_size}


def example_accreditation_suspend_body(party: str = VERIFIER) -> Json:
    """An ``accreditation.suspend`` body."""
    return {
        "party": party,
        "reason": "Undeclared commercial relationship with a provider it verified.",
    }


# --------------------------------------------------------------------------------------------
# claims


_DETAILS: Mapping[str, Json] = {
    "policy.csea_definition": {
        "policy": _doc("https://acme-social.example/legal/child-safety-policy"),
        "languages": ["en", "es", "pt-BR"],
        "covers": ["csam", "grooming", "sextortion", "ai_generated_csam"],
    },
    "detect.hash_known_image": {
        "technologies": ["PhotoDNA", "PDQ"],
        "hashSources": ["NCMEC", "IWF"],
        "matchPoints": ["upload", "at_rest"],
    },
    "detect.hash_known_video": {
        "technologies": ["TMK+PDQF", "CSAI_Match"],
        "hashSources": ["NCMEC"],
        "matchPoints": ["upload"],
    },
    "detect.url_blocklist": {
        "listSources": ["IWF"],
        "appliedAt": ["posting", "messaging", "link_previews"],
    },
    "detect.classifier_novel": {
        "media": ["image", "video"],
        "humanReview": "all_before_action",
        "falsePositiveRate": "0.012",
        "falsePositiveMethod": "Quarterly audit of 2,000 randomly sampled flags",
    },
    "detect.grooming_text": {
        "languages": ["en"],
        "interventions": ["warn_minor", "human_review"],
    },
    "detect.livestream": {
        "methods": ["real_time_classifier", "sampling"],
        "samplingIntervalSeconds": 30,
    },
    "detect.e2ee_measures": {
        "methods": ["user_reporting_with_content", "behavioural_signals"],
        "leavesDevice": ["reported_messages", "metadata"],
    },
    "detect.genai_safeguards": {
        "safeguards": ["prompt_filtering", "output_classification", "training_data_filtering"],
        "outputs": ["image"],
    },
    "report.authority": {
        "recipients": ["NCMEC"],
        "targetMedianHours": "24",
        "targetP90Hours": "72",
        "preservationDays": 365,
    },
    "report.user_tool": {
        "surfaces": ["public_posts", "profiles", "comments", "dm_unencrypted"],
        "specificCategory": True,
        "targetActionHours": "24",
    },
    "moderation.human_review": {"coverageHoursPerWeek": 168, "languages": ["en", "es"]},
    "enforcement.recidivism": {
        "banEvasionSignals": ["device", "email", "phone"],
        "signalSharing": ["Lantern"],
    },
    "age.assurance": {
        "methods": ["self_declaration", "facial_age_estimation"],
        "appliedAt": ["sign_up", "on_signal"],
    },
    "defaults.minor_settings": {
        "settings": ["not_suggested_to_strangers", "dms_from_connections_only", "location_hidden"],
        "lockedForMinors": True,
    },
    "transparency.report": {
        "report": _doc("https://acme-social.example/transparency/2026-h1.pdf"),
        "period": {"start": "2026-01-01", "end": "2026-06-30"},
        "metricsIncluded": ["reports_to_ncmec", "accounts_actioned"],
    },
    "governance.risk_assessment": {
        "assessedOn": "2026-03-15",
        "regime": "UK Online Safety Act illegal content risk assessment",
        "summary": _doc("https://acme-social.example/safety/risk-assessment-summary-2026"),
    },
}


def example_details(measure: str) -> Json:
    """Valid ``details`` for ``measure`` (every measure of the vocabulary has one)."""
    return copy.deepcopy(_DETAILS[measure])


def example_claim_body(
    measure: str = "detect.hash_known_image", *, supersedes: str | None = None
) -> Json:
    """A claim body; pass ``supersedes`` for ``claim.supersede``."""
    body: Json = {
        "measure": measure,
        "services": ["Acme Social"],
        "surfaces": ["public_posts", "profiles", "comments", "dm_unencrypted"],
        "excludedSurfaces": [
            {
                "surface": "dm_e2ee",
                "reason": "Message content is end-to-end encrypted; see detect.e2ee_measures.",
            }
        ],
        "jurisdictions": ["GLOBAL"],
        "population": "all_users",
        "status": "deployed",
        "effectiveFrom": "2025-01-01",
        "details": example_details(measure),
        "metrics": [
            {
                "name": "images_removed_by_hash_match",
                "period": {"start": "2026-01-01", "end": "2026-06-30"},
                "value": 18234,
                "unit": "images",
                "method": "Count of uploads blocked or removed on a hash match, deduplicated.",
            },
            {
                "name": "median_hours_match_to_removal",
                "period": {"start": "2026-01-01", "end": "2026-06-30"},
                "value": "0.5",
                "unit": "hours",
                "method": "Median over all at-rest matches.",
            },
        ],
        "evidence": [
            {
                **_doc("https://acme-social.example/transparency/2026-h1.pdf"),
                "title": "Acme Social transparency report, H1 2026",
            }
        ],
        "frameworkRefs": ["OFCOM:ICU-C9", "DSA-SoR:KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"],
    }
    if supersedes is not None:
        body["supersedes"] = supersedes
    return body


def example_claim_withdraw_body(claim_digest: str) -> Json:
    """A ``claim.withdraw`` body."""
    return {
        "claim": claim_digest,
        "reason": "The measure was replaced by a new vendor integration; see the new claim.",
    }


# --------------------------------------------------------------------------------------------
# tests, verdicts, replies


def example_test_record_body(
    claim_digest: str,
    *,
    result: str = "PASSED",
    engagement: str | None = None,
    not_tested: Sequence[str] = (),
) -> Json:
    """A ``test.record`` body for a seeded canary hash test.

    ``result`` is PASSED, WARNED, FAILED or NOT_RUN; the trials are made to fit it. With an
    ``engagement`` (its digest) the body names it and carries ``notTested`` (``not_tested``).
    """
    second = {"WARNED": "inconclusive", "FAILED": "fail"}.get(result, "pass")
    trials: list[Json] = [
        {
            "name": "canary image upload to public post",
            "expected": "Upload blocked within 60 seconds",
            "observed": "Upload blocked at once; notice shown",
            "outcome": "pass",
            "evidence": [{"sha256": example_digest("screen recording 1")}],
        },
        {
            "name": "canary image in unencrypted direct message",
            "expected": "Message blocked within 60 seconds",
            "observed": "Message blocked after 4 seconds"
            if second == "pass"
            else "Message delivered; not blocked",
            "outcome": second,
        },
    ]
    return {
        "claim": claim_digest,
        "method": "seeded_canary_hash",
        "protocol": _doc("https://safecheck.example/protocols/canary-hash-v3"),
        "environment": {
            "service": "Acme Social",
            "surface": "public_posts",
            "jurisdiction": "GB",
            "clientVersion": "Android 412.0.1",
        },
        "window": {"start": "2026-11-02T09:00:00Z", "end": "2026-11-06T17:00:00Z"},
        "cooperation": "coordinated",
        "trials": [] if result == "NOT_RUN" else trials,
        "summary": "Benign canary images, whose hashes were placed in a test bank by arrangement, "
        "were uploaded from three test accounts.",
        "result": result,
        "limitations": [
            "Canary hashes were matched from a test bank, not from the live NCMEC list.",
            "Only the Android client was tested.",
        ],
        **({} if engagement is None else {"engagement": engagement, "notTested": [*not_tested]}),
    }


def example_verdict_body(
    claim_digest: str,
    test_digests: Sequence[str],
    *,
    result: str = "CONFIRMED",
    engagement: str | None = None,
) -> Json:
    """A ``verdict.issue`` body resting on ``test_digests`` (under ``engagement``, if given)."""
    body: Json = {
        "claim": claim_digest,
        "tests": list(test_digests),
        "result": result,
        "assurance": "limited",
        "scopeTested": {"surfaces": ["public_posts", "dm_unencrypted"], "jurisdictions": ["GB"]},
        "scopeMatch": "full" if result == "CONFIRMED" else "partial",
        "validUntil": "2027-11-20T00:00:00Z",
    }
    if result != "CONFIRMED":
        body["comments"] = "Profiles and comments were not tested; only UK accounts were used."
        body["recommendations"] = ["Publish the median time from match to removal per surface."]
    body["conflictsOfInterest"] = "none declared"
    if engagement is not None:
        body["engagement"] = engagement
    return body


def example_provider_reply_body(
    verdict_digest: str, commitments: Sequence[Json] | None = None
) -> Json:
    """A ``provider.reply`` body (with ``commitments``, if given)."""
    body: Json = {
        "verdict": verdict_digest,
        "text": "We welcome the verdict and will extend testing access to comments in 2027.",
        "evidence": [_doc("https://acme-social.example/safety/response-2026-11")],
    }
    if commitments is not None:
        body["commitments"] = list(commitments)
    return body


def example_commitment(due: str, recommendation: int | None = None) -> Json:
    """One commitment of a ``provider.reply``: an action due on ``due`` (a date)."""
    c: Json = {"action": "Publish the median time from match to removal per surface.", "due": due}
    if recommendation is not None:
        c["recommendation"] = recommendation
    return c


# --------------------------------------------------------------------------------------------
# engagements

CANARY_PROTOCOL = "https://safecheck.example/protocols/canary-hash-v3"
FLOW_PROTOCOL = "https://safecheck.example/protocols/reporting-flow-v1"


def example_engagement_open_body(
    claim_digests: Sequence[str],
    *,
    start: str = "2026-11-22T09:00:00Z",
    end: str = "2026-12-20T17:00:00Z",
) -> Json:
    """An ``engagement.open`` body: two planned methods, the first the example test's."""
    return {
        "claims": list(claim_digests),
        "methods": [
            {"method": "seeded_canary_hash", "protocol": _doc(CANARY_PROTOCOL)},
            {"method": "reporting_flow_review", "protocol": _doc(FLOW_PROTOCOL)},
        ],
        "window": {"start": start, "end": end},
        "commissionedBy": {"party": PROVIDER},
        "paidBy": {"name": "Acme Social Ltd, compliance budget"},
        "conflicts": ["SafeCheck Labs reviewed Acme's trust and safety policies in 2025."],
    }


def example_engagement_close_body(engagement: str, verdict: str) -> Json:
    """An ``engagement.close`` body: closed by ``verdict``."""
    return {"engagement": engagement, "verdict": verdict}


def example_engagement_withdraw_body(engagement: str) -> Json:
    """An ``engagement.withdraw`` body."""
    return {
        "engagement": engagement,
        "reason": "The provider ended the contract before testing began.",
    }


# --------------------------------------------------------------------------------------------
# authority datasets


def example_reference_publish_body(
    rows: Sequence[Json] | None = None,
    *,
    unit: str = "reports",
    period: tuple[str, str] = ("2025-01-01", "2025-12-31"),
) -> Json:
    """A ``reference.publish`` body: a small made-up table of per-provider report counts."""
    return {
        "dataset": "CyberTipline reports by electronic service provider (test table)",
        "recipient": "NCMEC",
        "source": {
            "uri": "https://reference.example/cybertipline/2025-esp-counts.pdf",
            "digest": {"sha256": example_digest("reference table 2025")},
        },
        "unit": unit,
        "period": {"start": period[0], "end": period[1]},
        "rows": list(
            rows
            or [
                {"listedAs": "Acme Social, Inc.", "count": 61034, "party": PROVIDER},
                {"listedAs": "Unregistered Example LLC", "count": 12},
            ]
        ),
    }


def example_dump_publish_body(date: str = "2026-11-19", checkpoint_size: int = 1) -> Json:
    """A ``dump.publish`` body: one day's open-data files by name, SHA-256 and size."""
    return {
        "date": date,
        "checkpointSize": checkpoint_size,
        "files": [
            {"name": "scorecard.csv", "sha256": example_digest("scorecard.csv"), "size": 2048},
            {"name": "entries.jsonl", "sha256": example_digest("entries.jsonl"), "size": 65536},
        ],
    }


# --------------------------------------------------------------------------------------------
# whole statements

_CLAIM = example_digest("claim v1")
_TEST = example_digest("test record 1")
_VERDICT = example_digest("verdict 1")
_ENGAGEMENT = example_digest("engagement 1")

_BODIES: Mapping[Kind, Callable[[], Json]] = {
    Kind.GENESIS: example_genesis_body,
    Kind.PARTY_REGISTER: example_party_register_body,
    Kind.KEY_ADD: example_key_add_body,
    Kind.KEY_REVOKE: example_key_revoke_body,
    Kind.ACCREDITATION_GRANT: example_accreditation_grant_body,
    Kind.ACCREDITATION_SUSPEND: example_accreditation_suspend_body,
    Kind.PARTY_RETIRE: example_party_retire_body,
    Kind.LOG_KEY_ROTATE: example_log_key_rotate_body,
    Kind.CLAIM_PUBLISH: example_claim_body,
    Kind.CLAIM_SUPERSEDE: lambda: example_claim_body(supersedes=_CLAIM),
    Kind.CLAIM_WITHDRAW: lambda: example_claim_withdraw_body(_CLAIM),
    Kind.TEST_RECORD: lambda: example_test_record_body(_CLAIM),
    Kind.VERDICT_ISSUE: lambda: example_verdict_body(_CLAIM, [_TEST]),
    Kind.PROVIDER_REPLY: lambda: example_provider_reply_body(_VERDICT),
    Kind.ENGAGEMENT_OPEN: lambda: example_engagement_open_body([_CLAIM]),
    Kind.ENGAGEMENT_CLOSE: lambda: example_engagement_close_body(_ENGAGEMENT, _VERDICT),
    Kind.ENGAGEMENT_WITHDRAW: lambda: example_engagement_withdraw_body(_ENGAGEMENT),
    Kind.REFERENCE_PUBLISH: example_reference_publish_body,
    Kind.DUMP_PUBLISH: example_dump_publish_body,
}

_SIGNERS: Mapping[Kind, str] = {
    Kind.CLAIM_PUBLISH: PROVIDER,
    Kind.CLAIM_SUPERSEDE: PROVIDER,
    Kind.CLAIM_WITHDRAW: PROVIDER,
    Kind.PROVIDER_REPLY: PROVIDER,
    Kind.TEST_RECORD: VERIFIER,
    Kind.VERDICT_ISSUE: VERIFIER,
    Kind.ENGAGEMENT_OPEN: VERIFIER,
    Kind.ENGAGEMENT_CLOSE: VERIFIER,
    Kind.ENGAGEMENT_WITHDRAW: PROVIDER,
}


def example_body(kind: Kind | str) -> Json:
    """A valid body for ``kind`` (references are fixed placeholder digests)."""
    return _BODIES[Kind(kind)]()


def example_statement(
    kind: Kind | str,
    body: Json | None = None,
    *,
    stream: str | None = None,
    signer: str | None = None,
    prev: str | None = None,
    signed_at: str = SIGNED_AT,
) -> Json:
    """A whole statement of ``kind`` with plausible envelope members.

    Registry kinds go to ``registry`` signed by :data:`AUTHORITY` (``key.add``/``key.revoke``:
    by the party itself); the others go to :data:`PROVIDER`'s stream, signed by the provider or
    by :data:`VERIFIER`.
    """
    k = Kind(kind)
    if body is None:
        body = example_body(k)
    if signer is None:
        if k in (Kind.KEY_ADD, Kind.KEY_REVOKE):
            signer = str(body["party"])
        else:
            signer = _SIGNERS.get(k, AUTHORITY)
    if stream is None:
        stream = REGISTRY_STREAM if k in REGISTRY_KINDS else PROVIDER
    return {
        "v": STATEMENT_VERSION,
        "kind": k.value,
        "stream": stream,
        "prev": prev or example_digest(f"head of {stream}"),
        "signer": signer,
        "signedAt": signed_at,
        "body": body,
    }
