"""The public search and the paged scorecard: ``ledger/_search.py`` and ``Views.find_names``,
``Views.scorecard(by=..., after=..., limit=...)``.

Logs are built with :class:`tests.attest.logbuilder.LogBuilder` and admitted through the rules
(``views_of``), as in ``test_views.py``: one company runs several services, each claim names some.
"""

from __future__ import annotations

import pickle
import random
from typing import Any

import pytest

from attest.statements import REGISTRY_STREAM
from ledger._pickling import dumps, loads
from ledger._search import LazyNames, NameIndex, SortedKeys, fold, prefix_distance
from ledger._views import ScorecardRow, Views
from ledger.errors import CorruptionError
from tests.attest.examples import AUTHORITY, example_claim_body, example_party_register_body
from tests.attest.logbuilder import LogBuilder
from tests.ledger.test_views import MEASURES6, V, views_of

P = "acme-social"
Q = "globex-video"
IMG = "detect.hash_known_image"
VID = "detect.hash_known_video"


def register(b: LogBuilder, party: str, name: str, key_no: int) -> None:
    b.keys[party] = key_no
    body = example_party_register_body(party, "provider", keys=[key_no])
    body["name"] = name
    b.append("party.register", REGISTRY_STREAM, AUTHORITY, body)


def claim(b: LogBuilder, provider: str, measure: str, services: list[str], **extra: Any) -> str:
    from tests.attest.logbuilder import digest

    body = example_claim_body(measure)
    body["services"] = services
    body.update(extra)
    return digest(b.append("claim.publish", provider, provider, body))


@pytest.fixture(scope="module")
def story() -> tuple[LogBuilder, Views]:
    """Acme (Åcme Social Ltd) runs Acme Chat, Acme Kids and Ökobox; Globex runs Globex Video."""
    b = LogBuilder()
    b.genesis()
    register(b, P, "Åcme Social Ltd", 3)
    register(b, Q, "Globex Video Inc", 4)
    b.register(V, "verifier", 5)
    b.accredit(V, MEASURES6)
    chat = claim(b, P, IMG, ["Acme Chat", "Acme Kids"], jurisdictions=["GB"])
    t = b.test(V, P, chat)
    b.verdict(V, P, chat, [t], result="CONTRADICTED")
    claim(b, P, VID, ["Ökobox"], jurisdictions=["DE"])
    claim(b, Q, IMG, ["Globex Video"], jurisdictions=["GLOBAL"])
    video = claim(b, Q, VID, ["Globex Video"])
    b.verdict(V, Q, video, [b.test(V, Q, video)], result="CONFIRMED")
    return b, views_of(b)


def names(hits: Any) -> list[tuple[str, str]]:
    return [(h.item.kind, h.item.name) for h in hits]


def test_fold_drops_accents_case_and_punctuation() -> None:
    assert fold("  Åcme-Social,   LTD ") == "acme social ltd"
    assert fold("Ökobox") == "okobox"
    assert fold("Straße Øre Łódź") == "strasse ore lodz"
    assert fold("\uff26\uff55\uff4c\uff4c") == "full"  # fullwidth compatibility forms
    assert fold("!!!") == ""


def test_services_are_found_by_the_prefix_of_any_word_without_accents(
    story: tuple[LogBuilder, Views],
) -> None:
    _, views = story
    assert names(views.find_names("acme").hits) == [
        ("service", "Acme Chat"),
        ("service", "Acme Kids"),
        ("company", "Åcme Social Ltd"),
    ]
    assert names(views.find_names("KID").hits) == [("service", "Acme Kids")]
    assert names(views.find_names("ÖKO").hits) == [("service", "Ökobox")]
    assert names(views.find_names("okobox").hits) == [("service", "Ökobox")]
    assert names(views.find_names("video").hits) == [
        ("service", "Globex Video"),
        ("company", "Globex Video Inc"),
    ]
    assert all(h.match == "prefix" for h in views.find_names("acme").hits)
    assert views.find_names("   ").hits == ()


def test_a_typing_error_finds_the_name_by_fuzzy_match(story: tuple[LogBuilder, Views]) -> None:
    _, views = story
    found = views.find_names("glboex")  # a transposition
    assert names(found.hits) == [("service", "Globex Video"), ("company", "Globex Video Inc")]
    assert {(h.match, h.distance) for h in found.hits} == {("fuzzy", 1)}
    assert names(views.find_names("acne chat").hits)[0] == ("service", "Acme Chat")
    assert views.find_names("zzzzzz").hits == ()
    assert views.find_names("xq").hits == ()  # too short for a fuzzy match


def test_names_page_on_with_the_cursor_and_meet_every_name_once(
    story: tuple[LogBuilder, Views],
) -> None:
    _, views = story
    seen = []
    after = None
    for _ in range(10):
        page = views.find_names("a", limit=1, after=after)
        seen += names(page.hits)
        after = page.next
        if after is None:
            break
    assert after is None
    assert seen == names(views.find_names("a", limit=100).hits)
    assert len(seen) == len(set(seen)) >= 3
    with pytest.raises(ValueError, match="cursor"):
        views.find_names("a", after=("x", "", 0))
    with pytest.raises(ValueError, match="limit"):
        views.find_names("a", limit=0)


def test_a_name_first_named_after_the_cut_is_not_found(story: tuple[LogBuilder, Views]) -> None:
    _, views = story
    okobox = next(h for h in views.find_names("okobox").hits)
    assert views.find_names("okobox", size=okobox.item.first_index).hits == ()
    assert views.find_names("okobox", size=okobox.item.first_index + 1).hits


def test_each_service_has_its_own_row_of_the_scorecard(story: tuple[LogBuilder, Views]) -> None:
    b, views = story
    card = views.scorecard(at_ms=b.time_ms, by="service")
    rows = {(r.provider, r.service): r for r in card.rows}
    assert list(rows) == [
        (P, "Acme Chat"),
        (P, "Acme Kids"),
        (P, "Ökobox"),
        (Q, "Globex Video"),
    ]
    status = {k: {c.measure: c.status for c in r.cells} for k, r in rows.items()}
    assert status[(P, "Acme Chat")][IMG] == "contradicted"
    assert status[(P, "Acme Chat")][VID] == "no_claim"  # the video claim names Ökobox only
    assert status[(P, "Ökobox")][VID] == "unverified"
    assert status[(P, "Ökobox")][IMG] == "no_claim"
    # The company's row holds both.
    company = views.scorecard(at_ms=b.time_ms).cell(P, VID)
    assert company.status == "unverified"
    assert rows[(P, "Ökobox")].to_dict()["service"] == "Ökobox"
    assert "service" not in views.scorecard(at_ms=b.time_ms).rows[0].to_dict()
    assert views.services(P) == ["Acme Chat", "Acme Kids", "Ökobox"]


@pytest.mark.parametrize("by", ["company", "service"])
def test_scorecard_pages_cover_every_row_once(story: tuple[LogBuilder, Views], by: str) -> None:
    b, views = story
    whole = views.scorecard(at_ms=b.time_ms, by=by)
    rows: list[ScorecardRow] = []
    after = None
    while True:
        page = views.scorecard(at_ms=b.time_ms, by=by, limit=1, after=after)
        assert len(page.rows) <= 1
        rows += page.rows
        if page.next is None:
            break
        after = page.next
    assert rows == list(whole.rows)
    with pytest.raises(ValueError, match="limit"):
        views.scorecard(at_ms=b.time_ms, limit=0)
    with pytest.raises(ValueError, match="by"):
        views.scorecard(at_ms=b.time_ms, by="measure")


def test_scorecard_filters_by_measure_country_and_verdict(story: tuple[LogBuilder, Views]) -> None:
    b, views = story
    at = b.time_ms
    only_img = views.scorecard(at_ms=at, by="service", measure=IMG)
    assert only_img.measures == (IMG,)
    assert all(len(r.cells) == 1 for r in only_img.rows)
    de = views.scorecard(at_ms=at, by="service", country="DE")
    # Ökobox's claim covers DE; Globex's is GLOBAL; Acme Chat's (GB) does not.
    assert [(r.provider, r.service) for r in de.rows] == [(P, "Ökobox"), (Q, "Globex Video")]
    bad = views.scorecard(at_ms=at, by="service", verdict="contradicted")
    assert [(r.provider, r.service) for r in bad.rows] == [(P, "Acme Chat"), (P, "Acme Kids")]
    both = views.scorecard(at_ms=at, verdict="confirmed", measure=IMG)
    assert both.rows == ()
    chosen = views.scorecard(at_ms=at, by="service", only=[(Q, "Globex Video"), (P, "Acme Kids")])
    assert [(r.provider, r.service) for r in chosen.rows] == [(Q, "Globex Video"), (P, "Acme Kids")]
    unknown = views.scorecard(at_ms=at, by="service", only=[(P, "Nope"), ("nobody", "X")])
    assert unknown.rows == ()


def test_summary_and_jurisdictions_are_counted_as_entries_come(
    story: tuple[LogBuilder, Views],
) -> None:
    _, views = story
    s = views.summary()
    assert (s["companies"], s["services"], s["verifiers"]) == (2, 4, 1)
    assert s["claims"] == 4
    assert s["verdicts"] == 2
    assert s["entries"] == views.size
    assert views.jurisdictions() == ["DE", "GB"]


def test_the_search_state_survives_a_pickle(story: tuple[LogBuilder, Views]) -> None:
    # Another part of the ledger snapshots the views: the index is plain data.
    _, views = story
    index = views._names.index()
    copy = pickle.loads(pickle.dumps(index))  # noqa: S301 - our own bytes
    assert names(copy.prefix("acme", after=None, limit=10)[0]) == names(
        index.prefix("acme", after=None, limit=10)[0]
    )


def test_a_snapshot_s_name_index_is_read_at_the_first_search_with_the_names_added_since(
    story: tuple[LogBuilder, Views],
) -> None:
    _, views = story
    data = dumps(views._names)
    lazy = loads(data)
    assert isinstance(lazy, LazyNames)
    assert not lazy.loaded
    assert dumps(lazy) == data  # unread and unchanged: the same bytes, not pickled again
    lazy.add("service", Q, "Globex Kids", 99)  # waits for the read
    assert not lazy.loaded
    again = loads(dumps(lazy))  # a snapshot taken now reads it, and keeps the new name
    for each in (lazy, again):
        assert names(each.index().prefix("globex", after=None, limit=10)[0]) == [
            ("service", "Globex Kids"),
            ("service", "Globex Video"),
            ("company", "Globex Video Inc"),
        ]
        assert each.loaded
    assert names(views._names.index().prefix("globex", after=None, limit=10)[0]) == [
        ("service", "Globex Video"),
        ("company", "Globex Video Inc"),
    ]


@pytest.mark.parametrize("data", [b"not a pickle", dumps(SortedKeys())])
def test_a_name_index_that_does_not_read_back_is_a_corruption(data: bytes) -> None:
    with pytest.raises(CorruptionError, match="the snapshot's name index is"):
        LazyNames(data).index()


def test_settle_sorts_what_the_views_gathered(story: tuple[LogBuilder, Views]) -> None:
    _, views = story
    views.settle()
    assert views._names.index()._keys.pending == []
    assert views._service_keys.pending == []
    assert views._provider_keys.keys == [(P,), (Q,)]


def test_the_sorted_keys_merge_what_was_added_since_the_last_read() -> None:
    keys = SortedKeys()
    for k in ("m", "c", "x"):
        keys.add((k,))
    assert keys.settle() == [("c",), ("m",), ("x",)]
    keys.add(("a",))
    assert len(keys) == 4
    assert keys.settle() == [("a",), ("c",), ("m",), ("x",)]


def test_an_index_of_many_names_answers_from_a_few_posting_lists() -> None:
    index = NameIndex()
    for i in range(3000):
        index.add("service", f"p{i}", f"Service {i:05d} Chat", i)
    index.add("service", "tiktak", "TikTak Kids", 3000)
    found, more = index.prefix("service 0001", after=None, limit=5)
    assert [h.item.name for h in found] == [f"Service {i:05d} Chat" for i in range(10, 15)]
    assert more
    assert [h.item.name for h in index.fuzzy("tiktka")] == ["TikTak Kids"]
    assert [h.item.name for h in index.fuzzy("tktak kids")] == ["TikTak Kids"]
    assert not index.add("service", "tiktak", "TikTak Kids", 3001)  # once


def _osa(a: str, b: str) -> int:
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(
                d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def test_the_banded_prefix_distance_agrees_with_the_whole_table() -> None:
    rng = random.Random(15)
    for _ in range(3000):
        q = "".join(rng.choice("abc ") for _ in range(rng.randint(1, 7)))
        t = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 9)))
        k = rng.randint(1, 2)
        n = len(q)
        lengths = [m for m in range(max(0, n - k), n + k + 1) if m <= len(t)]
        want = min([_osa(q, t[:m]) for m in lengths] + [k + 1])
        assert prefix_distance(q, t, k) == want, (q, t, k)
