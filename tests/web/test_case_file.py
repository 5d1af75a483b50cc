"""The printable case file (``/companies/{id}/case-file``): a company's verified record as of a
checkpoint, through ``TestClient`` and in real headless Chromium (printed to PDF and in print
media), on the demo ledger with checkpoints kept at sizes 20, 35 and 44 besides 1 and the last
(the whole demo).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.web import mount
from attest import verify_bundle
from attest.statements import format_timestamp
from ledger import Ledger, export_bundle
from tests.ledger.test_report import RegulatorDemo, regulator_demo
from tests.web.conftest import chromium_context
from tests.web.test_pages import one_byte_changed, open_demo
from tests.web.test_pages_browser import serving

N = "nimbus-drive"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> RegulatorDemo:
    return regulator_demo(tmp_path_factory.mktemp("case-file"))


@pytest.fixture(scope="module")
def ledger(demo: RegulatorDemo) -> Iterator[Ledger]:
    with open_demo(demo.info) as led:
        yield led


@pytest.fixture(scope="module")
def client(ledger: Ledger, demo: RegulatorDemo) -> TestClient:
    app = create_app(ledger)
    mount(app)
    app.state.clock = lambda: demo.today_ms
    return TestClient(app)


def _root(ledger: Ledger, size: int) -> str:
    cp = verify_bundle(export_bundle(ledger, N, checkpoint=ledger.checkpoint_at(size))).checkpoint
    return base64.b64encode(cp.root).decode()


def test_the_case_file_shows_the_checkpoint_and_every_signers_key_id(
    client: TestClient, ledger: Ledger
) -> None:
    r = client.get(f"/companies/{N}/case-file", params={"size": 44})
    assert r.status_code == 200
    assert "default-src 'none'" in r.headers["content-security-policy"]
    html = r.text
    assert f'<code id="cp-root" class="hash">{_root(ledger, 44)}</code>' in html
    assert '<dd id="cp-size">44</dd>' in html
    assert "<nav" not in html  # no navigation chrome
    assert "<script" not in html  # nothing to run
    assert 'href="/static/case-file.css"' in html
    party = ledger.views.party(N)
    assert party is not None
    assert party.keys[0].key_id in html
    assert ledger.note_verifier.vkey() in html
    assert "no verdict" in html  # the classifier claim, not yet withdrawn at size 44
    # As of a day: the newest checkpoint kept by the end of it.
    day = format_timestamp(ledger.log_entries(43, 44)[0].log_time_ms)[:10]
    by_day = client.get(f"/companies/{N}/case-file", params={"as_of": day}).text
    assert '<dd id="cp-size">44</dd>' in by_day
    latest = client.get(f"/companies/{N}/case-file").text
    assert f'<dd id="cp-size">{ledger.size}</dd>' in latest
    # The demo's reference table (logged after size 44): Nimbus Drive's count does not match.
    assert 'id="recon-h"' not in html
    (check,) = ledger.views.replay(N).reconciliations
    assert '<tr data-status="inconsistent">' in latest
    assert check.dataset.source.digest.sha256 in latest
    assert f"published {check.result.count} reports" in latest
    # The company page links to it.
    page = client.get(f"/providers/{N}").text
    assert f'id="case-file-link" href="/companies/{N}/case-file"' in page


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ({"size": "999"}, 400, "is not a log size from 1 to"),
        ({"size": "x"}, 400, "is not a log size"),
        ({"as_of": "2000-01-01"}, 404, "no checkpoint of this log was kept"),
        ({"as_of": "yesterday"}, 400, "is not a date"),
        ({"size": "44", "as_of": "2026-01-01"}, 400, "not both"),
        ({"size": "3"}, 404, "was not registered yet at log size 3"),
    ],
)
def test_a_case_file_that_cannot_be_made_says_why(
    client: TestClient, query: dict[str, str], status: int, says: str
) -> None:
    r = client.get(f"/companies/{N}/case-file", params=query)
    assert r.status_code == status
    assert says in r.text
    assert client.get("/companies/no-such-company/case-file").status_code == 404


def test_a_read_only_server_makes_case_files_and_bundles_at_kept_sizes_only(
    demo: RegulatorDemo,
) -> None:
    with Ledger.open(demo.info.url) as reader:
        app = create_app(reader)
        mount(app)
        client = TestClient(app)
        assert client.get(f"/companies/{N}/case-file", params={"size": 35}).status_code == 200
        r = client.get(f"/companies/{N}/case-file", params={"size": 30})
        assert r.status_code == 404
        assert "no checkpoint of size 30" in r.text
        r = client.get(f"/v1/streams/{N}/bundle", params={"size": 30})
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "keeps no checkpoint of size 30" in r.json()["detail"]
        assert client.get(f"/v1/streams/{N}/bundle", params={"size": 20}).status_code == 200


def test_a_record_that_no_longer_verifies_is_never_shown_as_verified(
    client: TestClient, demo: RegulatorDemo
) -> None:
    with one_byte_changed(demo.db, N, 0):
        r = client.get(f"/companies/{N}/case-file")
    assert r.status_code == 500
    assert "This record FAILED verification" in r.text
    assert 'id="cp-root"' not in r.text


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium_context(tmp_path_factory, "chromium-case-file") as context:
        yield context


def _pdf_title(pdf: bytes) -> str:
    """The document title Chromium writes into the PDF's info dictionary (UTF-16BE hex)."""
    found = re.search(rb"/Title <FEFF([0-9A-F]+)>", pdf)
    assert found is not None, pdf[:200]
    return bytes.fromhex(found.group(1).decode()).decode("utf-16-be")


@pytest.mark.browser
def test_the_case_file_prints(browser: Any, ledger: Ledger, demo: RegulatorDemo) -> None:
    root = _root(ledger, 44)
    errors: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        with serving(ledger, demo.today_ms) as base:
            page.goto(f"{base}/providers/{N}")
            page.click("#case-file-link")
            page.wait_for_url(f"**/companies/{N}/case-file")
            page.goto(f"{base}/companies/{N}/case-file?size=44")
            screen = page.evaluate("getComputedStyle(document.body).fontSize")
            page.emulate_media(media="print")
            printed = page.evaluate("getComputedStyle(document.body).fontSize")
            assert (screen, printed) == ("15px", "13.3333px")  # 10pt on paper
            assert page.inner_text("#cp-root") == root
            assert page.is_visible("#cp-root")
            assert root in page.inner_text("body")
            pdf = page.pdf(format="A4")
            page.screenshot(path=str(demo.root / "case-file.png"), full_page=True)
    finally:
        page.close()
    assert not errors, errors
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) > 10_000
    assert root in _pdf_title(pdf)
    assert b"/Type /Page" in pdf
