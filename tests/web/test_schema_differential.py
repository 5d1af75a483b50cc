"""The browser's statement schemas (``api/web/static/schema.js``) against Python's, differentially.

Valid statements of every kind (a claim for every measure of the vocabulary, test records and
verdicts of every result, replies and every registry kind) are mutated in two ways:

- a sweep: at every place of every kind and of every measure's ``details``, the member deleted,
  set to null, set to each value of its form (dates, timestamps, URIs, party ids, hex hashes,
  keys, decimals, jurisdictions, language tags, integers at their limits...), set to edited
  strings (empty, blank, padded, control characters, too long in code points), and every object
  given unknown members;
- random mutants (fixed seed): one to three mutations at a time anywhere, ``details`` included:
  the above, plus values of the wrong JSON type or from another vocabulary, arrays emptied, grown
  past their limit, reversed or given a repeated item.

Each mutant is encoded canonically (all stay inside the JSON profile), parsed by Python's
``parse_statement`` and, in one batch, by the browser's ``parseStatement``: both must reach the
same verdict and, for a refusal, name the same first pointer. About 11,000 mutants, a few seconds.
"""

from __future__ import annotations

import copy
import hashlib
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from attest import canonical, measures
from attest.build import make_statement
from attest.errors import SchemaError
from attest.measures import MEASURES
from attest.statements import (
    REGISTRY_KINDS,
    REGISTRY_STREAM,
    Assurance,
    ClaimStatus,
    Cooperation,
    Kind,
    PopulationKind,
    Role,
    ScopeMatch,
    Surface,
    TestMethod,
    TestResult,
    TrialOutcome,
    VerdictResult,
    parse_statement,
)
from tests.attest.examples import (
    AUTHORITY,
    PROVIDER,
    SIGNED_AT,
    VERIFIER,
    example_accreditation_grant_body,
    example_accreditation_suspend_body,
    example_claim_body,
    example_claim_withdraw_body,
    example_commitment,
    example_digest,
    example_disclosures,
    example_dump_publish_body,
    example_engagement_close_body,
    example_engagement_open_body,
    example_engagement_withdraw_body,
    example_genesis_body,
    example_key,
    example_key_add_body,
    example_key_revoke_body,
    example_log_key_rotate_body,
    example_party_register_body,
    example_party_retire_body,
    example_provider_reply_body,
    example_reference_publish_body,
    example_test_record_body,
    example_verdict_body,
)

pytestmark = pytest.mark.browser

Json = Any
Path = tuple[str | int, ...]

SEED = 20261125
RANDOM_PER_SEED = 100  # random mutants per valid statement (one to three mutations each)
DETAILS_PER_CLAIM = 40  # more, inside `details`, per claim
CLAIM = example_digest("claim v1")
TEST = example_digest("test record 1")
VERDICT = example_digest("verdict 1")
ENGAGEMENT = example_digest("engagement 1")

# The JS side: each payload through the browser's parseStatement; null when accepted.
JS_BATCH = """(texts) => texts.map((t) => {
    try {
        T.V.parseStatement(T.V.utf8(t));
        return null;
    } catch (e) {
        if (e instanceof T.V.VerificationFailure) return [e.kind, e.field];
        return ["JS:" + e.name, String(e.message)];
    }
})"""


# -- valid statements of every kind -------------------------------------------------------------


def _statement(kind: Kind, body: Json, *, signer: str | None = None) -> Json:
    registry = kind in REGISTRY_KINDS
    stream = REGISTRY_STREAM if registry else PROVIDER
    if signer is None:
        provider_signs = kind in (Kind.CLAIM_PUBLISH, Kind.CLAIM_SUPERSEDE, Kind.CLAIM_WITHDRAW)
        provider_signs = provider_signs or kind in (Kind.PROVIDER_REPLY, Kind.ENGAGEMENT_WITHDRAW)
        signer = AUTHORITY if registry else PROVIDER if provider_signs else VERIFIER
    return make_statement(
        kind=kind,
        stream=stream,
        prev=example_digest(f"head of {stream}"),
        signer=signer,
        signed_at=SIGNED_AT,
        body=body,
    )


def _without(body: Json, *names: str) -> Json:
    return {k: v for k, v in body.items() if k not in names}


def _claim_variants() -> Iterator[Json]:
    for measure in MEASURES:
        yield _statement(Kind.CLAIM_PUBLISH, example_claim_body(measure))
    minimal = _without(
        example_claim_body("report.authority"),
        "excludedSurfaces",
        "metrics",
        "evidence",
        "frameworkRefs",
    )
    minimal["details"] = {"recipients": ["IWF", "national_hotline"]}
    yield _statement(Kind.CLAIM_PUBLISH, minimal)
    band = example_claim_body("age.assurance")
    band["population"] = {"ageBand": {"min": 13, "max": 17}}
    band["jurisdictions"] = ["GB", "US", "DE"]
    band["effectiveUntil"] = "2027-06-30"
    yield _statement(Kind.CLAIM_PUBLISH, band)
    classifier = example_claim_body("detect.classifier_novel")
    classifier["details"] = {"media": ["image"], "humanReview": "sampled"}
    classifier["population"] = "under_18"
    yield _statement(Kind.CLAIM_PUBLISH, classifier)
    yield _statement(Kind.CLAIM_SUPERSEDE, example_claim_body(supersedes=CLAIM))
    yield _statement(Kind.CLAIM_WITHDRAW, example_claim_withdraw_body(CLAIM))


def _other_variants() -> Iterator[Json]:
    yield _statement(Kind.GENESIS, example_genesis_body())
    yield _statement(Kind.PARTY_REGISTER, example_party_register_body())
    verifier = example_party_register_body(VERIFIER, "verifier", keys=(5, 6))
    verifier["website"] = "https://192.0.2.1:8443/about"
    yield _statement(Kind.PARTY_REGISTER, verifier)
    yield _statement(Kind.PARTY_REGISTER, _without(example_party_register_body(), "website"))
    yield _statement(Kind.KEY_ADD, example_key_add_body(), signer=PROVIDER)
    yield _statement(Kind.KEY_REVOKE, example_key_revoke_body(), signer=PROVIDER)
    for since in ({"index": 12}, {"time": "2026-11-19T08:30:00Z"}):
        yield _statement(Kind.KEY_REVOKE, {**example_key_revoke_body(), "compromisedSince": since})
    yield _statement(Kind.PARTY_RETIRE, example_party_retire_body())
    yield _statement(Kind.LOG_KEY_ROTATE, example_log_key_rotate_body())
    yield _statement(Kind.ACCREDITATION_GRANT, example_accreditation_grant_body())
    everything = example_accreditation_grant_body(measures=list(MEASURES))
    yield _statement(Kind.ACCREDITATION_GRANT, _without(everything, "validUntil"))
    yield _statement(Kind.ACCREDITATION_SUSPEND, example_accreditation_suspend_body())
    disclosed = {**example_accreditation_grant_body(), **example_disclosures()}
    yield _statement(Kind.ACCREDITATION_GRANT, disclosed)
    disclosed["independence"] = {**disclosed["independence"], "otherServices": []}
    yield _statement(Kind.ACCREDITATION_GRANT, _without(disclosed, "validUntil"))
    for result in TestResult:
        yield _statement(Kind.TEST_RECORD, example_test_record_body(CLAIM, result=result.value))
    tests = [TEST, example_digest("test record 2")]
    for verdict in VerdictResult:
        body = example_verdict_body(CLAIM, tests, result=verdict.value)
        yield _statement(Kind.VERDICT_ISSUE, body)
    yield _statement(Kind.PROVIDER_REPLY, example_provider_reply_body(VERDICT))
    yield _statement(
        Kind.PROVIDER_REPLY, _without(example_provider_reply_body(VERDICT), "evidence")
    )
    promised = [example_commitment("2027-01-31"), example_commitment("2027-03-01", 0)]
    yield _statement(Kind.PROVIDER_REPLY, example_provider_reply_body(VERDICT, promised))
    engaged = example_test_record_body(CLAIM, engagement=ENGAGEMENT, not_tested=["profiles"])
    yield _statement(Kind.TEST_RECORD, engaged)
    yield _statement(Kind.TEST_RECORD, example_test_record_body(CLAIM, engagement=ENGAGEMENT))
    yield _statement(Kind.VERDICT_ISSUE, example_verdict_body(CLAIM, tests, engagement=ENGAGEMENT))
    plan = example_engagement_open_body([CLAIM, example_digest("claim v2")])
    yield _statement(Kind.ENGAGEMENT_OPEN, plan)
    plan = example_engagement_open_body([CLAIM])
    plan["commissionedBy"] = {"name": "Online Safety Standards Board"}
    plan["paidBy"] = {"party": PROVIDER}
    plan["conflicts"] = []
    yield _statement(Kind.ENGAGEMENT_OPEN, plan)
    yield _statement(Kind.ENGAGEMENT_CLOSE, example_engagement_close_body(ENGAGEMENT, VERDICT))
    yield _statement(Kind.ENGAGEMENT_WITHDRAW, example_engagement_withdraw_body(ENGAGEMENT))
    yield _statement(
        Kind.ENGAGEMENT_WITHDRAW, example_engagement_withdraw_body(ENGAGEMENT), signer=VERIFIER
    )
    yield _statement(Kind.REFERENCE_PUBLISH, example_reference_publish_body())
    unmapped = [{"listedAs": "Ünïcode Provider GmbH", "count": 0}]
    yield _statement(
        Kind.REFERENCE_PUBLISH,
        example_reference_publish_body(
            unmapped, unit="accounts", period=("2025-07-01", "2025-07-01")
        ),
    )
    yield _statement(Kind.DUMP_PUBLISH, example_dump_publish_body())


def valid_statements() -> list[Json]:
    """Valid statements of every kind, every measure and every test and verdict result."""
    return [*_claim_variants(), *_other_variants()]


# -- values to mutate with ---------------------------------------------------------------------

TIMESTAMPS = [
    SIGNED_AT,
    "2026-11-20T09:59:59Z",
    "2026-11-20T10:00:01Z",
    "2026-11-01T00:00:00Z",
    "2099-12-31T23:59:59Z",
    "9999-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "2024-02-29T12:00:00Z",
    "2000-02-29T12:00:00Z",
    "2026-02-29T12:00:00Z",
    "2100-02-29T12:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-11-20T24:00:00Z",
    "2026-11-20T23:60:00Z",
    "2026-12-31T23:59:60Z",
    "2026-11-20T10:00:00z",
    "2026-11-20t10:00:00Z",
    "2026-11-20 10:00:00Z",
    "2026-11-20T10:00:00+00:00",
    "2026-11-20T10:00:00.000Z",
    "2026-11-20T10:00Z",
    "2026-11-20",
    "\uff12026-11-20T10:00:00Z",
]
DATES = [
    "2026-01-01",
    "2025-12-31",
    "2026-06-30",
    "2026-07-01",
    "2027-01-01",
    "2024-02-29",
    "2000-02-29",
    "1900-02-29",
    "2026-02-29",
    "2026-04-31",
    "0000-01-01",
    "0001-01-01",
    "1969-12-31",
    "9999-12-31",
    "2026-13-01",
    "2026-00-10",
    "2026-01-00",
    "2026-1-01",
    "20260101",
    "2026-01-01T00:00:00Z",
    "\u0662\u0660\u0662\u0666-01-01",
]
URIS = [
    "https://a",
    "http://a.example/b?c=d#e",
    "https://acme-social.example/legal/child-safety-policy",
    "https://a:443/",
    "https://a:b:c/",
    "https://[::1]",
    "https://[::1]:443/x",
    "https://[::]/",
    "https://[1:2:3:4:5:6:7:8]/",
    "https://[1:2:3:4:5:6:7::]/",
    "https://[::ffff:192.0.2.1]/",
    "https://[fe80::1%25eth0]/",
    "https://[v1.x]/",
    "https://[::1]x/",
    "https://user@a",
    "https://@a",
    "https://a@",
    "https://:80",
    "https://",
    "http://?",
    "https://#",
    "https:///a",
    "https:/a",
    "https:a",
    "//a",
    "HTTPS://a",
    "Https://a",
    "ftp://a",
    "mailto:a@b.example",
    "https://a b",
    "https://\u00e9.example",
    "https://a/" + "x" * 1990,
    "https://a/" + "x" * 1991,
]
# Odd bracketed hosts: URL libraries read them differently (Python's urlsplit raised ValueError on
# these before SPEC §3.2 gave URIs their own grammar); both sides refuse them as SchemaError.
URIS_BRACKETED = [
    "https://[::1/",
    "https://::1]/",
    "https://[1::2::3]/",
    "https://[1:2:3:4:5:6:7:8:9]/",
    "https://[::ffff:1.2.3.04]/",
    "https://[12345::]/",
    "https://[g::1]/",
    "https://[fe80::1%]/",
    "https://[1.2.3.4]/",
    "https://[v1.]/",
    "https://[]/",
]
PARTY_IDS = [
    "a",
    "ab",
    "a-",
    "-a",
    "a-b",
    "a--b",
    "acme-social",
    "safecheck-labs",
    "online-safety-board",
    "registry",
    "Registry",
    "acme_social",
    "1acme",
    "a" * 63,
    "a" * 64,
    "\u00fcnicode",
]
DECIMALS = [
    "0",
    "0.0",
    "-0",
    "-0.5",
    "1",
    "01",
    "1.",
    ".5",
    "1.50",
    "1e3",
    "+1",
    " 1",
    "24",
    "71.999",
    "72",
    "72.0001",
    "1" * 40,
    "1" * 41,
    "0.012",
]
INTEGERS = [-1, 0, 1, 2, 12, 13, 17, 119, 120, 121, 167, 168, 169, 365, 3600, 3601, 3650, 3651]
INTEGERS += [2**53 - 1, -(2**53 - 1)]
JURISDICTIONS = ["GB", "US", "DE", "GLOBAL", "gb", "G", "GBR", "global", "Global", "ZZ"]
LANGUAGES = ["en", "es", "pt-BR", "zh-Hant-TW", "EN", "e", "engl", "en-", "en-b", "en-abcdefghi"]
FRAMEWORK_REFS = ["OFCOM:ICU-C9", "ofcom:x", "OFCOM:", ":x", "A:b:c", "A-B:c_d.e", "OFCOM ICU"]
ORIGINS = ["claimledger.example/log", "a", "a b", "x" * 100, "x" * 101, "\u00e9"]
POPULATIONS: list[Json] = [
    "all_users",
    "under_18",
    "age_band",
    {"ageBand": {"min": 0, "max": 120}},
    {"ageBand": {"min": 13, "max": 12}},
    {"ageBand": {"min": 13}},
    {"ageBand": {"min": 13, "max": 17}, "x": 1},
    {"ageBand": {"min": True, "max": 17}},
    {},
]
KEYS = [example_key(n) for n in range(5, 17)]


def _bad_keys() -> list[str]:
    k = example_key(5)
    return [
        k[:42] + "B=",  # non-zero trailing bits
        k[:42] + "C=",
        k[:42] + "E=",
        k[:43],
        k + "=",
        k[:43] + "A",
        k.replace("+", "-").replace("/", "_") if ("+" in k or "/" in k) else "-" + k[1:],
        "A" * 43 + "=",
    ]


_ENUMS = (
    Kind,
    Role,
    Surface,
    ClaimStatus,
    PopulationKind,
    TestMethod,
    Cooperation,
    TrialOutcome,
    TestResult,
    VerdictResult,
    Assurance,
    ScopeMatch,
)
# Every enumerated value of the statements and the measures, and every measure type.
VOCABULARY = sorted(
    {str(m.value) for e in _ENUMS for m in e}
    | {w for v in vars(measures).values() if isinstance(v, tuple) for w in v if isinstance(w, str)}
    | set(MEASURES)
)

WRONG_TYPES: list[Json] = [None, True, False, 0, 1, -1, "x", "", [], {}]
UNKNOWN_NAMES = [
    "extra",
    "a/b",
    "~0",
    "a~b",
    "10",
    "9",
    "__proto__",
    "constructor",
    "toString",
    "hasOwnProperty",
    "",
    " ",
    "Z",
]
OPTIONAL_NAMES = [
    "title",
    "website",
    "validUntil",
    "effectiveUntil",
    "excludedSurfaces",
    "metrics",
    "evidence",
    "frameworkRefs",
    "supersedes",
    "comments",
    "recommendations",
    "clientVersion",
    "falsePositiveRate",
    "falsePositiveMethod",
    "samplingIntervalSeconds",
    "targetMedianHours",
    "targetP90Hours",
    "preservationDays",
    "targetActionHours",
    "signalSharing",
    "lockedForMinors",
    "metricsIncluded",
    "summary",
    "engagement",
    "notTested",
    "party",
    "name",
]
ADDED_VALUES: list[Json] = [
    "x",
    "Lantern",
    "https://a.example/x",
    "2026-01-01",
    "2027-01-01T00:00:00Z",
    "1",
    "0.5",
    CLAIM,
    True,
    7,
    None,
    [],
    ["x"],
    [{"surface": "genai", "reason": "Not offered."}],
    {"sha256": CLAIM},
]


def _string_edits(s: str) -> list[str]:
    half = len(s) // 2
    return [
        "",
        " ",
        "\t",
        "\n",
        "\x1c",
        "\x85",
        "\u3000",
        s + " ",
        " " + s,
        s + "\n",
        "\n" + s,
        s + "\t",
        s[:half] + "\t" + s[half:],
        s[:half] + "\n" + s[half:],
        s[:half] + "\x00" + s[half:],
        s[:half] + "\x07" + s[half:],
        s[:half] + "\x7f" + s[half:],
        s[:half] + "\x1f" + s[half:],
        s + "\x85",
        "\u00a0" + s,
        s + "\u2028",
        "\ufeff" + s,
        s + "\u200b",
        s.upper(),
        s.lower(),
        s[:-1],
        s[1:],
        s + "x",
        "a" * 200,
        "a" * 201,
        "\u00e9" * 201,
        "\U0001f600" * 200,
        "\U0001f600" * 201,
        "x" * 4000,
        "x" * 4001,
        "\U0001f600" * 4000,
        "\U0001f600" * 4001,
        ("line\n" * 900)[:4001],
    ]


# -- mutating JSON -------------------------------------------------------------------------------


def _paths(value: Json, path: Path = ()) -> Iterator[Path]:
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


def _get(doc: Json, path: Path) -> Json:
    for token in path:
        doc = doc[token]
    return doc


def _name_of(path: Path) -> str:
    """The member name a value is under (an array item: the array's name)."""
    for token in reversed(path):
        if isinstance(token, str):
            return token
    return ""


def _distinct_like(items: list[Json], n: int, rnd: random.Random) -> list[Json]:
    """``n`` items like ``items``: cyclic copies or (half the time) made distinct where possible."""
    out = [copy.deepcopy(items[i % len(items)]) for i in range(n)]
    if rnd.random() < 0.5:
        return out
    for i, item in enumerate(out):
        if isinstance(item, str):
            if len(item) == 64 and all(c in "0123456789abcdef" for c in item):
                out[i] = hashlib.sha256(f"{item}{i}".encode()).hexdigest()
            elif len(item) == 44 and item.endswith("="):
                out[i] = KEYS[i % len(KEYS)]
            elif item not in VOCABULARY:
                out[i] = f"{item} {i}"
        elif isinstance(item, dict):
            for member in ("name", "uri", "sha256"):
                if isinstance(item.get(member), str):
                    text = item[member]
                    item[member] = (
                        hashlib.sha256(f"{text}{i}".encode()).hexdigest()
                        if member == "sha256"
                        else f"{text}/{i}"
                    )
                    break
    return out


def _shaped(value: str, name: str) -> list[Json]:
    """Values of the form (or the vocabulary) of a string member named ``name``: good and bad."""
    if name in ("party", "signer", "stream"):
        return [*PARTY_IDS, REGISTRY_STREAM]
    if name == "origin":
        return ORIGINS
    if name == "population":
        return POPULATIONS
    if name in ("jurisdiction", "jurisdictions"):
        return JURISDICTIONS
    if name == "languages":
        return LANGUAGES
    if name == "frameworkRefs":
        return FRAMEWORK_REFS
    if name in ("value", "falsePositiveRate") or name.endswith("Hours"):
        return [*DECIMALS, 0, 24, 2**53 - 1, True]
    if value.startswith("http"):
        return [*URIS, *URIS_BRACKETED]
    if len(value) == 20 and value.endswith("Z"):
        return TIMESTAMPS
    if len(value) == 10 and value[4] == "-":
        return DATES
    if len(value) == 64:
        return [CLAIM, value.upper(), value[:63], value + "0", "g" + value[1:], " " + value]
    if len(value) == 44 and value.endswith("="):
        return [*KEYS[:3], *_bad_keys()]
    if value in VOCABULARY:
        return VOCABULARY
    return []


def _replacements(value: Json, path: Path, rnd: random.Random) -> list[Json]:
    """Candidate values for the value at ``path``, chosen by its name, form and type."""
    if isinstance(value, bool):
        return [not value, 0, 1, "true", None]
    if isinstance(value, int):
        return [*INTEGERS, *WRONG_TYPES, "1", True]
    if isinstance(value, str):
        shaped = _shaped(value, _name_of(path))
        pick = rnd.random()
        if shaped and pick < 0.55:
            return shaped
        if pick < 0.85:
            return _string_edits(value)
        if pick < 0.92:
            return VOCABULARY
        return [*WRONG_TYPES, 0, 1, [value], {"x": value}]
    if isinstance(value, list):
        return [*WRONG_TYPES, {"0": value[0]} if value else {}]
    return [*WRONG_TYPES, [value], "x", {}]


def _mutate_once(doc: Json, rnd: random.Random, *, under: Path = ()) -> str:
    """Apply one random mutation to ``doc`` (in place) at a path under ``under``; describe it."""
    paths = [p for p in _paths(doc) if p[: len(under)] == under] or list(_paths(doc))
    path = rnd.choice(paths)
    value = _get(doc, path)
    parent: Json = _get(doc, path[:-1]) if path else None
    op = rnd.random()
    where = "/" + "/".join(map(str, path))
    if path and op < 0.12:
        if isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
        return f"delete {where}"
    if isinstance(value, dict) and op < 0.3:
        names = UNKNOWN_NAMES if rnd.random() < 0.5 else OPTIONAL_NAMES
        key = rnd.choice(names)
        if key in value:
            return f"no-op at {where}"
        value[key] = copy.deepcopy(rnd.choice(ADDED_VALUES))
        return f"add {where}/{key}"
    if isinstance(value, list) and op < 0.55:
        how = rnd.choice(["empty", "repeat", "grow", "reverse", "insert", "repeat-loose"])
        if how == "empty":
            value.clear()
        elif how == "repeat" and value:
            value.insert(rnd.randrange(len(value) + 1), copy.deepcopy(rnd.choice(value)))
        elif how == "repeat-loose" and value:
            # Two items equal for Python's == (True == 1) but not as JSON.
            twin = copy.deepcopy(rnd.choice(value))
            if isinstance(twin, dict) and twin:
                member = rnd.choice(sorted(twin))
                value.append({**copy.deepcopy(twin), member: True})
                value.append({**twin, member: 1})
        elif how == "grow" and value:
            limits = [8, 9, 12, 13, 64, 65, 100, 101]
            if _name_of(path) in ("tests", "trials"):
                limits += [1000, 1001]
            n = rnd.choice([n for n in limits if n > len(value)] or [len(value) + 1])
            value[:] = _distinct_like(value, n, rnd)
        elif how == "reverse":
            value.reverse()
        else:
            value.insert(rnd.randrange(len(value) + 1), rnd.choice(WRONG_TYPES))
        return f"{how} {where}"
    new = copy.deepcopy(rnd.choice(_replacements(value, path, rnd)))
    if not path:
        return "no-op at the root"
    parent[path[-1]] = new
    return f"set {where} = {new!r:.60}"


def mutants(seed: int = SEED) -> list[tuple[str, Json]]:
    """Deterministic mutants of every valid statement: (description, statement)."""
    rnd = random.Random(seed)
    out: list[tuple[str, Json]] = []
    for statement in valid_statements():
        plans: list[Path] = [()] * RANDOM_PER_SEED
        if statement["kind"] in (Kind.CLAIM_PUBLISH, Kind.CLAIM_SUPERSEDE):
            plans += [("body", "details")] * DETAILS_PER_CLAIM
        for under in plans:
            doc = copy.deepcopy(statement)
            count = rnd.choices([1, 2, 3], weights=[60, 25, 15])[0]
            steps = [_mutate_once(doc, rnd, under=under) for _ in range(count)]
            out.append((f"{statement['kind']}: " + "; ".join(steps), doc))
    return out


def _sweep_values(value: Json, path: Path) -> list[Json]:
    """What :func:`sweep` sets the value at ``path`` to."""
    if isinstance(value, bool) or not path:
        return []
    if isinstance(value, int):
        return [None, *INTEGERS]
    if isinstance(value, str):
        shaped = _shaped(value, _name_of(path))
        if shaped is VOCABULARY:
            shaped = []  # the random mutants try the vocabulary
        half = len(value) // 2
        edits = ["", " ", value + " ", "\ufeff" + value, "\x85" + value, value + "\t"]
        edits += [value[:half] + "\n" + value[half:], value[:half] + "\x01" + value[half:]]
        edits += ["a" * 201, "\U0001f600" * 200, "\U0001f600" * 201, "x" * 4001]
        return [None, *shaped, *edits]
    return [None]


def sweep() -> list[tuple[str, Json]]:
    """At every place of every kind (and of every measure's ``details``): the member deleted,
    set to null, to each value of its form (good and bad) and to edited strings; every object
    given unknown members."""
    out: list[tuple[str, Json]] = []
    done: set[tuple[str, str, Path]] = set()
    for statement in valid_statements():
        measure = statement["body"].get("measure", "")
        for path in list(_paths(statement)):
            place = (statement["kind"], measure if path[:2] == ("body", "details") else "", path)
            if place in done:
                continue
            done.add(place)
            value = _get(statement, path)
            for new in _sweep_values(value, path):
                doc = copy.deepcopy(statement)
                _get(doc, path[:-1])[path[-1]] = copy.deepcopy(new)
                out.append((f"{statement['kind']}: set {path} = {new!r:.60}", doc))
            if path:
                doc = copy.deepcopy(statement)
                parent = _get(doc, path[:-1])
                if isinstance(parent, dict):
                    del parent[path[-1]]
                else:
                    parent.pop(path[-1])
                out.append((f"{statement['kind']}: delete {path}", doc))
            if isinstance(value, dict):
                for unknown in ({"zz": 1}, {"10": 1, "9": 1, "": 1, "a/b": 1}):
                    doc = copy.deepcopy(statement)
                    _get(doc, path).update(unknown)
                    out.append((f"{statement['kind']}: unknown members {unknown} in {path}", doc))
    return out


# -- the two verdicts ----------------------------------------------------------------------------

Verdict = tuple[str, str | None]


def python_verdict(payload: bytes) -> Verdict:
    """``("ok", None)`` or ``("SchemaError", first pointer)`` (anything else fails the test)."""
    try:
        parse_statement(canonical.decode_object(payload))
    except SchemaError as exc:
        return ("SchemaError", exc.problems[0].pointer)
    return ("ok", None)


def browser_verdicts(page: Any, payloads: list[bytes]) -> list[Verdict]:
    texts = [p.decode() for p in payloads]
    got: list[list[str] | None] = page.evaluate(JS_BATCH, texts)
    assert len(got) == len(texts)
    return [("ok", None) if g is None else (g[0], g[1]) for g in got]


def agrees(python: Verdict, browser: Verdict) -> bool:
    """Same verdict and, when refused, the same first pointer."""
    return python == browser


def _encode_all(cases: list[tuple[str, Json]]) -> tuple[list[str], list[bytes]]:
    """The distinct canonical payloads (every mutant stays inside the JSON profile)."""
    names, payloads, seen = [], [], set()
    for name, doc in cases:
        payload = canonical.encode(doc)
        if payload not in seen:
            seen.add(payload)
            names.append(name)
            payloads.append(payload)
    return names, payloads


def _compare(page: Any, cases: list[tuple[str, Json]]) -> tuple[list[Verdict], list[Any]]:
    names, payloads = _encode_all(cases)
    python = [python_verdict(p) for p in payloads]
    browser = browser_verdicts(page, payloads)
    wrong = [
        (name, py, js)
        for name, py, js in zip(names, python, browser, strict=True)
        if not agrees(py, js)
    ]
    return python, wrong


# -- tests ----------------------------------------------------------------------------------------


def test_valid_statements_of_every_kind_and_measure_are_accepted(page: Any) -> None:
    statements = valid_statements()
    for statement in statements:
        parse_statement(canonical.decode_object(canonical.encode(statement)))  # valid for Python
    assert {s["kind"] for s in statements} == {k.value for k in Kind}
    claimed = {s["body"]["measure"] for s in statements if s["kind"] == Kind.CLAIM_PUBLISH}
    assert claimed == set(MEASURES)
    python, wrong = _compare(page, [(s["kind"], s) for s in statements])
    assert wrong == []
    assert set(python) == {("ok", None)}


def test_mutants_get_the_same_verdict_and_first_pointer(page: Any) -> None:
    cases = mutants() + sweep()
    python, wrong = _compare(page, cases)
    assert wrong[:20] == [], f"{len(wrong)} of {len(python)} mutants disagree"
    verdicts = Counter(v[0] for v in python)
    pointers = {v[1] for v in python if v[0] == "SchemaError"}
    # The mutants reach far: thousands, many accepted, refusals at many places, details too.
    assert len(python) >= 8000, verdicts
    assert verdicts["ok"] >= 1000, verdicts
    assert verdicts["SchemaError"] >= 6000, verdicts
    assert len(pointers) >= 350, len(pointers)
    detail_refusals = {p for p in pointers if p and p.startswith("/body/details/")}
    assert len(detail_refusals) >= 100, sorted(detail_refusals)


def _with_website(uri: str) -> Json:
    body = example_party_register_body()
    body["website"] = uri
    return _statement(Kind.PARTY_REGISTER, body)


# SPEC §3.2: https?://host[:port][/?#...], host a DNS name of LDH labels (IPv4 dotted included).
URIS_ACCEPTED = {
    "https://a",
    "http://a.example/b?c=d#e",
    "https://acme-social.example/legal/child-safety-policy",
    "https://a:443/",
    "https://a/" + "x" * 1990,
}


def test_uris_follow_the_spec_grammar_on_both_sides(page: Any) -> None:
    uris = [*URIS, *URIS_BRACKETED, "https://1.2.3.4/p", "https://x..y/", "https://-x.y/"]
    payloads = [canonical.encode(_with_website(u)) for u in uris]
    expected = [
        ("ok", None) if u in URIS_ACCEPTED or u == "https://1.2.3.4/p" else REFUSED_AT_WEBSITE
        for u in uris
    ]
    assert [python_verdict(p) for p in payloads] == expected
    assert browser_verdicts(page, payloads) == expected


REFUSED_AT_WEBSITE: Verdict = ("SchemaError", "/body/website")


def test_dataset_duplicates_are_refused_at_the_same_member(page: Any) -> None:
    """A reference table listing a name or mapping a party twice, and a dump naming a file
    twice, are refused by both at the later item (SPEC §3.3)."""
    rows = example_reference_publish_body()["rows"]
    twice_party = [*rows, {"listedAs": "Another name", "count": 1, "party": PROVIDER}]
    twice_name = [*rows, {"listedAs": rows[1]["listedAs"], "count": 2}]
    dump = example_dump_publish_body()
    dump["files"] = [*dump["files"], {**dump["files"][0], "size": 1}]
    cases = [
        (
            "party twice",
            _statement(Kind.REFERENCE_PUBLISH, example_reference_publish_body(twice_party)),
        ),
        (
            "name twice",
            _statement(Kind.REFERENCE_PUBLISH, example_reference_publish_body(twice_name)),
        ),
        ("file twice", _statement(Kind.DUMP_PUBLISH, dump)),
    ]
    python, wrong = _compare(page, cases)
    assert wrong == []
    assert python == [
        ("SchemaError", "/body/rows/2/party"),
        ("SchemaError", "/body/rows/2/listedAs"),
        ("SchemaError", "/body/files/2/name"),
    ]
