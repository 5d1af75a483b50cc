"""The public pages checked by axe-core in real headless Chromium, and the history chart's labels.

axe-core comes from the npm registry into a cache outside the repository
(``$CLAIMLEDGER_AXE_DIR``, default ``~/.cache/claimledger-axe``: ``npm install --prefix DIR
axe-core@4``), installed by the first run and never committed. Without it (no npm, no network)
these tests skip locally and fail under ``CI=true``, like the other browser tests.

The pages come from a real uvicorn server over the demo ledger, in English and in French (the
browser's Accept-Language); axe is injected into each page with Playwright (not a ``<script>``
tag: the pages' CSP allows no inline script) and must find no violation of impact serious or
critical. The chart's labels must lie inside the chart's SVG, on a
desktop and on a 390 px phone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger import Ledger
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, _unavailable
from tests.web.test_pages import make_demo, open_demo
from tests.web.test_pages_browser import serving

pytestmark = pytest.mark.browser

AXE_DIR = Path(os.environ.get("CLAIMLEDGER_AXE_DIR", Path.home() / ".cache" / "claimledger-axe"))
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe.min.js, installed into :data:`AXE_DIR` by npm the first time."""
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm not found: cannot install axe-core (apt-get install npm)")
        else:
            done = subprocess.run(
                [npm, "install", "--prefix", str(AXE_DIR), "axe-core@4", "--no-audit", "--no-fund"],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0 or not AXE_JS.exists():
                _unavailable(f"npm could not install axe-core: {done.stderr.strip()[-300:]}")
    return AXE_JS.read_text(encoding="utf-8")


@dataclass
class Demo:
    base: str
    ledger: Ledger
    providers: list[str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    info, today = make_demo(tmp_path_factory.mktemp("a11y"))
    ledger = open_demo(info)
    try:
        with serving(ledger, today) as base:
            yield Demo(base, ledger, list(info.providers))
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _urls(demo: Demo) -> list[str]:
    p = demo.providers[0]
    service = sorted(demo.ledger.views.services(p))[0]
    return [
        "/",
        f"/search?q={p[:4]}",
        f"/providers/{p}",
        f"/compare?s={p}/{service}",
        f"/verifiers/{demo.ledger.views.parties(role='verifier')[0].id}",
        "/log",
        f"/companies/{p}/case-file",
        "/data",
    ]


AXE_RUN = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
  .filter(v => v.impact === "serious" || v.impact === "critical")
  .map(v => `${v.impact} ${v.id}: ${v.help} at `
    + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "))"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_no_serious_accessibility_violations(
    demo: Demo, chromium: Any, axe_source: str, width: int, lang: str
) -> None:
    """Every page, in each shipped language (the browser asks for it: Accept-Language)."""
    context = chromium.new_context(
        viewport={"width": width, "height": 900}, locale={"en": "en-GB", "fr": "fr-FR"}[lang]
    )
    try:
        page = context.new_page()
        found: dict[str, list[str]] = {}
        checked = 0
        for url in _urls(demo):
            response = page.goto(demo.base + url)
            assert response is not None
            assert response.status == 200, url
            assert page.evaluate("document.documentElement.lang") == lang, url
            page.evaluate(axe_source)
            assert page.evaluate("typeof axe.run") == "function"
            violations = page.evaluate(AXE_RUN)
            if violations:
                found[url] = violations
            checked += 1
        assert checked == len(_urls(demo))
        assert not found, found
    finally:
        context.close()


LABEL_BOXES = """() => {
  const svg = document.querySelector("svg.chart");
  if (!svg) return null;
  const s = svg.getBoundingClientRect();
  return [...svg.querySelectorAll("text")].map(t => {
    const r = t.getBoundingClientRect();
    return [t.textContent, r.left - s.left, s.right - r.right, r.top - s.top,
            s.bottom - r.bottom, r.width];
  });
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_the_chart_labels_lie_inside_the_chart(demo: Demo, chromium: Any, width: int) -> None:
    context = chromium.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        labels = 0
        for p in demo.providers:
            page.goto(f"{demo.base}/providers/{p}")
            boxes = page.evaluate(LABEL_BOXES)
            if boxes is None:  # a company with no claims has no chart
                continue
            for text, left, right, top, bottom, w in boxes:
                assert w > 0, (p, text)
                inside = min(left, right, top, bottom)
                assert inside >= 0, (p, width, text, left, right, top, bottom)
                labels += 1
            # Each lane's label reads whole (title of the link) even where it is shortened.
            titles = page.eval_on_selector_all("svg.chart a > title", "ts => ts.length")
            assert titles == page.eval_on_selector_all("svg.chart rect.bar", "bs => bs.length"), p
        assert labels >= 10
    finally:
        context.close()
