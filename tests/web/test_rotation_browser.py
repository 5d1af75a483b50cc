"""Log key rotation in headless Chromium (issue 15, SPEC §7.6): a company page's own
verification of the company's record succeeds across a rotation (the record's checkpoint is
signed by the new key, its earlier entries were logged under the old one) and reads the log keys
the record names."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ledger import Ledger
from tests.attest.examples import example_log_key_rotate_body
from tests.attest.logbuilder import AUTHORITY_KEY, LOG_KEY, T0, LogBuilder, key
from tests.ledger.actors import AUTHORITY, init_ledger
from tests.web.test_pages_browser import browser, page, serving  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

P, V = "kite-social", "probe-labs"
NEW_KEY = 12


@dataclass
class RotatedSite:
    base: str
    ledger: Ledger
    rotation_index: int
    from_size: int


@pytest.fixture(scope="module")
def rotated_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RotatedSite]:
    url = f"sqlite:///{tmp_path_factory.mktemp('rotated') / 'ledger.db'}"
    clock = [T0]
    init_ledger(url, clock=lambda: clock[0]).close()
    ledger = Ledger.open(
        url, log_key=key(LOG_KEY), next_log_keys=[key(NEW_KEY)], clock=lambda: clock[0]
    )
    b = LogBuilder()
    b.keys[AUTHORITY] = AUTHORITY_KEY
    b.add(ledger.log_entries(0, 1)[0])

    def put() -> None:
        raw = b.entries[-1]
        clock[0] = raw.log_time_ms
        ledger.submit(raw.envelope)

    try:
        b.register(P, "provider", 3)
        put()
        b.register(V, "verifier", 5)
        put()
        b.accredit(V, ["detect.hash_known_image"])
        put()
        claim = b.claim(P)
        put()
        from_size = len(b.entries) + 2
        body = example_log_key_rotate_body(NEW_KEY, from_size)
        rotation = b.append("log.key.rotate", "registry", AUTHORITY, body)
        put()
        test = b.test(V, P, claim)  # the log reaches fromSize here: the new key signs
        put()
        b.verdict(V, P, claim, [test])
        put()
        assert ledger.state.log_key == key(NEW_KEY).public_key
        with serving(ledger, b.time_ms + 60_000) as base:
            yield RotatedSite(base, ledger, rotation.index, from_size)
    finally:
        ledger.close()


def test_the_company_page_verifies_a_record_across_a_rotation(
    rotated_site: RotatedSite,
    page: Any,  # noqa: F811 - the fixture
) -> None:
    site = rotated_site
    page.goto(f"{site.base}/providers/{P}")
    page.focus("#verify-button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#verify-result[data-outcome]", timeout=30_000)
    assert page.get_attribute("#verify-result", "data-outcome") == "ok", page.inner_text(
        "#verify-result"
    )
    # The same record through the page's verifier module directly: the log keys it read.
    got = page.evaluate(
        """async (base) => {
          const V = await import('/static/verify.js');
          const r = await fetch(base + '/v1/streams/kite-social/bundle');
          const out = await V.verifyBundle(new Uint8Array(await r.arrayBuffer()));
          return {size: out.size, logKeys: out.logKeys};
        }""",
        site.base,
    )
    assert got["size"] == site.ledger.size
    assert [(k["fromSize"], k["index"]) for k in got["logKeys"]] == [
        (0, 0),
        (site.from_size, site.rotation_index),
    ]
    assert got["logKeys"][1]["vkey"] == site.ledger.note_verifier.vkey()
