"""The public pages in real headless Chromium, against a real uvicorn server on 127.0.0.1.

The server (started and stopped by the module fixture, in a thread) serves the demo ledger from a
SQLite file in a temporary folder, with the pages mounted. Tampering is done two ways, both as
the issue asks: one byte of one stored entry is changed *directly in the database* while the
server runs (it reads envelopes from the database for every request, so it then serves the
tampered entry); and the checkpoint is replaced in flight (``page.route``) by one signed with
another key. And the server lies: an ASGI wrapper around the real app (:class:`Lie`) rewrites the
evidence bundles it serves — entries left out, an old state proof — re-encoded canonically, so
that only the state commitment (SPEC §11) can tell. Screenshots go to ``test-artifacts/``;
``CLAIMLEDGER_UPDATE_SCREENSHOTS=1`` also copies the comparison over
``docs/screenshot-comparison.png`` (the README's picture).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api import create_app
from api.web import mount
from attest import Envelope, MemoryTree, NoteSigner, canonical, entry_hash, leaf_data, leaf_hash
from attest.bundle import Bundle, BundleEntry
from attest.entry import LogEntry
from ledger import Ledger
from tests.attest.logbuilder import key
from tests.conftest import REPO
from tests.web.conftest import chromium_context
from tests.web.test_pages import (
    FLAG_P,
    FLAG_V,
    FLAG_W,
    WORDS,
    FlaggedLog,
    build_flagged,
    make_demo,
    one_byte_changed,
    open_demo,
)

pytestmark = pytest.mark.browser

ARTIFACTS = REPO / "test-artifacts"
README_SHOT = REPO / "docs" / "screenshot-comparison.png"


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_BUNDLE_PATH = re.compile(r"/v1/streams/[^/]+/bundle")


class Lie:
    """An ASGI wrapper around the real app: everything passes through, except that while
    :attr:`rewrite` is set, the body of every ``/v1/streams/{s}/bundle`` response goes through it
    (a lying server; the honest app never knows). :func:`serving` sets :attr:`app`."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None
        self.rewrite: Callable[[bytes], bytes] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        rewrite = self.rewrite
        if scope["type"] != "http" or rewrite is None or not _BUNDLE_PATH.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = rewrite(b"".join(chunks)) if start["status"] == 200 else b"".join(chunks)
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)

    @contextmanager
    def lying(self, rewrite: Callable[[Bundle], dict[str, Any]]) -> Iterator[None]:
        """Serve every bundle as ``rewrite`` makes it, re-encoded canonically (SPEC §1)."""
        self.rewrite = lambda body: canonical.encode(rewrite(Bundle.parse(body)))
        try:
            yield
        finally:
            self.rewrite = None


@dataclass
class Site:
    """The demo ledger behind a real server (which can be made to lie)."""

    base: str
    ledger: Ledger
    db: Path
    now_ms: int
    providers: list[str]
    digests: dict[str, str]
    lie: Lie


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(
    ledger: Ledger, now_ms: int, lie: Lie | None = None, *, witness_policy: bytes | None = None
) -> Iterator[str]:
    """The app over ``ledger`` with the pages (clock fixed at ``now_ms``) on a real server on
    127.0.0.1, in a thread, wrapped in ``lie`` if given; yields its base URL. With a
    ``witness_policy`` the app serves it; its witnessing thread (lifespan) does not run, so the
    test keeps the cosigned checkpoints itself (``Ledger.keep_cosigned``)."""
    app = create_app(ledger, witness_policy=witness_policy)
    mount(app)
    app.state.clock = lambda: now_ms
    if lie is not None:
        lie.app = app
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app if lie is None else lie,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the uvicorn server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("site")
    info, today = make_demo(root)
    ledger = open_demo(info)
    lie = Lie()
    try:
        with serving(ledger, today, lie) as base:
            yield Site(base, ledger, root / "ledger.db", today, info.providers, info.digests, lie)
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium_context(
        tmp_path_factory, "chromium-pages", viewport={"width": 1280, "height": 900}
    ) as context:
        yield context


# Endpoints the page asks for that answer 404 when the server has no witness policy (or no
# cosigned checkpoint yet); Chromium logs such a 404 as a console error.
OPTIONAL = ("/v1/log/witness-policy", "/v1/log/checkpoint/cosigned")
# A server asked to prove a checkpoint larger than the one it shows answers 400: the page says
# it cannot prove it yet (test_a_cached_older_checkpoint_is_not_a_fork and the rollback test).
UNPROVABLE = ("/v1/log/proof/consistency",)


def console_error(m: Any) -> str | None:
    """A console message that is a real error (not the favicon, not an optional 404)."""
    if m.type != "error" or "favicon" in m.text:
        return None
    url = str(m.location.get("url", "")).split("?", 1)[0]
    if "status of 404" in m.text and url.endswith(OPTIONAL):
        return None
    if "status of 400" in m.text and url.endswith(UNPROVABLE):
        return None
    return f"{m.text} ({url})"


@contextmanager
def watched_tab(browser: Any) -> Iterator[Any]:
    """A fresh tab of ``browser`` (a context); fails on any script error on the page."""
    errors: list[str] = []
    p = browser.new_page()
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("console", lambda m: errors.append(e) if (e := console_error(m)) else None)
    try:
        yield p
        assert not errors, errors
    finally:
        p.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab; fails the test on any script error on the page."""
    with watched_tab(browser) as p:
        yield p


def _cells(page: Any) -> dict[tuple[str, str], tuple[str, str]]:
    rows = page.eval_on_selector_all(
        "td[data-provider]",
        """tds => tds.map(td => [td.dataset.provider, td.dataset.measure, td.dataset.status,
            td.querySelector('.status-label').innerText.trim()])""",
    )
    return {(p, m): (s, label) for p, m, s, label in rows}


def _screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_the_comparison_shows_the_demo_verdicts(site: Site, page: Any) -> None:
    card = site.ledger.views.scorecard(at_ms=site.now_ms)
    page.goto(f"{site.base}/?all=1")
    shown = _cells(page)
    want = {
        (r.provider, c.measure): (c.status, WORDS[c.status]) for r in card.rows for c in r.cells
    }
    assert shown == want
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"

    page.goto(f"{site.base}/")
    _screenshot(page, "comparison.png")
    # The README's picture: the top of the page down to the end of the table. Written to
    # test-artifacts/ on every run; copied over the committed docs/ file only when asked (or
    # when it is missing), so that a test run does not leave a tracked file changed.
    height = page.evaluate(
        "Math.ceil(document.querySelector('#comparison').getBoundingClientRect().bottom) + 16"
    )
    top = ARTIFACTS / "screenshot-comparison.png"
    page.screenshot(
        path=str(top), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": height}
    )
    assert top.stat().st_size < 400_000
    if os.environ.get("CLAIMLEDGER_UPDATE_SCREENSHOTS") == "1" or not README_SHOT.exists():
        shutil.copyfile(top, README_SHOT)


def test_the_measure_filter_narrows_the_table(site: Site, page: Any) -> None:
    measure = "detect.hash_known_image"
    card = site.ledger.views.scorecard(at_ms=site.now_ms)
    page.goto(f"{site.base}/")
    page.select_option("#f-measure", measure)
    page.click("form.filters button[type=submit]")
    page.wait_for_url(f"**/?*measure={measure}*")
    shown = _cells(page)
    assert {m for _, m in shown} == {measure}
    assert shown == {
        (r.provider, measure): (
            card.cell(r.provider, measure).status,
            WORDS[card.cell(r.provider, measure).status],
        )
        for r in card.rows
    }


def test_the_company_page_lists_entries_in_order_and_replays_as_of(site: Site, page: Any) -> None:
    provider = "nimbus-drive"
    stored = [e.index for e in site.ledger.stream_entries(provider)]
    page.goto(f"{site.base}/providers/{provider}")
    listed = page.eval_on_selector_all(
        "#timeline > li", "lis => lis.map(li => Number(li.dataset.index))"
    )
    assert listed == stored
    _screenshot(page, "provider.png")

    withdrawal = bytes.fromhex(site.digests["nimbus-withdrawal"])
    replay = site.ledger.views.replay(provider, at_ms=site.now_ms)
    claim = next(c for c in replay.claims if c.ended_by and c.ended_by.digest == withdrawal)
    selector = f"li[data-claim='{claim.digest.hex()}']"
    assert page.get_attribute(selector, "data-status") == "withdrawn"
    # The day before the withdrawal: the claim stood.
    assert claim.ended_by is not None
    before = time.strftime("%Y-%m-%d", time.gmtime(claim.ended_by.log_time_ms / 1000 - 86_400))
    page.fill("#as_of", before)
    page.click("form.asof button[type=submit]")
    page.wait_for_url(f"**as_of={before}")
    assert page.get_attribute(selector, "data-status") == "active"
    assert before in page.inner_text("#asof-banner")
    shown = page.eval_on_selector_all("#timeline > li", "lis => lis.length")
    assert shown < len(stored)


def test_the_company_pages_show_engagements(site: Site, page: Any) -> None:
    """Issue 17 §1: an engagement running (with a planned method not reported yet), one
    withdrawn by the company (who, and why) and one overdue, as the demo's data file tells."""
    engagement = "li.engagement"
    read = "lis => lis.map(li => [li.dataset.engagement, li.dataset.status, li.innerText])"
    page.goto(f"{site.base}/providers/kiteworld")
    shown = {
        d: (status, " ".join(text.split()))
        for d, status, text in page.eval_on_selector_all(engagement, read)
    }
    status, text = shown[site.digests["kiteworld-engagement-running"]]
    assert status == "open", text
    assert "Planned, not reported config inspection" in text, text
    assert "Not tested Accounts in Austria" in text, text
    assert "1 test record, 0 verdicts under it" in text, text
    status, text = shown[site.digests["kiteworld-engagement-withdrawn"]]
    assert status == "withdrawn", text
    assert "Withdrawn by the company (Kiteworld Games GmbH)" in text, text
    assert "it will commission a review once the grooming-detection pilot ends" in text, text
    assert "OpenProbe Lab trained Kiteworld's moderators in 2025." in text, text
    _screenshot(page, "provider-engagements.png")
    page.goto(f"{site.base}/providers/nimbus-drive")
    ((digest, status, text),) = page.eval_on_selector_all(engagement, read)
    assert (digest, status) == (site.digests["nimbus-engagement-overdue"], "overdue"), text
    assert "with no verdict and no withdrawal" in " ".join(text.split())


def test_open_findings_show_what_was_promised_and_overdue_flags_reach_the_scorecard(
    site: Site, page: Any
) -> None:
    """Issue 17 §2 and §1: Kiteworld's open age-assurance finding shows its age and the two
    commitments of its reply (one past its due day: overdue, one not due yet); the home page's
    scorecard flags Kiteworld's overdue commitment and Nimbus Drive's overdue engagement, each
    linking to the company page, as the demo's data file tells."""
    page.goto(f"{site.base}/providers/kiteworld")
    reply = site.digests["kiteworld-age-reply"]
    (index,) = [
        e.index for e in site.ledger.views.replay("kiteworld").timeline if e.digest.hex() == reply
    ]
    finding = page.locator("li.finding", has=page.locator(f"a[href='#entry-{index}']"))
    assert finding.get_attribute("data-status") == "open"
    read = "lis => lis.map(li => [li.dataset.overdue, li.innerText])"
    promised = finding.locator("li.commitment").evaluate_all(read)
    assert [o for o, _ in promised] == ["yes", "no"], promised
    assert promised[0][1].startswith("Overdue: the company promised on"), promised
    assert "Turn on facial age estimation at sign-up for new GB accounts." in promised[0][1]
    assert "open for" in finding.inner_text()
    assert "1 commitment overdue" in page.inner_text("#findings-summary")
    _screenshot(page, "provider-commitments.png")

    page.goto(f"{site.base}/")
    flags = page.eval_on_selector_all(
        "#comparison thead th a.flag",
        "as => as.map(a => [a.closest('th').dataset.provider, a.dataset.flag, a.innerText,"
        " a.getAttribute('href')])",
    )
    got = {(p, f): (" ".join(text.split()), href) for p, f, text, href in flags}
    assert got[("kiteworld", "commitments-overdue")] == (
        "1 commitment overdue",
        "/providers/kiteworld#findings-h",
    )
    assert got[("nimbus-drive", "engagements-overdue")] == (
        "1 engagement overdue",
        "/providers/nimbus-drive#engagements-h",
    )
    assert ("brightchat", "commitments-overdue") not in got  # its commitment is not due yet
    page.click("th[data-provider='kiteworld'] a[data-flag='commitments-overdue']")
    page.wait_for_url("**/providers/kiteworld#findings-h")


def _verify(page: Any, base: str, provider: str) -> dict[str, str]:
    page.goto(f"{base}/providers/{provider}")
    assert not page.is_visible("#verify-progress")
    page.focus("#verify-button")
    page.keyboard.press("Enter")  # keyboard, as much as a click
    page.wait_for_selector("#verify-result[data-outcome]", timeout=30_000)
    out: dict[str, str] = page.eval_on_selector(
        "#verify-result", "el => ({...el.dataset, text: el.innerText})"
    )
    return out


def test_verify_this_record_succeeds_on_the_demo(site: Site, page: Any) -> None:
    for provider in site.providers:
        got = _verify(page, site.base, provider)
        assert got["outcome"] == "ok", got
        assert "Record verified" in got["text"]
        stream = site.ledger.stream_entries(provider)
        kinds = Counter(_kind_of(e) for e in stream)
        counts = (
            f"{kinds['claim.publish'] + kinds['claim.supersede']} claim",
            f"{kinds['test.record']} test record",
            f"{kinds['verdict.issue']} verdict",
            f"{kinds['provider.reply']} repl",
        )
        text = " ".join(got["text"].split())
        assert all(c in text for c in counts), (counts, text)
        assert f"{len(stream)} entries of its record" in text
        assert f"The record is complete at size {site.ledger.size}:" in text
        assert got["complete"] == str(site.ledger.size)
    assert page.get_attribute("#verify-bar", "value") == "100"
    assert page.is_visible("#verify-progress")
    assert page.evaluate("document.activeElement.id") == "verify-result"
    _screenshot(page, "provider-verified.png")


def test_the_root_reads_the_same_in_the_pages_the_api_and_the_cli(
    site: Site, page: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: a checkpoint root has one encoding everywhere, base64 as in the note (SPEC §7)."""
    from click.testing import CliRunner

    from cli import main

    root = httpx.get(f"{site.base}/v1/log").json()["checkpoint"]["root"]
    assert httpx.get(f"{site.base}/v1/log/checkpoint").text.split("\n")[2] == root
    provider = site.providers[0]
    assert _verify(page, site.base, provider)["outcome"] == "ok"
    assert page.inner_text("#checkpoint-root") == root  # the company page, verified in Chromium
    page.goto(f"{site.base}/log")
    assert page.inner_text("#checkpoint-root") == root
    monkeypatch.setenv("CLAIMLEDGER_CONFIG_DIR", str(tmp_path))
    for name in ("CLAIMLEDGER_SERVER", "CLAIMLEDGER_DB"):
        monkeypatch.delenv(name, raising=False)
    for args in ([provider], []):
        out = CliRunner().invoke(main, ["verify", *args, "--server", site.base])
        assert out.exit_code == 0, out.output
        assert f"  root:               {root}\n" in out.output


def test_one_byte_changed_in_the_database_is_named(site: Site, page: Any) -> None:
    provider = "pixelstream"
    entry = site.ledger.stream_entries(provider)[3]
    # The server reads envelopes from the database for every request: it now serves the
    # changed entry (and its page flags it as unreadable).
    with one_byte_changed(site.db, provider, entry.position):
        got = _verify(page, site.base, provider)
    assert got["outcome"] == "failed", got
    assert (got["index"], got["position"], got["stream"]) == (
        str(entry.index),
        str(entry.position),
        provider,
    )
    assert f"position {entry.position}" in got["text"]
    assert f"log index {entry.index}" in got["text"]
    assert page.get_attribute(f"#entry-{entry.index}", "class").split()[-1] == "failed-entry"
    _screenshot(page, "provider-tampered.png")
    # Put back, it verifies again.
    assert _verify(page, site.base, provider)["outcome"] == "ok"


def test_a_checkpoint_signed_by_another_key_fails(site: Site, page: Any) -> None:
    note = site.ledger.checkpoint()
    body = note[: note.index(b"\n\n") + 1]
    forged = NoteSigner(site.ledger.origin, key(9)).sign(body)
    assert forged != note

    def serve_forged(route: Any) -> None:
        route.fulfill(status=200, body=forged, content_type="text/plain; charset=utf-8")

    page.route("**/v1/log/checkpoint", serve_forged)
    got = _verify(page, site.base, "kiteworld")
    assert got["outcome"] == "failed", got
    assert got["kind"] == "CheckpointError", got
    assert "checkpoint" in got["text"].lower()


def _trust(page: Any, vkey: str, size: int, root: str, *, older_since: str | None = None) -> None:
    """Make the browser remember having verified a checkpoint of ``size`` with ``root`` (and,
    with ``older_since``, having seen the server unable to prove it since then)."""
    memo: dict[str, Any] = {"size": size, "root": root, "at": "2026-01-01T00:00:00Z"}
    if older_since is not None:
        memo["olderSince"] = older_since
    memory = json.dumps(memo)
    page.evaluate("([k, v]) => localStorage.setItem(k, v)", [f"claimledger:trusted:{vkey}", memory])


def test_the_browser_remembers_what_it_verified_and_catches_a_rewrite(
    site: Site, page: Any
) -> None:
    provider = "kiteworld"
    page.goto(site.base)
    page.evaluate("localStorage.clear()")  # the browser context is shared by this module's tests
    try:
        _remembers_and_catches_rewrites(site, page, provider)
    finally:
        page.evaluate("localStorage.clear()")


def _remembers_and_catches_rewrites(site: Site, page: Any, provider: str) -> None:
    assert _verify(page, site.base, provider)["outcome"] == "ok"
    again = _verify(page, site.base, provider)
    assert again["outcome"] == "ok", again
    assert again["history"] == "consistent"
    assert "the same checkpoint as on" in again["text"]
    vkey = site.ledger.note_verifier.vkey()
    size = site.ledger.size
    served = httpx.get(f"{site.base}/v1/log/entries", params={"start": 0, "end": size}).text
    leaves = [
        leaf_hash(
            leaf_data(
                e["index"], e["stream"], e["position"], e["logTimeMs"],
                entry_hash(Envelope.parse_stored(e["envelope"].encode("ascii"))),
                bytes.fromhex(e["stateRoot"]),
            )
        )
        for e in map(json.loads, served.splitlines())
    ]  # fmt: skip
    assert len(leaves) == size
    tree = MemoryTree(leaves)
    # An earlier, smaller checkpoint: the new one must extend it, by a consistency proof.
    _trust(page, vkey, size - 3, tree.root(size - 3).hex())
    got = _verify(page, site.base, provider)
    assert got["outcome"] == "ok", got
    assert (
        f"consistent with the checkpoint verified on 2026-01-01T00:00:00Z ({size - 3}"
        in got["text"]
    )
    # A fork: the browser verified another root at an earlier size.
    _trust(page, vkey, size - 3, "00" * 32)
    got = _verify(page, site.base, provider)
    assert (got["outcome"], got["kind"]) == ("failed", "ProofError"), got
    assert "history was rewritten" in got["text"]
    # The same size with another root.
    _trust(page, vkey, size, "11" * 32)
    got = _verify(page, site.base, provider)
    assert (got["outcome"], got["kind"]) == ("failed", "ProofError"), got
    assert "(a fork)" in got["text"]
    # The server shows fewer entries than the browser saw and cannot prove the larger checkpoint:
    # a cache or a lagging server for a while (a warning, the record verified at what it shows),
    # a rollback if it lasts (here: first seen long ago).
    _trust(page, vkey, size + 5, tree.root(size).hex())
    got = _verify(page, site.base, provider)
    assert (got["outcome"], got["history"]) == ("ok", "older-unproven"), got
    assert "Verify again in a minute" in got["text"]
    assert _trusted(page, vkey)["size"] == size + 5  # not downgraded
    assert "olderSince" in _trusted(page, vkey)
    _trust(page, vkey, size + 5, tree.root(size).hex(), older_since="2026-01-01T00:00:00.000Z")
    got = _verify(page, site.base, provider)
    assert (got["outcome"], got["kind"]) == ("failed", "ProofError"), got
    assert "history was rolled back" in got["text"]


def _trusted(page: Any, vkey: str) -> dict[str, Any]:
    got: dict[str, Any] = json.loads(
        page.evaluate("k => localStorage.getItem(k)", f"claimledger:trusted:{vkey}")
    )
    return got


def test_a_cached_older_checkpoint_is_not_a_fork(site: Site, page: Any) -> None:
    """A cache in front of the server may serve a checkpoint older than one the browser
    verified: the record is verified at that checkpoint (its bundle fetched for its size) and the
    remembered one is proved to extend it; a fork is still caught."""
    provider = "kiteworld"
    page.goto(site.base)
    page.evaluate("localStorage.clear()")
    size = site.ledger.size
    older = site.ledger.checkpoint_at(size - 3)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))

    def serve_older(route: Any) -> None:
        route.fulfill(status=200, body=older, content_type="text/plain; charset=utf-8")

    try:
        assert _verify(page, site.base, provider)["outcome"] == "ok"  # remembers `size`
        vkey = site.ledger.note_verifier.vkey()
        latest = _trusted(page, vkey)
        assert latest["size"] == size
        page.route("**/v1/log/checkpoint", serve_older)
        got = _verify(page, site.base, provider)
        assert (got["outcome"], got["history"]) == ("ok", "older"), got
        assert f"older checkpoint ({size - 3} entries" in got["text"]
        assert f"/bundle?size={size - 3}" in " ".join(requested)
        assert _trusted(page, vkey)["size"] == size  # the newer one is kept
        _trust(page, vkey, size, "22" * 32)  # the browser saw another history at `size`
        got = _verify(page, site.base, provider)
        assert (got["outcome"], got["kind"]) == ("failed", "ProofError"), got
        assert "history was rewritten" in got["text"]
    finally:
        page.unroute("**/v1/log/checkpoint")
        page.evaluate("localStorage.clear()")


# -- a lying server: the bundle cut short, re-encoded canonically -------------------------------


def _drop(bundle: Bundle, keep: Callable[[BundleEntry], bool]) -> dict[str, Any]:
    obj = bundle.to_dict()
    obj["entries"] = [e.to_dict() for e in bundle.entries if keep(e)]
    return obj


def _kind_of(entry: BundleEntry | LogEntry) -> str:
    return str(canonical.decode_object(Envelope.parse_stored(entry.envelope).payload)["kind"])


def _refused(got: dict[str, str], kind: str, words: str) -> None:
    assert (got["outcome"], got.get("kind")) == ("failed", kind), got
    assert words in got["text"], got["text"]
    assert "Record verified" not in got["text"]


def test_a_lying_server_that_cuts_the_tail_of_a_stream_is_caught(site: Site, page: Any) -> None:
    provider = "pixelstream"
    stream = site.ledger.stream_entries(provider)
    last = stream[-1].index
    assert _verify(page, site.base, provider)["outcome"] == "ok"
    with site.lie.lying(lambda b: _drop(b, lambda e: e.index != last)):
        got = _verify(page, site.base, provider)
    _refused(got, "IncompleteRecordError", f"counts {len(stream)} entries in stream {provider}")
    assert f"the record of {provider} is incomplete" in got["text"]


def test_a_lying_server_that_drops_a_middle_entry_is_caught(site: Site, page: Any) -> None:
    provider = "nimbus-drive"
    stream = site.ledger.stream_entries(provider)
    gone = stream[1]
    with site.lie.lying(lambda b: _drop(b, lambda e: e.index != gone.index)):
        got = _verify(page, site.base, provider)
    _refused(got, "IncompleteRecordError", f"position {gone.position} is missing")
    assert (got["index"], got["stream"]) == (str(stream[2].index), provider)


def test_a_lying_server_with_an_old_state_proof_is_caught(site: Site, page: Any) -> None:
    """The entries and the checkpoint are the newest, the state proof is of an older size (it
    counts fewer entries of the stream): it is not about the tree's last leaf."""
    provider = "kiteworld"
    older = site.ledger.stream_entries(provider)[-1].index  # before the stream's last entry

    def old_state(b: Bundle) -> dict[str, Any]:
        obj = b.to_dict()
        records = [(r.kind, r.ident) for r in b.state.records]
        obj["state"] = site.ledger.state_proof(older, records).to_dict()
        return obj

    with site.lie.lying(old_state):
        got = _verify(page, site.base, provider)
    _refused(got, "ProofError", "not the last index of the checkpoint's tree")


@pytest.fixture(scope="module")
def flagged_liar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Lie]]:
    """The flagged story (a verifier who signed on acme-social was suspended, another one's
    signing key revoked, both after they signed) behind a server that can be made to lie."""
    root = tmp_path_factory.mktemp("flagged-liar")
    log = build_flagged(f"sqlite:///{root / 'ledger.db'}")
    lie = Lie()
    try:
        with serving(log.ledger, log.now_ms, lie) as base:
            yield base, lie
    finally:
        log.ledger.close()


@pytest.mark.parametrize(
    ("kind", "party"),
    [("key.revoke", FLAG_W), ("accreditation.suspend", FLAG_V)],
    ids=["key-revocation", "suspension"],
)
def test_a_lying_server_that_hides_a_verifiers_revocation_or_suspension_is_caught(
    flagged_liar: tuple[str, Lie], page: Any, kind: str, party: str
) -> None:
    base, lie = flagged_liar
    assert _verify(page, base, FLAG_P)["outcome"] == "ok"
    with lie.lying(lambda b: _drop(b, lambda e: e.stream != "registry" or _kind_of(e) != kind)):
        got = _verify(page, base, FLAG_P)
    _refused(got, "IncompleteRecordError", f"the registry record of {party} is incomplete")


# -- verdicts flagged later, and the feeds ------------------------------------------------------


@pytest.fixture(scope="module")
def flagged_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FlaggedLog]]:
    root = tmp_path_factory.mktemp("flagged")
    log = build_flagged(f"sqlite:///{root / 'ledger.db'}")
    try:
        with serving(log.ledger, log.now_ms) as base:
            yield base, log
    finally:
        log.ledger.close()


NEF_INK = "rgb(138, 58, 0)"  # site.css --nef-ink: 6.9:1 on white and on --nef-bg


def test_flagged_verdicts_are_visible_marks_with_words(
    flagged_site: tuple[str, FlaggedLog], page: Any
) -> None:
    base, log = flagged_site
    page.goto(f"{base}/")
    cell = page.locator(f"td[data-provider='{FLAG_P}'][data-measure='detect.hash_known_image']")
    mark = cell.locator("[data-flag='verifier-suspended']")
    assert mark.is_visible()
    assert mark.inner_text().strip() == "verifier since suspended"
    assert mark.evaluate("e => getComputedStyle(e).color") == NEF_INK
    assert cell.get_attribute("data-status") == "confirmed"
    assert cell.locator(".status-label").inner_text() == "Confirmed"
    revoked = page.locator(
        f"td[data-provider='{FLAG_P}'][data-measure='detect.hash_known_video'] "
        "[data-flag='key-revoked']"
    )
    assert revoked.is_visible()

    page.goto(f"{base}/providers/{FLAG_P}")
    card = page.locator(f"li[data-claim='{log.claims['p-img']}']")
    flag = card.locator("p.flag[data-flag='verifier-suspended']")
    assert flag.is_visible()
    assert "The verifier's accreditation was suspended on" in flag.inner_text()
    assert flag.evaluate("e => getComputedStyle(e).color") == NEF_INK
    box = flag.bounding_box()
    assert box is not None
    assert box["height"] > 10
    _screenshot(page, "provider-flagged.png")


def test_the_feeds_linked_from_the_heads_are_atom_xml(
    flagged_site: tuple[str, FlaggedLog], page: Any
) -> None:
    base, _ = flagged_site
    for url, count in ((f"{base}/", 1), (f"{base}/providers/{FLAG_P}", 2)):
        page.goto(url)
        hrefs = page.eval_on_selector_all(
            "head link[rel=alternate][type='application/atom+xml']", "ls => ls.map(l => l.href)"
        )
        assert len(hrefs) == count
        for href in hrefs:
            got = page.evaluate(
                """async href => {
                    const r = await fetch(href);
                    const text = await r.text();
                    const doc = new DOMParser().parseFromString(text, "application/xml");
                    return {
                        type: r.headers.get("content-type"),
                        error: doc.getElementsByTagName("parsererror").length,
                        ns: doc.documentElement.namespaceURI,
                        entries: doc.getElementsByTagNameNS(
                            "http://www.w3.org/2005/Atom", "entry").length,
                    };
                }""",
                href,
            )
            assert got["type"].startswith("application/atom+xml"), got
            assert got["error"] == 0, got
            assert got["ns"] == "http://www.w3.org/2005/Atom", got
            assert got["entries"] > 0, got
