"""The public pages at national scale: search, the paged scorecard, comparing chosen services,
and the phone-size layout (issue 15).

One ledger for the module, on a real SQLite file (``mirrored_ledger``): 24 companies, one of
which (Åcme Social) runs three services with claims naming different ones, one with a very long
name. Pages and ``/v1`` go through ``TestClient``; the phone layout and the search without
JavaScript through real headless Chromium at 390 px against a real uvicorn server
(``serving`` from ``test_pages_browser``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.routers.scorecard import MAX_COMPARE, NAMES_LIMIT, SCORECARD_LIMIT
from api.web import mount
from api.web.pages import HOME_LIMIT
from attest.statements import REGISTRY_STREAM
from ledger import Ledger
from tests.attest.examples import AUTHORITY, example_claim_body, example_party_register_body
from tests.attest.logbuilder import digest
from tests.ledger.actors import mirrored_ledger
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, _unavailable
from tests.web.test_pages import Node, cells, dom
from tests.web.test_pages_browser import console_error, serving

ACME = "acme-social"
LONG = "longname-gmbh"
LONG_NAME = "Die Sehr Lange Und Ausführliche Kinderschutzplattformbetreibergesellschaft mbH"
V = "safecheck-labs"
IMG = "detect.hash_known_image"
VID = "detect.hash_known_video"
COMPANIES = 24


def company(i: int) -> str:
    return f"company-{i:02d}"


@dataclass
class National:
    ledger: Ledger
    client: TestClient
    now_ms: int

    def get(self, url: str, status: int = 200) -> Node:
        r = self.client.get(url)
        assert r.status_code == status, (url, r.status_code, r.text[:300])
        return dom(r.text)

    def json(self, url: str, status: int = 200) -> Any:
        r = self.client.get(url)
        assert r.status_code == status, (url, r.status_code, r.text[:300])
        return r.json()


def _build(url: str) -> tuple[Ledger, int]:
    ledger, b, put = mirrored_ledger(url)

    def register(party: str, name: str, role: str, key_no: int) -> None:
        b.keys[party] = key_no
        body = example_party_register_body(party, role, keys=[key_no])
        body["name"] = name
        b.append("party.register", REGISTRY_STREAM, AUTHORITY, body)
        put()

    def claim(provider: str, measure: str, services: list[str], **extra: Any) -> str:
        body = example_claim_body(measure)
        body["services"] = services
        body.update(extra)
        d = digest(b.append("claim.publish", provider, provider, body))
        put()
        return d

    try:
        register(ACME, "Åcme Social Ltd", "provider", 3)
        register(LONG, LONG_NAME, "provider", 4)
        register(V, "SafeCheck Labs Ltd", "verifier", 5)
        b.accredit(V, [IMG, VID])
        put()
        for i in range(COMPANIES - 2):
            register(company(i), f"Company {i:02d} Ltd", "provider", 10 + i)
        chat = claim(ACME, IMG, ["Acme Chat", "Acme Kids"], jurisdictions=["GB"])
        t = b.test(V, ACME, chat)
        put()
        b.verdict(V, ACME, chat, [t], result="CONTRADICTED")
        put()
        claim(ACME, VID, ["Ökobox"], jurisdictions=["DE"])
        claim(
            LONG, IMG, [LONG_NAME + " Messenger für Kinder und Jugendliche"], jurisdictions=["AT"]
        )
        for i in range(0, COMPANIES - 2, 3):
            claim(company(i), IMG, [f"Company {i:02d} App"], jurisdictions=["FR"])
    except BaseException:
        ledger.close()
        raise
    return ledger, b.time_ms + 1000


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> Iterator[National]:
    root = tmp_path_factory.mktemp("national")
    ledger, now = _build(f"sqlite:///{root / 'ledger.db'}")
    app = create_app(ledger)
    mount(app)
    app.state.clock = lambda: now
    try:
        with TestClient(app) as client:
            yield National(ledger, client, now)
    finally:
        ledger.close()


def problem(r: Any, parameter: str) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/invalid-parameter")
    assert body["errors"][0]["parameter"] == parameter


# -- /v1/search?q= -------------------------------------------------------------------------------


def test_search_finds_services_and_companies_by_name(national: National) -> None:
    found = national.json("/v1/search?q=ACME")
    assert found["query"] == "acme"
    assert [(r["kind"], r["id"], r["match"]) for r in found["results"]] == [
        ("service", f"{ACME}/Acme Chat", "prefix"),
        ("service", f"{ACME}/Acme Kids", "prefix"),
        ("company", ACME, "prefix"),
    ]
    assert found["next"] is None
    assert found["limit"] == NAMES_LIMIT
    oko = national.json("/v1/search?q=oko")["results"]
    assert [r["name"] for r in oko] == ["Ökobox"]
    typo = national.json("/v1/search?q=okbox")["results"]
    assert [(r["name"], r["match"], r["distance"]) for r in typo] == [("Ökobox", "fuzzy", 1)]


def test_search_pages_with_an_opaque_cursor(national: National) -> None:
    seen: list[str] = []
    url = "/v1/search?q=company&limit=5"
    for _ in range(20):
        page = national.json(url)
        assert len(page["results"]) <= 5
        seen += [r["id"] for r in page["results"]]
        if page["next"] is None:
            break
        url = f"/v1/search?q=company&limit=5&cursor={page['next']}"
    assert page["next"] is None
    whole = national.json("/v1/search?q=company&limit=100")["results"]
    assert seen == [r["id"] for r in whole]
    assert len(seen) == len(set(seen)) == (COMPANIES - 2) + len(range(0, COMPANIES - 2, 3))


def test_search_refuses_bad_parameters_as_problems(national: National) -> None:
    c = national.client
    first = national.json("/v1/search?q=company&limit=2")
    problem(c.get(f"/v1/search?q=acme&cursor={first['next']}"), "cursor")  # another query
    problem(c.get("/v1/search?q=acme&cursor=bm9wZQ"), "cursor")
    problem(c.get("/v1/search?q=acme&limit=101"), "limit")
    problem(c.get("/v1/search?q=acme&company=acme-social"), "q")
    problem(c.get("/v1/search?cursor=abc"), "cursor")
    r = c.get("/v1/search?q=")
    assert r.status_code == 400


# -- /v1/scorecard -------------------------------------------------------------------------------


def test_the_scorecard_is_paged_and_every_row_comes_once(national: National) -> None:
    first = national.json("/v1/scorecard")
    assert first["limit"] == SCORECARD_LIMIT
    assert len(first["rows"]) == COMPANIES
    assert first["next"] is None
    rows: list[str] = []
    url = "/v1/scorecard?limit=7"
    while True:
        page = national.json(url)
        assert len(page["rows"]) <= 7
        rows += [r["provider"] for r in page["rows"]]
        if page["next"] is None:
            break
        url = f"/v1/scorecard?limit=7&cursor={page['next']}"
    assert rows == [r["provider"] for r in first["rows"]]
    assert len(set(rows)) == COMPANIES


def test_the_scorecard_by_service_with_filters(national: National) -> None:
    by = national.json("/v1/scorecard?by=service&measure=detect.hash_known_image")
    services = [(r["provider"], r["service"]) for r in by["rows"]]
    assert (ACME, "Acme Chat") in services
    assert (ACME, "Ökobox") in services
    assert [m["measure"] for m in by["measures"]] == [IMG]
    okobox = next(r for r in by["rows"] if r["service"] == "Ökobox")
    assert okobox["cells"][0]["status"] == "no_claim"  # its claim is about videos
    bad = national.json("/v1/scorecard?by=service&verdict=contradicted")
    assert [r["service"] for r in bad["rows"]] == ["Acme Chat", "Acme Kids"]
    de = national.json("/v1/scorecard?by=service&country=DE")
    assert [r["service"] for r in de["rows"]] == ["Ökobox"]
    chosen = national.json(
        f"/v1/scorecard?by=service&service={ACME}/Ökobox&service={ACME}/Acme%20Kids"
    )
    assert [r["service"] for r in chosen["rows"]] == ["Ökobox", "Acme Kids"]
    c = national.client
    problem(c.get("/v1/scorecard?verdict=great"), "verdict")
    problem(c.get("/v1/scorecard?measure=detect.nonsense"), "measure")
    problem(c.get("/v1/scorecard?country=gb"), "country")
    problem(c.get("/v1/scorecard?cursor=%%%"), "cursor")
    problem(c.get(f"/v1/scorecard?service={ACME}/Acme%20Kids"), "service")  # needs by=service
    many = "&".join(f"service={ACME}/x{i}" for i in range(MAX_COMPARE + 1))
    problem(c.get(f"/v1/scorecard?by=service&{many}"), "service")
    company_cursor = national.json("/v1/scorecard?limit=1")["next"]
    problem(c.get(f"/v1/scorecard?by=service&cursor={company_cursor}"), "cursor")


# -- the pages -----------------------------------------------------------------------------------


def _columns(page: Node) -> list[str]:
    return [th.attrs["data-provider"] for th in page.select("th", data_provider=None)]


def test_the_home_page_shows_search_counts_and_one_page_with_links(national: National) -> None:
    page = national.get("/")
    form = page.one("form", role="search")
    assert (form.attrs["method"], form.attrs["action"]) == ("get", "/search")
    assert form.one("input", name="q").attrs["type"] == "search"
    summary = page.one("dl", id="summary").text()
    assert f"Companies {COMPANIES}" in summary
    assert "Services 12" in summary  # 3 of Åcme's, the long one, 8 companies' apps
    seen: list[str] = []
    url = "/"
    while True:
        cols = _columns(page)
        assert 0 < len(cols) <= HOME_LIMIT
        seen += cols
        nxt = page.select("a", rel="next")
        if not nxt:
            break
        url = nxt[0].attrs["href"].replace("&amp;", "&")
        page = national.get(url)
    assert len(seen) == len(set(seen)) == COMPANIES
    assert page.select("a", rel="first")


def test_the_home_page_by_service_lets_you_tick_services_to_compare(national: National) -> None:
    page = national.get("/?by=service&verdict=contradicted")
    assert [th.attrs["data-service"] for th in page.select("th", data_service=None)] == [
        "Acme Chat",
        "Acme Kids",
    ]
    form = page.one("form", action="/compare")
    ticks = [i.attrs["value"] for i in form.select("input", type="checkbox")]
    assert ticks == [f"{ACME}/Acme Chat", f"{ACME}/Acme Kids"]
    assert set(cells(page)) == {(ACME, IMG)}  # both services: one row claimed, same provider
    assert national.get("/?cursor=garbage", status=400).select("p", role="alert")


def test_the_search_page_works_with_a_plain_get_form(national: National) -> None:
    page = national.get("/search?q=acme")
    items = page.one("ol", id="results").select("li")
    assert [li.attrs["data-id"] for li in items] == [
        f"{ACME}/Acme Chat",
        f"{ACME}/Acme Kids",
        ACME,
    ]
    assert items[0].select("a")[0].attrs["href"] == "/compare?s=" + quote(f"{ACME}/Acme Chat")
    assert items[2].select("a")[0].attrs["href"] == f"/providers/{ACME}"
    none = national.get("/search?q=zzzzzzzz")
    assert none.one("p", id="no-results")
    paged = national.get("/search?q=company")
    assert len(paged.one("ol", id="results").select("li")) == 20
    more = paged.one("a", rel="next").attrs["href"].replace("&amp;", "&")
    rest = national.get(more).one("ol", id="results").select("li")
    assert 0 < len(rest) <= 20


def test_compare_puts_chosen_services_side_by_side(national: National) -> None:
    chosen = [f"{ACME}/Ökobox", f"{ACME}/Acme Chat", f"{company(0)}/Company 00 App"]
    page = national.get("/compare?" + "&".join("s=" + quote(s, safe="") for s in chosen))
    cols = [th.attrs["data-service"] for th in page.select("th", data_service=None)]
    assert cols == ["Ökobox", "Acme Chat", "Company 00 App"]
    tds = {
        (td.attrs["data-service"], td.attrs["data-measure"]): td.attrs["data-status"]
        for td in page.select("td", data_service=None)
    }
    assert tds[("Acme Chat", IMG)] == "contradicted"
    assert tds[("Ökobox", VID)] == "unverified"
    assert tds[("Ökobox", IMG)] == "no_claim"
    too_many = "&".join(f"s={ACME}/Acme%20Chat" for _ in range(MAX_COMPARE + 1))
    assert national.get(f"/compare?{too_many}", status=400).select("p", role="alert")
    national.get("/compare?s=nobody/Nothing", status=404)
    assert national.get("/compare").one("form", role="search")


def test_no_public_page_lists_every_party(national: National, monkeypatch: Any) -> None:
    # Each page costs the same among 24 or 100,000 companies: none lists every party (the
    # verifiers, a few, are listed by role).
    views = national.ledger.views
    real = views.parties

    def only_verifiers(*, role: str | None = None) -> Any:
        if role != "verifier":
            raise AssertionError("a page listed every party")
        return real(role=role)

    monkeypatch.setattr(views, "parties", only_verifiers)
    page = national.get(f"/providers/{ACME}")
    assert "Åcme Social Ltd" in page.text()
    assert f"claimledger verify {ACME} " in national.get("/log").text()
    for url in ("/", "/?by=service", "/search?q=acme", f"/compare?s={ACME}/Acme%20Chat"):
        national.get(url)


# -- a phone, in headless Chromium -----------------------------------------------------------------


@pytest.fixture(scope="module")
def phone(national: National) -> Iterator[tuple[str, Any, Any]]:
    """The server, and two Chromium contexts 390 px wide: with JavaScript and without."""
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with serving(national.ledger, national.now_ms) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            js = browser.new_context(viewport={"width": 390, "height": 844})
            plain = browser.new_context(
                viewport={"width": 390, "height": 844}, java_script_enabled=False
            )
            yield base, js, plain
        finally:
            browser.close()


WIDEST_JS = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 391)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' +
                   Math.round(e.getBoundingClientRect().right))"""
WIDTH_JS = "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"


@pytest.mark.browser
def test_no_page_scrolls_sideways_on_a_390_px_phone(phone: tuple[str, Any, Any]) -> None:
    base, js, _ = phone
    page = js.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(e) if (e := console_error(m)) else None)
    chosen = "&".join(
        "s=" + quote(s, safe="")
        for s in (
            f"{ACME}/Acme Chat",
            f"{ACME}/Ökobox",
            f"{LONG}/{LONG_NAME} Messenger für Kinder und Jugendliche",
            f"{company(3)}/Company 03 App",
        )
    )
    for url in (
        "/",
        "/?by=service&all=1",
        f"/compare?{chosen}",
        f"/providers/{ACME}",
        f"/providers/{LONG}",
        "/search?q=acme",
        "/data",
    ):
        page.goto(base + url)
        width = page.evaluate(WIDTH_JS)
        wide = page.evaluate(WIDEST_JS)
        assert width <= 390, (url, width, wide)
    # The comparison reads as a list per measure: each cell under the last, named.
    page.goto(f"{base}/compare?{chosen}")
    boxes = page.eval_on_selector_all(
        f"tr[data-measure='{IMG}'] td",
        "tds => tds.map(td => [td.getBoundingClientRect().left, td.getBoundingClientRect().width,"
        " getComputedStyle(td, '::before').content])",
    )
    assert len(boxes) == 4
    assert len({round(left) for left, _, _ in boxes}) == 1  # stacked, not side by side
    assert all(w <= 390 for _, w, _ in boxes)
    assert '"Acme Chat"' in [c for _, _, c in boxes]
    page.close()
    assert not errors, errors


@pytest.mark.browser
def test_search_from_the_home_page_without_javascript(phone: tuple[str, Any, Any]) -> None:
    base, _, plain = phone
    page = plain.new_page()
    page.goto(f"{base}/")
    page.fill("#q", "okbox")  # a typing error
    page.press("#q", "Enter")
    page.wait_for_url("**/search?q=okbox")
    assert "Ökobox" in page.inner_text("#results")
    page.check("#r-1")
    page.click("form.pick button[type=submit]")
    page.wait_for_url("**/compare?s=*")
    assert page.eval_on_selector_all("th[data-service]", "t => t.map(x => x.dataset.service)") == [
        "Ökobox"
    ]
    page.close()
