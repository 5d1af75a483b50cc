"""The pages in a second language (issue 15): the message catalogs, the language a request
gets, caching per language, and the company page and its in-browser verification in French in
real headless Chromium.

The catalogs are checked against their sources (``scripts/i18n.py`` extracts the messages again)
and against the committed compiled files; the pages are served by the real app over the demo
ledger (TestClient, and a uvicorn server for Chromium).
"""

from __future__ import annotations

import gettext
import html as htmllib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.web import mount
from api.web.i18n import LANGUAGES, negotiate
from ledger import Ledger
from scripts import i18n
from tests.web.conftest import chromium_context
from tests.web.test_pages import make_demo, one_byte_changed, open_demo
from tests.web.test_pages_browser import console_error, serving

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
TAG = re.compile(r"</?[a-z]+")

# -- the catalogs --------------------------------------------------------------------------------


def _catalogs() -> list[tuple[i18n.Domain, str]]:
    return [(d, lang) for d in i18n.DOMAINS for lang in d.languages()]


def test_a_second_language_is_shipped_for_the_pages_and_the_cli() -> None:
    assert ("fr" in i18n.WEB.languages(), "fr" in i18n.CLI.languages()) == (True, True)
    assert LANGUAGES["fr"].name == "Français"
    assert next(iter(LANGUAGES)) == "en"


@pytest.mark.parametrize(("domain", "lang"), _catalogs(), ids=lambda x: getattr(x, "name", x))
def test_the_catalog_holds_exactly_the_messages_of_the_sources(
    domain: i18n.Domain, lang: str
) -> None:
    """``python -m scripts.i18n extract`` would change nothing: no message is missing from the
    ``.po`` and none is left over."""
    _header, messages = i18n.read_po(domain.po(lang))
    found = i18n.extract(domain)
    assert sorted(found) == sorted(messages)
    assert {k: m.plural for k, m in found.items()} == {k: m.plural for k, m in messages.items()}


@pytest.mark.parametrize(("domain", "lang"), _catalogs(), ids=lambda x: getattr(x, "name", x))
def test_every_message_is_translated_with_its_placeholders_and_markup(
    domain: i18n.Domain, lang: str
) -> None:
    _header, messages = i18n.read_po(domain.po(lang))
    assert messages
    untranslated = [k for k, m in messages.items() if not m.translated]
    assert untranslated == []
    for msgid, m in messages.items():
        source = msgid + (m.plural or "")
        for text in m.strs:
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(source)), msgid
            assert sorted(TAG.findall(text)) == sorted(TAG.findall(msgid)), msgid


@pytest.mark.parametrize(("domain", "lang"), _catalogs(), ids=lambda x: getattr(x, "name", x))
def test_the_compiled_catalogs_are_current(domain: i18n.Domain, lang: str) -> None:
    """The committed ``.mo`` (and the browser's JSON) are what ``compile`` makes of the ``.po``,
    and stdlib gettext reads the ``.mo``."""
    for path, data in i18n.compiled(domain, lang).items():
        assert path.read_bytes() == data, f"{path}: run python -m scripts.i18n compile"
    with domain.mo(lang).open("rb") as f:
        catalog = gettext.GNUTranslations(f)
    _header, messages = i18n.read_po(domain.po(lang))
    for msgid, m in messages.items():
        if m.plural is None:
            assert catalog.gettext(msgid) == m.strs[0]
        else:
            assert catalog.ngettext(msgid, m.plural, 1) == m.strs[0]


def test_the_browser_catalog_covers_the_page_scripts_and_the_verdict_words() -> None:
    browser = orjson.loads((i18n.WEB.locale / "fr" / "browser.json").read_bytes())
    assert browser["plural"] == "gt1"  # French: 0 and 1 are singular
    assert set(browser["messages"]) == i18n.browser_msgids(i18n.WEB)
    assert browser["messages"]["Verify again"] == "Vérifier à nouveau"
    assert browser["messages"]["Confirmed"] == "Confirmé"


# -- which language a request gets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "header", "code", "explicit"),
    [
        (None, None, "en", False),
        (None, "fr-CH, fr;q=0.9, en;q=0.8", "fr", False),
        (None, "de-DE, de;q=0.9, en;q=0.5, fr;q=0.4", "en", False),
        (None, "en;q=0.1, fr;q=0.9", "fr", False),
        (None, "fr;q=0, en", "en", False),
        (None, "de, *;q=0.5", "en", False),
        (None, "fr;q=oops, en;q=0.2", "en", False),
        ("fr", "en", "fr", True),
        ("EN", "fr", "en", True),
    ],
)
def test_the_language_is_negotiated(
    lang: str | None, header: str | None, code: str, explicit: bool
) -> None:
    choice = negotiate(lang, header)
    assert (choice.code, choice.explicit, choice.invalid) == (code, explicit, None)


def test_an_unknown_lang_is_remembered_as_invalid() -> None:
    choice = negotiate("xx", "fr")
    assert (choice.code, choice.invalid) == ("fr", "xx")


# -- the pages over HTTP -------------------------------------------------------------------------


@dataclass
class Site:
    client: TestClient
    ledger: Ledger
    providers: list[str]
    db: Path
    today: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("i18n")
    info, today = make_demo(root)
    ledger = open_demo(info)
    app = create_app(ledger)
    mount(app)
    app.state.clock = lambda: today
    try:
        with TestClient(app) as client:
            yield Site(client, ledger, list(info.providers), root / "ledger.db", today)
    finally:
        ledger.close()


FR = {"accept-language": "fr-FR,fr;q=0.9,en;q=0.5"}


def _html_lang(html: str) -> str:
    m = re.search(r'<html lang="([^"]+)"', html)
    assert m is not None
    return m.group(1)


def test_the_company_page_in_french(site: Site) -> None:
    provider = site.providers[0]
    r = site.client.get(f"/providers/{provider}", headers=FR)
    assert r.status_code == 200
    html = r.text
    assert _html_lang(html) == "fr"
    assert '<main id="main" class="wrap" tabindex="-1">' in html  # no lang="en" part
    for words in ("Vérifiez ce dossier vous-même", "Toutes les entrées, dans l'ordre du journal"):
        assert words in htmllib.unescape(html)
    for english in ("Check this record yourself", "Every entry, in log order", "Signing keys"):
        assert english not in html
    # The public words of the statuses shown, in French (the ledger's own statuses).
    replay = site.ledger.views.replay(provider, at_ms=site.today)
    shown = {c.public_status for c in replay.claims if c.status == "active"}
    french = {"confirmed": "Confirmé", "unverified": "Non vérifié", "contradicted": "Contredit"}
    for status in shown & set(french):
        assert f'<span class="status-label">{french[status]}</span>' in html
    # The browser's part of the catalog, embedded as JSON data (no inline script runs).
    m = re.search(r'<script type="application/json" id="l10n">(.*?)</script>', html, re.S)
    assert m is not None
    data = orjson.loads(m.group(1))
    assert (data["lang"], data["plural"]) == ("fr", "gt1")
    assert data["messages"]["✔ Record verified in your browser"].startswith("✔ Dossier vérifié")


def test_the_english_page_stays_english(site: Site) -> None:
    r = site.client.get(f"/providers/{site.providers[0]}", headers={"accept-language": "en-GB"})
    assert _html_lang(r.text) == "en"
    assert "Check this record yourself" in r.text
    assert 'id="l10n"' not in r.text


def test_language_is_part_of_caching(site: Site) -> None:
    url = f"/providers/{site.providers[0]}"
    en = site.client.get(url)
    fr = site.client.get(url, headers=FR)
    for r in (en, fr):
        assert "Accept-Language" in r.headers["vary"]
    assert en.headers["etag"] != fr.headers["etag"]
    # A client holding the English page, now asking in French, gets the French page.
    again = site.client.get(url, headers={**FR, "if-none-match": en.headers["etag"]})
    assert (again.status_code, _html_lang(again.text)) == (200, "fr")
    same = site.client.get(url, headers={**FR, "if-none-match": fr.headers["etag"]})
    assert same.status_code == 304
    assert "Accept-Language" in same.headers["vary"]
    # ?lang= is in the URL: its tag differs from the negotiated one's too.
    explicit = site.client.get(url + "?lang=fr")
    assert explicit.headers["etag"] not in (en.headers["etag"], fr.headers["etag"])


def test_lang_in_the_url_wins_and_is_kept_on_the_page(site: Site) -> None:
    provider = site.providers[0]
    r = site.client.get(f"/providers/{provider}?lang=fr", headers={"accept-language": "en"})
    html = r.text
    assert _html_lang(html) == "fr"
    hrefs = re.findall(r'href="(/[^"]*)"', html)
    own = [h for h in hrefs if not h.startswith(("/static/", "/v1/"))]
    assert own, hrefs
    assert all("lang=" in h for h in own), [h for h in own if "lang=" not in h]
    assert '<input type="hidden" name="lang" value="fr">' in html  # the as-of form
    # The language selector: this page in each language, the current one marked.
    selector = re.search(r'<nav aria-label="Langue" class="languages">(.*?)</nav>', html, re.S)
    assert selector is not None
    links = re.findall(
        r'<a href="([^"]+)" hreflang="(\w+)" lang="\w+" data-lang="\w+"'
        r'( aria-current="true")?>([^<]+)</a>',
        selector.group(1),
    )
    assert [(h, code, bool(cur), name) for h, code, cur, name in links] == [
        (f"/providers/{provider}?lang=en", "en", False, "English"),
        (f"/providers/{provider}?lang=fr", "fr", True, "Français"),
    ]


def test_an_unknown_lang_is_a_clear_error(site: Site) -> None:
    r = site.client.get(f"/providers/{site.providers[0]}?lang=xx")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "lang='xx' is not a language of these pages; use one of en, fr" in r.json()["detail"]


def test_every_page_is_french(site: Site) -> None:
    p = site.providers[0]
    service = sorted(site.ledger.views.services(p))[0]
    verifier = site.ledger.views.parties(role="verifier")[0]
    french = {
        "/": "Quels services font ce qu'ils disent ?",
        f"/search?q={p[:4]}": "Résultats pour",
        f"/compare?s={p}/{service}": "Dernier verdict par service et par mesure",
        f"/verifiers/{verifier.id}": "Bilan",
        "/log": "Dernier point de contrôle",
        "/data": "la taille du point de contrôle à partir duquel le fichier a été construit",
        f"/companies/{p}/case-file": "Le dossier tel qu'il était au point de contrôle de taille",
        "/providers/nobody": "Aucune entreprise n'a l'identifiant",
    }
    for url, words in french.items():
        r = site.client.get(url, headers=FR)
        assert words in htmllib.unescape(r.text), url
        assert _html_lang(r.text) == "fr"
        # nothing marked English but the selector's link to the English page
        assert not re.search(r'\slang="en"', r.text.replace('hreflang="en" lang="en"', "")), url
        assert 'id="l10n"' not in r.text  # only the company page runs page.js


def test_the_api_stays_english(site: Site) -> None:
    p = site.providers[0]
    for url in ("/v1/scorecard", f"/v1/streams/{p}/feed.atom", f"/v1/streams/{p}/state"):
        en = site.client.get(url)
        fr = site.client.get(url, headers=FR)
        assert en.status_code == fr.status_code == 200, url
        assert en.content == fr.content, url


# -- in Chromium ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(site: Site) -> Iterator[str]:
    with serving(site.ledger, site.today) as base:
        yield base


@pytest.fixture(scope="module")
def french_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Chromium whose user asks for French (``Accept-Language`` and ``navigator.language``)."""
    with chromium_context(
        tmp_path_factory, "chromium-fr", viewport={"width": 1280, "height": 900}, locale="fr-FR"
    ) as context:
        yield context


@pytest.fixture
def page(french_browser: Any) -> Iterator[Any]:
    errors: list[str] = []
    p = french_browser.new_page()
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("console", lambda m: errors.append(e) if (e := console_error(m)) else None)
    try:
        yield p
        assert not errors, errors
    finally:
        p.close()


def _verify(page: Any, url: str) -> dict[str, str]:
    page.goto(url)
    page.click("#verify-button")
    page.wait_for_selector("#verify-result[data-outcome]", timeout=30_000)
    out: dict[str, str] = page.eval_on_selector(
        "#verify-result", "el => ({...el.dataset, text: el.innerText})"
    )
    return out


@pytest.mark.browser
def test_the_company_page_verifies_in_french_in_chromium(
    site: Site, served: str, page: Any
) -> None:
    provider = site.providers[0]
    got = _verify(page, f"{served}/providers/{provider}")
    assert got["outcome"] == "ok", got
    text = " ".join(got["text"].split())
    stream = site.ledger.stream_entries(provider)
    assert text.startswith("✔ Dossier vérifié dans votre navigateur"), text
    assert f"{len(stream)} entrées de son dossier" in text
    assert f"Le dossier est complet à la taille {site.ledger.size} :" in text
    assert "Vérifié seulement par rapport à la signature du journal lui-même" in text
    assert "Record verified" not in text
    assert "entries" not in text
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.inner_text("#verify-phase") == "Terminé"
    assert page.inner_text("#verify-button") == "Vérifier à nouveau"


@pytest.mark.browser
def test_a_failed_verification_reads_in_french_in_chromium(
    site: Site, served: str, page: Any
) -> None:
    provider = "pixelstream"
    entry = site.ledger.stream_entries(provider)[3]
    with one_byte_changed(site.db, provider, entry.position):
        got = _verify(page, f"{served}/providers/{provider}?lang=fr")
    assert got["outcome"] == "failed", got
    text = " ".join(got["text"].split())
    assert text.startswith("✖ La vérification a échoué"), text
    assert (
        f"L'entrée en position {entry.position} dans le dossier de {provider} "
        f"(index {entry.index} du journal) ne se vérifie pas :"
    ) in text
    # The engine's own account of the failure is English, and marked so.
    assert page.eval_on_selector("#verify-result p span[lang='en']", "el => el.innerText")
    assert "Contrôle en échec :" in text
