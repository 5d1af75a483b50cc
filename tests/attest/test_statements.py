"""Tests of attest.statements: the statement schemas, their problems and pointers, round trips."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest import measures as measures_mod
from attest import statements as statements_mod
from attest.errors import FieldProblem, SchemaError, VerificationError
from attest.measures import MEASURES, VOCABULARY_VERSION
from attest.statements import (
    REGISTRY_KINDS,
    REGISTRY_STREAM,
    STATEMENT_VERSION,
    AgeBand,
    Claim,
    ClaimStatus,
    Digest,
    Kind,
    Population,
    PopulationKind,
    Statement,
    Surface,
    TestRecord,
    Verdict,
    VerdictResult,
    Window,
    format_timestamp,
    is_party_id,
    parse_statement,
    parse_timestamp,
)
from tests.attest.examples import (
    PROVIDER,
    example_accreditation_grant_body,
    example_body,
    example_claim_body,
    example_details,
    example_digest,
    example_key,
    example_party_register_body,
    example_statement,
    example_test_record_body,
    example_verdict_body,
)

Json = dict[str, Any]
H1 = example_digest("one")
H2 = example_digest("two")

OPTIONAL: dict[Kind, set[str]] = {
    Kind.GENESIS: set(),
    Kind.PARTY_REGISTER: {"website"},
    Kind.KEY_ADD: set(),
    Kind.KEY_REVOKE: set(),
    Kind.ACCREDITATION_GRANT: {"validUntil"},
    Kind.ACCREDITATION_SUSPEND: set(),
    Kind.PARTY_RETIRE: set(),
    Kind.LOG_KEY_ROTATE: set(),
    Kind.REFERENCE_PUBLISH: set(),
    Kind.DUMP_PUBLISH: set(),
    Kind.CLAIM_PUBLISH: {
        "excludedSurfaces",
        "effectiveUntil",
        "metrics",
        "evidence",
        "frameworkRefs",
    },
    Kind.CLAIM_SUPERSEDE: {"excludedSurfaces", "effectiveUntil", "metrics", "evidence"}
    | {"frameworkRefs"},
    Kind.CLAIM_WITHDRAW: set(),
    Kind.TEST_RECORD: set(),
    Kind.VERDICT_ISSUE: {"comments", "recommendations"},
    Kind.PROVIDER_REPLY: {"evidence"},
    Kind.ENGAGEMENT_OPEN: set(),
    Kind.ENGAGEMENT_CLOSE: set(),
    Kind.ENGAGEMENT_WITHDRAW: set(),
}

NESTED_OBJECTS: dict[Kind, list[str]] = {
    Kind.CLAIM_PUBLISH: [
        "/body/details",
        "/body/excludedSurfaces/0",
        "/body/metrics/0",
        "/body/metrics/1/period",
        "/body/evidence/0",
        "/body/evidence/0/digest",
    ],
    Kind.TEST_RECORD: [
        "/body/protocol",
        "/body/protocol/digest",
        "/body/environment",
        "/body/window",
        "/body/trials/0",
        "/body/trials/0/evidence/0",
    ],
    Kind.VERDICT_ISSUE: ["/body/scopeTested"],
    Kind.PROVIDER_REPLY: ["/body/evidence/0", "/body/evidence/0/digest"],
}


# --------------------------------------------------------------------------------------------
# helpers


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _parent(doc: Any, pointer: str) -> tuple[Any, str | int]:
    tokens = _tokens(pointer)
    node = doc
    for t in tokens[:-1]:
        node = node[int(t)] if isinstance(node, list) else node[t]
    last = tokens[-1]
    return node, (int(last) if isinstance(node, list) else last)


def set_at(doc: Json, pointer: str, value: Any) -> Json:
    """A deep copy of ``doc`` with the value at ``pointer`` replaced (or added)."""
    out = copy.deepcopy(doc)
    node, key = _parent(out, pointer)
    if isinstance(node, list) and key == len(node):
        node.append(value)
    else:
        node[key] = value
    return out


def del_at(doc: Json, pointer: str) -> Json:
    """A deep copy of ``doc`` without the member at ``pointer``."""
    out = copy.deepcopy(doc)
    node, key = _parent(out, pointer)
    del node[key]
    return out


def problems_of(doc: Any) -> list[tuple[str, str]]:
    """Every (pointer, message) ``parse_statement`` reports; fails if it accepts ``doc``."""
    with pytest.raises(SchemaError) as info:
        parse_statement(doc)
    return [(p.pointer, p.message) for p in info.value.problems]


def pointers_of(doc: Any) -> list[str]:
    """The pointers of every problem in ``doc``."""
    return [p for p, _ in problems_of(doc)]


def leaves(value: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    """Every (pointer, scalar) in a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{pointer}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{pointer}/{i}")
    else:
        yield pointer, value


def assert_plain_json(value: Any) -> None:
    """``value`` is made only of exact dict, list, str, int, bool, None (no enums, no tuples)."""
    assert type(value) in (dict, list, str, int, bool, type(None)), type(value)
    if isinstance(value, dict):
        for k, v in value.items():
            assert type(k) is str
            assert_plain_json(v)
    elif isinstance(value, list):
        for v in value:
            assert_plain_json(v)


def round_trips(doc: Json) -> Statement:
    """Parse ``doc``, check the round trip and return the statement."""
    statement = parse_statement(doc)
    again = statement.to_dict()
    assert again == doc
    assert_plain_json(again)
    return statement


# --------------------------------------------------------------------------------------------
# valid examples and round trips


@pytest.mark.parametrize("kind", list(Kind))
def test_valid_example_round_trips(kind: Kind) -> None:
    statement = round_trips(example_statement(kind))
    assert statement.kind is kind
    assert statement.v == STATEMENT_VERSION
    assert statement.signed_at_ms == parse_timestamp(statement.signed_at)
    assert (statement.stream == REGISTRY_STREAM) == (kind in REGISTRY_KINDS)


@pytest.mark.parametrize("measure", list(MEASURES))
def test_every_measure_has_a_valid_example(measure: str) -> None:
    statement = round_trips(example_statement(Kind.CLAIM_PUBLISH, example_claim_body(measure)))
    assert isinstance(statement.body, Claim)
    assert statement.body.measure == measure
    assert statement.body.details.to_dict() == example_details(measure)


@pytest.mark.parametrize("result", ["PASSED", "WARNED", "FAILED", "NOT_RUN"])
def test_test_record_results(result: str) -> None:
    body = example_test_record_body(H1, result=result)
    statement = round_trips(example_statement(Kind.TEST_RECORD, body))
    assert isinstance(statement.body, TestRecord)
    assert statement.body.window.end_ms > statement.body.window.start_ms


@pytest.mark.parametrize("result", list(VerdictResult))
def test_verdict_results(result: VerdictResult) -> None:
    body = example_verdict_body(H1, [H2], result=result.value)
    statement = round_trips(example_statement(Kind.VERDICT_ISSUE, body))
    assert isinstance(statement.body, Verdict)
    assert statement.body.result is result
    assert statement.body.valid_until_ms > statement.signed_at_ms


@pytest.mark.parametrize(
    "population",
    [
        "all_users",
        "under_18",
        {"ageBand": {"min": 13, "max": 17}},
        {"ageBand": {"min": 0, "max": 0}},
    ],
)
def test_population_forms(population: Any) -> None:
    doc = set_at(example_statement(Kind.CLAIM_PUBLISH), "/body/population", population)
    round_trips(doc)


def test_minimal_claim_without_optional_members() -> None:
    doc = example_statement(Kind.CLAIM_PUBLISH)
    for member in OPTIONAL[Kind.CLAIM_PUBLISH] & set(doc["body"]):
        doc = del_at(doc, f"/body/{member}")
    claim = round_trips(doc).body
    assert isinstance(claim, Claim)
    assert claim.metrics == ()
    assert claim.evidence == ()
    assert claim.effective_until is None


def test_vocabulary_lists_the_seventeen_domain_measures() -> None:
    assert VOCABULARY_VERSION == "2026-11"
    assert len(MEASURES) == 17
    for name, spec in MEASURES.items():
        assert spec.type == name
        assert spec.title
        assert spec.title[0].isupper()
        assert spec.fields
        assert all(f.doc for f in spec.fields)


def test_public_api_is_sorted_and_exists() -> None:
    for module in (statements_mod, measures_mod):
        names = module.__all__
        # ruff's RUF022 order: CONSTANTS, then Classes, then functions
        assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
        for name in names:
            assert hasattr(module, name), name


# --------------------------------------------------------------------------------------------
# unknown fields


@pytest.mark.parametrize("kind", list(Kind))
def test_unknown_field_at_top_level(kind: Kind) -> None:
    doc = set_at(example_statement(kind), "/colour", "red")
    assert problems_of(doc) == [("/colour", "unknown field 'colour' in the statement")]


@pytest.mark.parametrize("kind", list(Kind))
def test_unknown_field_in_body(kind: Kind) -> None:
    doc = set_at(example_statement(kind), "/body/colour", "red")
    assert problems_of(doc) == [("/body/colour", "unknown field 'colour' in /body")]


@pytest.mark.parametrize(
    ("kind", "where"),
    [(k, w) for k, ws in NESTED_OBJECTS.items() for w in ws],
)
def test_unknown_field_nested(kind: Kind, where: str) -> None:
    doc = set_at(example_statement(kind), f"{where}/colour", 1)
    assert problems_of(doc) == [(f"{where}/colour", f"unknown field 'colour' in {where}")]


def test_unknown_field_name_is_escaped_in_the_pointer() -> None:
    doc = set_at(example_statement(Kind.KEY_ADD), "/body/a~1b~0c", 1)
    assert pointers_of(doc) == ["/body/a~1b~0c"]
    assert "'a/b~c'" in problems_of(doc)[0][1]


def test_unknown_population_member() -> None:
    doc = set_at(
        example_statement(Kind.CLAIM_PUBLISH),
        "/body/population",
        {"ageBand": {"min": 1, "max": 2}, "gender": "any"},
    )
    assert pointers_of(doc) == ["/body/population/gender"]


# --------------------------------------------------------------------------------------------
# missing and optional members


@pytest.mark.parametrize("member", ["v", "kind", "stream", "prev", "signer", "signedAt", "body"])
def test_missing_envelope_member(member: str) -> None:
    doc = del_at(example_statement(Kind.CLAIM_PUBLISH), f"/{member}")
    assert (f"/{member}", f"missing required field '{member}' in the statement") in problems_of(doc)


@pytest.mark.parametrize(
    ("kind", "member"), [(k, m) for k in Kind for m in example_statement(k)["body"]]
)
def test_each_body_member_is_required_or_optional(kind: Kind, member: str) -> None:
    doc = del_at(example_statement(kind), f"/body/{member}")
    if member in OPTIONAL[kind]:
        round_trips(doc)
    else:
        assert problems_of(doc) == [
            (f"/body/{member}", f"missing required field '{member}' in /body")
        ]


@pytest.mark.parametrize("measure", list(MEASURES))
def test_each_detail_member_is_required_or_optional(measure: str) -> None:
    spec = MEASURES[measure]
    for field in spec.fields:
        doc = example_statement(Kind.CLAIM_PUBLISH, example_claim_body(measure))
        if field.name not in doc["body"]["details"]:
            continue
        doc = del_at(doc, f"/body/details/{field.name}")
        if field.required:
            assert pointers_of(doc) == [f"/body/details/{field.name}"]
        elif field.name == "falsePositiveMethod":
            assert pointers_of(doc) == ["/body/details/falsePositiveMethod"]
        else:
            round_trips(doc)


@pytest.mark.parametrize("member", ["website", "validUntil"])
def test_optional_member_may_not_be_null(member: str) -> None:
    kind = Kind.PARTY_REGISTER if member == "website" else Kind.ACCREDITATION_GRANT
    doc = set_at(example_statement(kind), f"/body/{member}", None)
    assert problems_of(doc) == [(f"/body/{member}", f"{member} must be a string, got null")]


@pytest.mark.parametrize("member", ["metrics", "evidence", "frameworkRefs", "excludedSurfaces"])
def test_present_optional_arrays_are_non_empty(member: str) -> None:
    doc = set_at(example_statement(Kind.CLAIM_PUBLISH), f"/body/{member}", [])
    assert pointers_of(doc) == [f"/body/{member}"]


# --------------------------------------------------------------------------------------------
# wrong types


def _leaf_cases() -> list[tuple[Kind, str, Any]]:
    cases: list[tuple[Kind, str, Any]] = []
    for kind in Kind:
        for pointer, value in leaves(example_statement(kind)):
            cases.append((kind, pointer, None))
            if isinstance(value, str) and not pointer.endswith("/value"):
                cases.append((kind, pointer, 5))
                cases.append((kind, pointer, ["x"]))
            if isinstance(value, bool):
                cases.append((kind, pointer, "true"))
            elif isinstance(value, int):
                cases.append((kind, pointer, True))
                if not pointer.endswith("/value"):
                    cases.append((kind, pointer, str(value)))
    return cases


@pytest.mark.parametrize(("kind", "pointer", "bad"), _leaf_cases())
def test_wrong_type_at_every_leaf_is_reported_there(kind: Kind, pointer: str, bad: Any) -> None:
    problems = problems_of(set_at(example_statement(kind), pointer, bad))
    assert pointer in [p for p, _ in problems]


@pytest.mark.parametrize(
    ("pointer", "bad", "message"),
    [
        ("/v", True, "v must be an integer, got boolean"),
        ("/v", "1", "v must be an integer, got string"),
        ("/signer", None, "signer must be a string, got null"),
        ("/body/party", 7, "party must be a string, got integer"),
        ("/body/keys", "AAAA", "keys must be an array, got string"),
        ("/body/keys/0", None, "keys[0] must be a string, got null"),
        ("/body", [], "body must be an object, got array"),
    ],
)
def test_wrong_type_messages(pointer: str, bad: Any, message: str) -> None:
    doc = set_at(example_statement(Kind.PARTY_REGISTER), pointer, bad)
    assert problems_of(doc) == [(pointer, message)]


@pytest.mark.parametrize(
    ("pointer", "bad"),
    [
        ("/body/details/preservationDays", True),
        ("/body/details/preservationDays", "365"),
        ("/body/details/targetMedianHours", 24),
        ("/body/details/recipients", "NCMEC"),
        ("/body/metrics/0/value", True),
        ("/body/metrics/0/value", "1e3"),
        ("/body/metrics/0/value", "01"),
        ("/body/metrics/0/value", "1."),
        ("/body/metrics/0/value", None),
        ("/body/population/ageBand/min", True),
    ],
)
def test_wrong_types_in_report_authority_claim(pointer: str, bad: Any) -> None:
    body = example_claim_body("report.authority")
    body["population"] = {"ageBand": {"min": 13, "max": 17}}
    doc = set_at(example_statement(Kind.CLAIM_PUBLISH, body), pointer, bad)
    assert pointers_of(doc) == [pointer]


def test_statement_must_be_an_object() -> None:
    assert problems_of([]) == [("", "the statement must be an object, got array")]


def test_floats_are_refused_even_if_present() -> None:
    doc = set_at(example_statement(Kind.CLAIM_PUBLISH), "/body/metrics/0/value", 1.5)
    assert problems_of(doc) == [
        ("/body/metrics/0/value", "value must be an integer or a decimal string, got float")
    ]


# --------------------------------------------------------------------------------------------
# measures and enums


def test_unknown_measure_in_claim() -> None:
    doc = set_at(example_statement(Kind.CLAIM_PUBLISH), "/body/measure", "detect.magic")
    [(pointer, message)] = problems_of(doc)
    assert pointer == "/body/measure"
    assert message.startswith("measure 'detect.magic' is not a known measure type")
    assert "known: policy.csea_definition, detect.hash_known_image" in message
    assert VOCABULARY_VERSION in message


def test_unknown_measure_in_accreditation() -> None:
    body = example_accreditation_grant_body(measures=["report.authority", "detect.magic"])
    [(pointer, message)] = problems_of(example_statement(Kind.ACCREDITATION_GRANT, body))
    assert pointer == "/body/measures/1"
    assert "not a known measure type" in message


def test_details_are_checked_against_the_claimed_measure() -> None:
    body = example_claim_body("detect.hash_known_image")
    body["measure"] = "report.authority"
    pointers = pointers_of(example_statement(Kind.CLAIM_PUBLISH, body))
    assert sorted(pointers) == sorted(
        [
            "/body/details/recipients",
            "/body/details/technologies",
            "/body/details/hashSources",
            "/body/details/matchPoints",
        ]
    )


@pytest.mark.parametrize(
    ("kind", "pointer"),
    [
        (Kind.PARTY_REGISTER, "/body/role"),
        (Kind.CLAIM_PUBLISH, "/body/status"),
        (Kind.CLAIM_PUBLISH, "/body/surfaces/0"),
        (Kind.CLAIM_PUBLISH, "/body/excludedSurfaces/0/surface"),
        (Kind.CLAIM_PUBLISH, "/body/details/technologies/0"),
        (Kind.CLAIM_PUBLISH, "/body/details/matchPoints/1"),
        (Kind.TEST_RECORD, "/body/method"),
        (Kind.TEST_RECORD, "/body/cooperation"),
        (Kind.TEST_RECORD, "/body/result"),
        (Kind.TEST_RECORD, "/body/trials/0/outcome"),
        (Kind.TEST_RECORD, "/body/environment/surface"),
        (Kind.VERDICT_ISSUE, "/body/result"),
        (Kind.VERDICT_ISSUE, "/body/assurance"),
        (Kind.VERDICT_ISSUE, "/body/scopeMatch"),
        (Kind.VERDICT_ISSUE, "/body/scopeTested/surfaces/0"),
    ],
)
def test_bad_enum_value(kind: Kind, pointer: str) -> None:
    doc = set_at(example_statement(kind), pointer, "Bogus")
    [(where, message)] = problems_of(doc)
    assert where == pointer
    assert "'Bogus' is not one of: " in message


def test_enum_values_are_case_sensitive() -> None:
    doc = set_at(example_statement(Kind.VERDICT_ISSUE), "/body/result", "confirmed")
    assert pointers_of(doc) == ["/body/result"]


def test_unknown_kind_skips_the_body() -> None:
    doc = set_at(example_statement(Kind.CLAIM_PUBLISH), "/kind", "claim.delete")
    [(pointer, message)] = problems_of(doc)
    assert pointer == "/kind"
    assert "'claim.delete' is not one of: genesis, party.register" in message


@pytest.mark.parametrize("population", ["everyone", "UNDER_18", 18, {"ageBand": [13, 17]}, {}])
def test_bad_population(population: Any) -> None:
    doc = set_at(example_statement(Kind.CLAIM_PUBLISH), "/body/population", population)
    assert all(p.startswith("/body/population") for p in pointers_of(doc))


# --------------------------------------------------------------------------------------------
# timestamps and dates

BAD_TIMESTAMPS = [
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00+00:00",
    "2026-01-01T00:00:00.000Z",
    "2026-01-01T00:00:00.5Z",
    "2026-01-01T00:00:00z",
    "2026-01-01t00:00:00Z",
    "2026-01-01 00:00:00Z",
    "2026-01-01T00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-12-31T23:59:60Z",
    "2026-13-01T00:00:00Z",
    "2026-1-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "2026-01-01T00:00:00Z\n",
    "\u0662026-01-01T00:00:00Z",
    "2026-01-01",
    "",
]


@pytest.mark.parametrize("bad", BAD_TIMESTAMPS)
def test_bad_timestamp_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"timestamp|YYYY|instant|1970"):
        parse_timestamp(bad)
    doc = set_at(example_statement(Kind.TEST_RECORD), "/signedAt", bad)
    problems = problems_of(doc)
    assert problems[0][0] == "/signedAt"
    if bad.strip() and "\n" not in bad:
        assert problems[0][1].startswith("signedAt must be a timestamp: ")


@pytest.mark.parametrize("pointer", ["/body/window/start", "/body/window/end", "/body/validUntil"])
def test_bad_timestamp_in_body(pointer: str) -> None:
    kind = Kind.VERDICT_ISSUE if pointer == "/body/validUntil" else Kind.TEST_RECORD
    doc = set_at(example_statement(kind), pointer, "2026-02-30T00:00:00Z")
    [(where, message)] = problems_of(doc)
    assert where == pointer
    assert "not a real instant" in message


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-11-25T14:35:12Z", 1_795_617_312_000),
        ("2028-02-29T23:59:59Z", 1_835_481_599_000),
        ("9999-12-31T23:59:59Z", 253_402_300_799_000),
    ],
)
def test_timestamp_known_values(text: str, ms: int) -> None:
    assert parse_timestamp(text) == ms
    assert format_timestamp(ms) == text


def test_format_timestamp_drops_milliseconds_and_refuses_nonsense() -> None:
    assert format_timestamp(1_999) == "1970-01-01T00:00:01Z"
    for bad in (-1, 253_402_300_800_000, True):
        with pytest.raises(ValueError, match=r"milliseconds|range"):
            format_timestamp(bad)


@given(st.integers(min_value=0, max_value=253_402_300_799_999))
def test_timestamp_round_trip(ms: int) -> None:
    assert parse_timestamp(format_timestamp(ms)) == ms - ms % 1000


@pytest.mark.parametrize(
    ("pointer", "bad"),
    [
        ("/body/effectiveFrom", "2026-02-29"),
        ("/body/effectiveFrom", "2026-2-01"),
        ("/body/effectiveFrom", "20260201"),
        ("/body/effectiveFrom", "2026-02-01T00:00:00Z"),
        ("/body/metrics/0/period/end", "2026-06-31"),
    ],
)
def test_bad_dates(pointer: str, bad: str) -> None:
    doc = set_at(example_statement(Kind.CLAIM_PUBLISH), pointer, bad)
    assert pointer in pointers_of(doc)


# --------------------------------------------------------------------------------------------
# order of dates and times


def test_effective_until_before_effective_from() -> None:
    doc = set_at(example_statement(Kind.CLAIM_PUBLISH), "/body/effectiveUntil", "2024-12-31")
    assert problems_of(doc) == [
        ("/body/effectiveUntil", "effectiveUntil 2024-12-31 is before effectiveFrom 2025-01-01")
    ]
    same_day = set_at(doc, "/body/effectiveUntil", "2025-01-01")
    round_trips(same_day)


def test_window_end_before_start() -> None:
    doc = set_at(example_statement(Kind.TEST_RECORD), "/body/window/end", "2026-11-02T08:59:59Z")
    assert problems_of(doc) == [
        ("/body/window/end", "end 2026-11-02T08:59:59Z is before start 2026-11-02T09:00:00Z")
    ]


def test_metric_period_end_before_start() -> None:
    doc = set_at(example_statement(Kind.CLAIM_PUBLISH), "/body/metrics/1/period/end", "2025-12-31")
    assert pointers_of(doc) == ["/body/metrics/1/period/end"]


def test_age_band_max_below_min() -> None:
    doc = set_at(
        example_statement(Kind.CLAIM_PUBLISH),
        "/body/population",
        {"ageBand": {"min": 16, "max": 13}},
    )
    assert problems_of(doc) == [("/body/population/ageBand/max", "max 13 is less than min 16")]


def test_test_window_may_not_end_after_signing() -> None:
    doc = set_at(example_statement(Kind.TEST_RECORD), "/body/window/end", "2026-11-21T00:00:00Z")
    assert pointers_of(doc) == ["/body/window/end"]


@pytest.mark.parametrize("kind", [Kind.VERDICT_ISSUE, Kind.ACCREDITATION_GRANT])
def test_valid_until_must_follow_signing(kind: Kind) -> None:
    doc = example_statement(kind)
    doc = set_at(doc, "/body/validUntil", doc["signedAt"])
    assert pointers_of(doc) == ["/body/validUntil"]


# --------------------------------------------------------------------------------------------
# duplicates and list sizes


@pytest.mark.parametrize(
    ("kind", "pointer"),
    [
        (Kind.PARTY_REGISTER, "/body/keys"),
        (Kind.ACCREDITATION_GRANT, "/body/measures"),
        (Kind.CLAIM_PUBLISH, "/body/services"),
        (Kind.CLAIM_PUBLISH, "/body/surfaces"),
        (Kind.CLAIM_PUBLISH, "/body/jurisdictions"),
        (Kind.CLAIM_PUBLISH, "/body/frameworkRefs"),
        (Kind.CLAIM_PUBLISH, "/body/evidence"),
        (Kind.CLAIM_PUBLISH, "/body/details/hashSources"),
        (Kind.VERDICT_ISSUE, "/body/tests"),
        (Kind.VERDICT_ISSUE, "/body/scopeTested/surfaces"),
        (Kind.TEST_RECORD, "/body/trials/0/evidence"),
    ],
)
def test_duplicate_list_entries_are_refused(kind: Kind, pointer: str) -> None:
    doc = example_statement(kind)
    node, key = _parent(doc, pointer)
    items = node[key]
    doc = set_at(doc, pointer, [*items, copy.deepcopy(items[0])])
    n = len(items)
    assert problems_of(doc) == [
        (
            f"{pointer}/{n}",
            f"{pointer.rsplit('/', 1)[1]}[{n}] repeats {pointer.rsplit('/', 1)[1]}[0]",
        )
    ]


def test_duplicate_trial_names_and_excluded_surfaces() -> None:
    doc = example_statement(Kind.TEST_RECORD)
    doc = set_at(doc, "/body/trials/1/name", doc["body"]["trials"][0]["name"])
    assert pointers_of(doc) == ["/body/trials/1/name"]
    claim = example_statement(Kind.CLAIM_PUBLISH)
    claim = set_at(claim, "/body/excludedSurfaces/1", {"surface": "dm_e2ee", "reason": "Again."})
    assert pointers_of(claim) == ["/body/excludedSurfaces/1/surface"]


@pytest.mark.parametrize(
    ("kind", "pointer"),
    [
        (Kind.PARTY_REGISTER, "/body/keys"),
        (Kind.ACCREDITATION_GRANT, "/body/measures"),
        (Kind.CLAIM_PUBLISH, "/body/services"),
        (Kind.CLAIM_PUBLISH, "/body/surfaces"),
        (Kind.CLAIM_PUBLISH, "/body/jurisdictions"),
        (Kind.CLAIM_PUBLISH, "/body/details/technologies"),
        (Kind.VERDICT_ISSUE, "/body/tests"),
        (Kind.VERDICT_ISSUE, "/body/scopeTested/jurisdictions"),
        (Kind.TEST_RECORD, "/body/trials"),
    ],
)
def test_required_lists_must_not_be_empty(kind: Kind, pointer: str) -> None:
    doc = set_at(example_statement(kind), pointer, [])
    [(where, message)] = problems_of(doc)
    assert where == pointer
    assert "at least 1 item" in message


def test_empty_lists_that_are_allowed() -> None:
    round_trips(set_at(example_statement(Kind.TEST_RECORD), "/body/limitations", []))
    not_run = example_statement(Kind.TEST_RECORD, example_test_record_body(H1, result="NOT_RUN"))
    assert not_run["body"]["trials"] == []
    round_trips(not_run)


def test_at_most_eight_keys() -> None:
    body = example_party_register_body(keys=range(10, 19))
    [(pointer, message)] = problems_of(example_statement(Kind.PARTY_REGISTER, body))
    assert pointer == "/body/keys"
    assert "at most 8" in message
    round_trips(example_statement(Kind.PARTY_REGISTER, example_party_register_body(keys=range(8))))


# --------------------------------------------------------------------------------------------
# envelope


@pytest.mark.parametrize(
    ("pointer", "bad"),
    [
        ("/v", 2),
        ("/v", 0),
        ("/prev", "A" * 64),
        ("/prev", "a" * 63),
        ("/signer", "registry"),
        ("/signer", "Acme"),
        ("/signer", "acme-"),
        ("/signer", "a"),
        ("/signer", "-acme"),
        ("/stream", "Acme Social"),
        ("/stream", "registry-"),
    ],
)
def test_bad_envelope_values(pointer: str, bad: Any) -> None:
    doc = set_at(example_statement(Kind.CLAIM_PUBLISH), pointer, bad)
    assert pointers_of(doc) == [pointer]


@pytest.mark.parametrize("kind", list(Kind))
def test_registry_kinds_go_to_registry_and_others_do_not(kind: Kind) -> None:
    stream = PROVIDER if kind in REGISTRY_KINDS else REGISTRY_STREAM
    [(pointer, message)] = problems_of(example_statement(kind, stream=stream))
    assert pointer == "/stream"
    assert kind.value in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("acme-social", True),
        ("ab", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("a", False),
        ("registry", False),
        ("acme-", False),
        ("1acme", False),
        ("acme_social", False),
        ("acme\n", False),
        ("Acme", False),
        (5, False),
        (None, False),
    ],
)
def test_is_party_id(value: object, expected: bool) -> None:
    assert is_party_id(value) is expected


def test_supersede_requires_supersedes_and_publish_forbids_it() -> None:
    publish = example_statement(Kind.CLAIM_PUBLISH, example_claim_body(supersedes=H1))
    [(pointer, message)] = problems_of(publish)
    assert pointer == "/body/supersedes"
    assert "claim.supersede" in message
    supersede = example_statement(Kind.CLAIM_SUPERSEDE, example_claim_body())
    assert problems_of(supersede) == [
        ("/body/supersedes", "missing required field 'supersedes' in /body")
    ]
    bad = example_statement(Kind.CLAIM_SUPERSEDE, example_claim_body(supersedes="xyz"))
    assert pointers_of(bad) == ["/body/supersedes"]


# --------------------------------------------------------------------------------------------
# strings, URIs, keys


@pytest.mark.parametrize(
    ("pointer", "bad", "fragment"),
    [
        ("/body/name", "", "must not be empty"),
        ("/body/name", "   ", "must not be empty"),
        ("/body/name", " Acme", "leading or trailing whitespace"),
        ("/body/name", "Acme\nSocial", "control character"),
        ("/body/name", "x" * 201, "the limit is 200"),
        ("/body/jurisdiction", "us", "alpha-2"),
        ("/body/jurisdiction", "USA", "alpha-2"),
        ("/body/jurisdiction", "GLOBAL", "alpha-2"),
        ("/body/website", "ftp://acme.example", "https://"),
        ("/body/website", "acme.example", "https://"),
        ("/body/website", "https://", "host"),
        ("/body/website", "https://user@acme.example", "user info"),
        ("/body/website", "https://acme.example/a b", "without spaces"),
        ("/body/website", "https:acme.example", "https://"),
        ("/body/keys/0", "AAAA", "44 characters"),
        ("/body/keys/0", "A" * 43 + "B", "44 characters"),
        ("/body/keys/0", "A" * 42 + "B=", "non-zero trailing bits"),
        ("/body/keys/0", "A" * 42 + "-=", "44 characters"),
    ],
)
def test_bad_strings(pointer: str, bad: str, fragment: str) -> None:
    doc = set_at(example_statement(Kind.PARTY_REGISTER), pointer, bad)
    [(where, message)] = problems_of(doc)
    assert where == pointer
    assert fragment in message


def test_free_text_allows_newlines_but_not_other_controls() -> None:
    doc = example_statement(Kind.CLAIM_WITHDRAW)
    round_trips(set_at(doc, "/body/reason", "First line.\nSecond line.\tTabbed."))
    assert pointers_of(set_at(doc, "/body/reason", "bell\x07")) == ["/body/reason"]
    assert pointers_of(set_at(doc, "/body/reason", "x" * 4001)) == ["/body/reason"]
    round_trips(set_at(doc, "/body/reason", "é" * 4000))


def test_http_uri_is_accepted() -> None:
    doc = set_at(example_statement(Kind.PARTY_REGISTER), "/body/website", "http://acme.example/")
    round_trips(doc)


@pytest.mark.parametrize(
    ("ref", "ok"),
    [
        ("OFCOM:ICU-C9", True),
        ("DSA-SoR:KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL", True),
        ("TRUST:2.1.3", True),
        ("ofcom:ICU-C9", False),
        ("OFCOM:", False),
        ("OFCOM ICU-C9", False),
        ("OFCOM:ICU C9", False),
    ],
)
def test_framework_refs(ref: str, ok: bool) -> None:
    doc = set_at(example_statement(Kind.CLAIM_PUBLISH), "/body/frameworkRefs", [ref])
    if ok:
        round_trips(doc)
    else:
        assert pointers_of(doc) == ["/body/frameworkRefs/0"]


def test_global_is_not_combined_with_country_codes() -> None:
    doc = set_at(example_statement(Kind.CLAIM_PUBLISH), "/body/jurisdictions", ["GLOBAL", "GB"])
    assert pointers_of(doc) == ["/body/jurisdictions"]
    round_trips(set_at(doc, "/body/jurisdictions", ["GB", "IE", "AU"]))


def test_genesis_keys_must_differ_and_origin_is_printable() -> None:
    doc = example_statement(Kind.GENESIS)
    same = set_at(doc, "/body/logKey", doc["body"]["authorityKey"])
    assert pointers_of(same) == ["/body/logKey"]
    assert pointers_of(set_at(doc, "/body/origin", "claimledger example")) == ["/body/origin"]
    assert pointers_of(set_at(doc, "/body/origin", "x" * 101)) == ["/body/origin"]


# --------------------------------------------------------------------------------------------
# kind-specific consistency rules


def test_excluded_surface_cannot_also_be_claimed() -> None:
    doc = set_at(
        example_statement(Kind.CLAIM_PUBLISH), "/body/excludedSurfaces/0/surface", "profiles"
    )
    [(pointer, message)] = problems_of(doc)
    assert pointer == "/body/excludedSurfaces/0/surface"
    assert "both claimed and excluded" in message


def test_test_result_must_fit_its_trials() -> None:
    passed = example_statement(Kind.TEST_RECORD)
    failed_trial = set_at(passed, "/body/trials/1/outcome", "fail")
    assert problems_of(failed_trial) == [("/body/result", "result is PASSED but a trial failed")]
    failed = set_at(passed, "/body/result", "FAILED")
    assert problems_of(failed) == [("/body/result", "result is FAILED but no trial failed")]
    no_trials = set_at(passed, "/body/trials", [])
    assert problems_of(no_trials) == [
        ("/body/trials", "trials must have at least 1 item when result is PASSED")
    ]


def test_verdict_result_must_fit_scope_and_comments() -> None:
    confirmed = example_statement(Kind.VERDICT_ISSUE)
    partial = set_at(confirmed, "/body/scopeMatch", "partial")
    assert pointers_of(partial) == ["/body/scopeMatch"]
    with_comments = example_statement(
        Kind.VERDICT_ISSUE, example_verdict_body(H1, [H2], result="CONFIRMED_WITH_COMMENTS")
    )
    assert pointers_of(del_at(with_comments, "/body/comments")) == ["/body/comments"]


def test_report_authority_p90_not_below_median() -> None:
    doc = example_statement(Kind.CLAIM_PUBLISH, example_claim_body("report.authority"))
    doc = set_at(doc, "/body/details/targetP90Hours", "23.5")
    assert problems_of(doc) == [
        ("/body/details/targetP90Hours", "targetP90Hours 23.5 is less than targetMedianHours 24")
    ]
    round_trips(set_at(doc, "/body/details/targetP90Hours", "24.0"))
    negative = set_at(doc, "/body/details/targetMedianHours", "-1")
    assert "/body/details/targetMedianHours" in pointers_of(negative)


def test_unknown_detail_field_is_refused() -> None:
    doc = example_statement(Kind.CLAIM_PUBLISH, example_claim_body("report.authority"))
    doc = set_at(doc, "/body/details/targetHours", "24")
    assert problems_of(doc) == [
        ("/body/details/targetHours", "unknown field 'targetHours' in /body/details")
    ]


# --------------------------------------------------------------------------------------------
# many problems at once


def test_multiple_problems_are_reported_together() -> None:
    doc = example_statement(Kind.CLAIM_PUBLISH)
    doc["v"] = 2
    doc["signedAt"] = "2026-02-30T00:00:00Z"
    doc["extra"] = True
    body = doc["body"]
    body["colour"] = "red"
    body["measure"] = "detect.hash_known_image"
    body["details"]["technologies"] = ["PhotoDNA", "Magic"]
    body["surfaces"].append("public_posts")
    body["metrics"][0]["value"] = None
    body["metrics"][1]["period"]["end"] = "2025-01-01"
    body["effectiveUntil"] = "2024-01-01"
    body["population"] = {"ageBand": {"min": 17, "max": 13}}
    with pytest.raises(SchemaError) as info:
        parse_statement(doc)
    pointers = {p.pointer for p in info.value.problems}
    assert pointers == {
        "/v",
        "/signedAt",
        "/extra",
        "/body/colour",
        "/body/details/technologies/1",
        "/body/surfaces/4",
        "/body/metrics/0/value",
        "/body/metrics/1/period/end",
        "/body/effectiveUntil",
        "/body/population/ageBand/max",
    }
    error = info.value
    assert isinstance(error, VerificationError)
    assert error.field == error.problems[0].pointer
    # every problem is in the message, each after its pointer; the location names no field
    assert str(error).startswith("10 problems: /")
    for p in error.problems:
        assert f"{p.pointer}: {p.message}" in str(error)
    assert "(field" not in str(error)


# --------------------------------------------------------------------------------------------
# models built directly check the same schema


def test_models_check_invariants_when_built() -> None:
    claim = parse_statement(example_statement(Kind.CLAIM_PUBLISH)).body
    assert isinstance(claim, Claim)
    with pytest.raises(SchemaError) as info:
        dataclasses.replace(claim, effective_until="2020-01-01")
    assert info.value.problems[0].pointer == "/effectiveUntil"
    with pytest.raises(SchemaError):
        dataclasses.replace(claim, surfaces=())
    with pytest.raises(SchemaError):
        dataclasses.replace(claim, status="deployed")  # type: ignore[arg-type]
    with pytest.raises(SchemaError):
        Digest("xyz")
    with pytest.raises(SchemaError):
        Window("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z")
    with pytest.raises(SchemaError):
        Population(PopulationKind.AGE_BAND)
    with pytest.raises(SchemaError):
        Population(PopulationKind.ALL_USERS, AgeBand(1, 2))
    with pytest.raises(SchemaError):
        Population(PopulationKind.AGE_BAND, AgeBand(9, 3))
    assert Population(PopulationKind.AGE_BAND, AgeBand(3, 9)).to_json() == {
        "ageBand": {"min": 3, "max": 9}
    }


def test_statement_built_directly_checks_kind_against_body() -> None:
    statement = parse_statement(example_statement(Kind.CLAIM_PUBLISH))
    with pytest.raises(SchemaError) as info:
        dataclasses.replace(statement, kind=Kind.CLAIM_WITHDRAW)
    assert "/body/claim" in {p.pointer for p in info.value.problems}
    same = dataclasses.replace(statement)
    assert same == statement
    assert hash(same) == hash(statement)


def test_from_dict_of_a_body_model() -> None:
    body = example_claim_body()
    claim = Claim.from_dict(body)
    assert claim.to_dict() == body
    assert claim.status is ClaimStatus.DEPLOYED
    assert Surface.DM_E2EE in {x.surface for x in claim.excluded_surfaces}
    with pytest.raises(SchemaError) as info:
        Claim.from_dict({**body, "colour": 1})
    assert [p.pointer for p in info.value.problems] == ["/colour"]


# --------------------------------------------------------------------------------------------
# property tests

_HEX = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
_PARTY = st.from_regex(re.compile(r"[a-z][a-z0-9-]{0,20}[a-z0-9]"), fullmatch=True).filter(
    lambda p: p != REGISTRY_STREAM
)
_TIME_MS = st.integers(min_value=0, max_value=4_000_000_000_000)
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=30,
)
_SURFACES = st.lists(
    st.sampled_from([s.value for s in Surface]), min_size=1, max_size=5, unique=True
)
_COUNTRIES = st.lists(
    st.from_regex(r"[A-Z]{2}", fullmatch=True), min_size=1, max_size=4, unique=True
)


@st.composite
def claim_bodies(draw: st.DrawFn, supersedes: bool) -> Json:
    measure = draw(st.sampled_from(list(MEASURES)))
    body = example_claim_body(measure, supersedes=draw(_HEX) if supersedes else None)
    surfaces = draw(_SURFACES)
    body["surfaces"] = surfaces
    others = [s.value for s in Surface if s.value not in surfaces]
    if draw(st.booleans()) and others:
        body["excludedSurfaces"] = [{"surface": others[0], "reason": draw(_TEXT)}]
    else:
        del body["excludedSurfaces"]
    body["services"] = draw(st.lists(_TEXT, min_size=1, max_size=3, unique=True))
    body["jurisdictions"] = draw(st.one_of(st.just(["GLOBAL"]), _COUNTRIES))
    low = draw(st.integers(0, 120))
    body["population"] = draw(
        st.sampled_from(["all_users", "under_18", {"ageBand": {"min": low, "max": 120}}])
    )
    body["status"] = draw(st.sampled_from([s.value for s in ClaimStatus]))
    for member in ("metrics", "evidence", "frameworkRefs"):
        if draw(st.booleans()):
            del body[member]
    if "metrics" in body:
        body["metrics"][0]["value"] = draw(
            st.one_of(
                st.integers(-(2**53) + 1, 2**53 - 1),
                st.from_regex(r"-?(0|[1-9][0-9]{0,5})(\.[0-9]{1,4})?", fullmatch=True),
            )
        )
    return body


@st.composite
def statements(draw: st.DrawFn) -> Json:
    kind = draw(st.sampled_from(list(Kind)))
    signed_ms = draw(_TIME_MS)
    signed_at = format_timestamp(signed_ms)
    later = format_timestamp(signed_ms + draw(st.integers(1000, 10**11)))
    body = example_body(kind)
    if kind in (Kind.CLAIM_PUBLISH, Kind.CLAIM_SUPERSEDE):
        body = draw(claim_bodies(kind is Kind.CLAIM_SUPERSEDE))
    elif kind is Kind.PARTY_REGISTER:
        body["party"] = draw(_PARTY)
        body["keys"] = [
            example_key(n) for n in draw(st.sets(st.integers(0, 50), min_size=1, max_size=8))
        ]
    elif kind is Kind.ACCREDITATION_GRANT:
        body["measures"] = draw(st.lists(st.sampled_from(list(MEASURES)), min_size=1, unique=True))
        body["validUntil"] = later
    elif kind is Kind.TEST_RECORD:
        body = example_test_record_body(
            draw(_HEX), result=draw(st.sampled_from(["PASSED", "WARNED", "FAILED", "NOT_RUN"]))
        )
        start = format_timestamp(draw(st.integers(0, signed_ms)))
        body["window"] = {"start": start, "end": signed_at}
    elif kind is Kind.VERDICT_ISSUE:
        body = example_verdict_body(
            draw(_HEX),
            draw(st.lists(_HEX, min_size=1, max_size=4, unique=True)),
            result=draw(st.sampled_from([r.value for r in VerdictResult])),
        )
        body["validUntil"] = later
    elif kind is Kind.CLAIM_WITHDRAW:
        body["claim"] = draw(_HEX)
        body["reason"] = draw(_TEXT)
    stream = REGISTRY_STREAM if kind in REGISTRY_KINDS else draw(_PARTY)
    return example_statement(
        kind, body, stream=stream, signer=draw(_PARTY), prev=draw(_HEX), signed_at=signed_at
    )


@settings(max_examples=300, deadline=None)
@given(statements())
def test_generated_valid_statements_round_trip(doc: Json) -> None:
    statement = round_trips(doc)
    assert dataclasses.replace(statement) == statement


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(Kind)), st.data())
def test_junk_anywhere_raises_only_schema_error(kind: Kind, data: st.DataObject) -> None:
    doc = example_statement(kind)
    pointers = [p for p, _ in leaves(doc)]
    pointer = data.draw(st.sampled_from(pointers))
    junk = data.draw(_JSON)
    mutated = set_at(doc, pointer, junk)
    problems: tuple[FieldProblem, ...] = ()
    try:
        statement = parse_statement(mutated)
    except SchemaError as exc:
        problems = exc.problems
    else:
        assert statement.to_dict() == mutated
        return
    assert problems
    assert all(p.pointer == "" or p.pointer.startswith("/") for p in problems)


def test_unique_compares_items_as_json_at_every_depth() -> None:
    """SPEC §3.2: ``true`` is not ``1``, ``{"a": 1, "b": 2}`` is ``{"b": 2, "a": 1}``."""
    from attest import _schema

    def same(value: object, parent: str, token: object, ctx: _schema.Ctx) -> object:
        return value

    reader = _schema.array(same, unique=True)

    def repeats(items: list[Any]) -> list[str]:
        ctx = _schema.Ctx(build=True)
        reader(items, "", "x", ctx)
        return [p.pointer for p in ctx.problems]

    assert repeats([{"a": True}, {"a": 1}, [0], [False], None, 0, False, "1", 1]) == []
    assert repeats([{"a": 1, "b": [True]}, {"b": [True], "a": 1}]) == ["/x/1"]
    assert repeats([1, True, 1, True, "a"]) == ["/x/2", "/x/3"]


@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        ("https://acme.example", True),
        ("https://acme.example:8443/a/b?c=d#e", True),
        ("https://192.0.2.1/p", True),
        ("https://a-b.c-d.example/", True),
        ("https://" + "a" * 63 + ".example/", True),
        ("https://" + "a" * 64 + ".example/", False),
        ("https://[2001:db8::1]/", False),
        ("https://[::1/", False),
        ("https://[]/", False),
        ("https://acme.example:/", False),
        ("https://acme.example:123456/", False),
        ("https://a:b:c/", False),
        ("https://-acme.example/", False),
        ("https://acme-.example/", False),
        ("https://acme..example/", False),
        ("https://acme.example./", False),
        ("https://acme_social.example/", False),
        ("https://@acme.example/", False),
        ("HTTPS://acme.example/", False),
    ],
)
def test_uris_follow_the_spec_grammar(uri: str, ok: bool) -> None:
    doc = set_at(example_statement(Kind.PARTY_REGISTER), "/body/website", uri)
    if ok:
        round_trips(doc)
    else:
        [(where, _)] = problems_of(doc)  # a SchemaError at the URI, never another exception
        assert where == "/body/website"
