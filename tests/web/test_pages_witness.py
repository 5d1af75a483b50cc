"""The "Verify this record" button with witnesses (SPEC §12), in real headless Chromium.

The demo ledger runs behind the real app on 127.0.0.1, wrapped in :class:`Witnessed`, an ASGI
wrapper that answers the two witness endpoints the way a server with a witness policy does:
``GET /v1/log/witness-policy`` (the C2SP tlog-policy text) and
``GET /v1/log/checkpoint/cosigned`` (the log's checkpoint with witness cosignature lines, made
here with ``attest.cosignature``), each a 404 problem when unset. Everything else, the bundle
for the cosigned size included, is the real app's. The page must verify the record against the
cosigned checkpoint, list the witnesses it checked (Ed25519, and ML-DSA-44 where WebCrypto has
it), say plainly which it cannot check (a browser without ML-DSA-44 is simulated by an init
script that makes WebCrypto refuse it), fail below quorum (``QuorumError``), and without a
policy say the record is checked against the log's own signature only.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import keys
from attest.cosignature import CosignerSigner, cosign
from ledger import Ledger
from tests.web.test_pages import make_demo, open_demo
from tests.web.test_pages_browser import (
    Lie,
    Receive,
    Scope,
    Send,
    _screenshot,
    _trust,
    _verify,
    browser,  # noqa: F401 -- the module's Chromium, a fixture
    console_error,
    serving,
)

pytestmark = pytest.mark.browser

PROVIDER = "kiteworld"
# The command is set in <code> (innerText drops the markup).
MLDSA_WORDS = (
    "this browser cannot check post-quantum ML-DSA-44 signatures; use claimledger verify --policy"
)
# A browser whose WebCrypto has no ML-DSA-44 (as most browsers in 2026): importKey refuses it.
NO_MLDSA = """
(() => {
  const importKey = SubtleCrypto.prototype.importKey;
  SubtleCrypto.prototype.importKey = function (format, data, alg, ...rest) {
    const name = typeof alg === "string" ? alg : alg && alg.name;
    if (String(name).startsWith("ML-DSA")) {
      return Promise.reject(new DOMException("Algorithm: Unrecognized name", "NotSupportedError"));
    }
    return importKey.call(this, format, data, alg, ...rest);
  };
})();
"""


class Witnessed(Lie):
    """The real app, plus the witness endpoints answered from :attr:`policy` and
    :attr:`cosigned` (404 problem+json when None). It records the bundle queries it passes on."""

    def __init__(self) -> None:
        super().__init__()
        self.policy: bytes | None = None
        self.cosigned: bytes | None = None
        self.bundle_queries: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        path = scope.get("path", "")
        served = {
            "/v1/log/witness-policy": self.policy,
            "/v1/log/checkpoint/cosigned": self.cosigned,
        }
        if scope["type"] != "http" or path not in served:
            if path.endswith("/bundle"):
                self.bundle_queries.append(scope.get("query_string", b"").decode())
            await self.app(scope, receive, send)
            return
        body = served[path]
        if body is None:
            problem = {"type": "about:blank", "title": "Not Found", "status": 404, "detail": path}
            data, status, ctype = json.dumps(problem).encode(), 404, b"application/problem+json"
        else:
            data, status, ctype = body, 200, b"text/plain; charset=utf-8"
        headers = [(b"content-type", ctype), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


@dataclass
class WitnessSite:
    base: str
    ledger: Ledger
    server: Witnessed


@pytest.fixture(scope="module")
def wsite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WitnessSite]:
    root = tmp_path_factory.mktemp("witness-site")
    info, today = make_demo(root)
    ledger = open_demo(info)
    wrapper = Witnessed()
    try:
        with serving(ledger, today, wrapper) as base:
            yield WitnessSite(base, ledger, wrapper)
    finally:
        ledger.close()


@pytest.fixture
def wpage(browser: Any, wsite: WitnessSite) -> Iterator[Any]:  # noqa: F811
    """A fresh tab with no remembered checkpoint; fails the test on any script error."""
    errors: list[str] = []
    p = browser.new_page()
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.on("console", lambda m: errors.append(e) if (e := console_error(m)) else None)
    p.goto(wsite.base)
    p.evaluate("localStorage.clear()")
    wsite.server.bundle_queries.clear()
    try:
        yield p
        assert not errors, errors
    finally:
        wsite.server.policy = None
        wsite.server.cosigned = None
        p.evaluate("localStorage.clear()")
        p.close()


ED_A = CosignerSigner("witness.example/a", keys.PrivateKey.from_seed(b"\xa1" * 32))
ED_B = CosignerSigner("witness.example/b", keys.PrivateKey.from_seed(b"\xb2" * 32))
ML_C = CosignerSigner.mldsa44_from_seed("witness.example/c", b"\xc3" * 32)
STRANGER = CosignerSigner("witness.example/x", keys.PrivateKey.from_seed(b"\xee" * 32))


def _policy(ledger: Ledger, *groups: str, quorum: str) -> bytes:
    lines = [
        "# the witness policy of this ledger",
        f"log {ledger.note_verifier.vkey()}",
        f"witness A {ED_A.verifier.vkey()} https://a.example/",
        f"witness B {ED_B.verifier.vkey()}",
        f"witness C {ML_C.verifier.vkey()}",
        *groups,
        f"quorum {quorum}",
    ]
    return "".join(line + "\n" for line in lines).encode()


def _cosigned(ledger: Ledger, *signers: CosignerSigner) -> bytes:
    note = ledger.checkpoint()
    return note + b"".join(cosign(note, s, 1_800_000_000 + n) for n, s in enumerate(signers))


def _mldsa(page: Any) -> str:
    """What this browser's WebCrypto offers for ML-DSA-44, as verify.js finds it."""
    backend: str = page.evaluate(
        """async () => (await import("/static/verify.js")).mldsaBackend()"""
    )
    return backend


def _words(got: dict[str, str]) -> str:
    return " ".join(got["text"].split())


def test_quorum_met_lists_the_witnesses_checked(wsite: WitnessSite, wpage: Any) -> None:
    ledger = wsite.ledger
    wsite.server.policy = _policy(ledger, "group Q 2 A B C", quorum="Q")
    wsite.server.cosigned = _cosigned(ledger, ED_A, ML_C, STRANGER)
    mldsa = _mldsa(wpage)
    got = _verify(wpage, wsite.base, PROVIDER)
    assert got["outcome"] == "ok", got
    text = _words(got)
    assert "Record verified" in text
    assert got["policy"] == "server"
    assert got["quorum"] == "Q"
    size = ledger.size
    assert got["complete"] == str(size)
    assert f"the checkpoint of size {size} meets the quorum Q" in text
    assert "A (witness.example/a, Ed25519)" in text
    if mldsa == "webcrypto":  # Chromium 156 has ML-DSA-44 in WebCrypto: C is checked too
        assert (got["witnesses"], got["unchecked"]) == ("A C", "")
        assert "C (witness.example/c, ML-DSA-44)" in text
        assert MLDSA_WORDS not in text
    else:
        assert (got["witnesses"], got["unchecked"]) == ("A", "C")
    assert "witness.example/x" not in text  # not a policy witness: ignored
    assert wsite.server.bundle_queries == [f"size={size}"]
    _screenshot(wpage, "provider-witnessed.png")


def test_without_ml_dsa_the_page_says_what_it_cannot_check(wsite: WitnessSite, wpage: Any) -> None:
    ledger = wsite.ledger
    wsite.server.policy = _policy(ledger, "group Q any A C", quorum="Q")
    wsite.server.cosigned = _cosigned(ledger, ED_A, ML_C)
    wpage.add_init_script(NO_MLDSA)
    got = _verify(wpage, wsite.base, PROVIDER)
    assert got["outcome"] == "ok", got
    assert (got["witnesses"], got["unchecked"]) == ("A", "C")
    text = _words(got)
    assert f"Not checked: C (witness.example/c, ML-DSA-44): {MLDSA_WORDS}." in text
    assert "do not count toward the quorum" in text
    _screenshot(wpage, "provider-witnessed-no-ml-dsa.png")


def test_below_quorum_is_a_failure(wsite: WitnessSite, wpage: Any) -> None:
    ledger = wsite.ledger
    wsite.server.policy = _policy(ledger, "group AB all A B", "group Q any AB", quorum="Q")
    wsite.server.cosigned = _cosigned(ledger, ED_A, ML_C, STRANGER)
    got = _verify(wpage, wsite.base, PROVIDER)
    assert got["outcome"] == "failed", got
    assert got["kind"] == "QuorumError"
    text = _words(got)
    assert "Record verified" not in text
    assert "below the quorum Q" in text
    checked = "A C" if _mldsa(wpage) == "webcrypto" else "A"
    assert f"Cosigned (checked in your browser) by: {checked.replace(' ', ', ')}." in text
    assert "group AB needs 2 of 2 (A, B), has 1 (A)" in text
    assert "witness B did not cosign" in text
    assert got["witnesses"] == checked
    assert wsite.server.bundle_queries == []  # refused before the record is downloaded
    _screenshot(wpage, "provider-below-quorum.png")


def test_below_quorum_without_ml_dsa_names_the_uncheckable(wsite: WitnessSite, wpage: Any) -> None:
    ledger = wsite.ledger
    wsite.server.policy = _policy(ledger, quorum="C")
    wsite.server.cosigned = _cosigned(ledger, ED_A, ML_C)
    wpage.add_init_script(NO_MLDSA)
    got = _verify(wpage, wsite.base, PROVIDER)
    assert (got["outcome"], got["kind"]) == ("failed", "QuorumError")
    assert got["unchecked"] == "C"
    text = _words(got)
    assert f"Not checked: C: {MLDSA_WORDS}." in text
    assert "witness C did not cosign" in text


def test_a_policy_but_no_cosigned_checkpoint_is_below_quorum(
    wsite: WitnessSite, wpage: Any
) -> None:
    wsite.server.policy = _policy(wsite.ledger, quorum="A")
    got = _verify(wpage, wsite.base, PROVIDER)
    assert (got["outcome"], got["kind"]) == ("failed", "QuorumError")
    assert "no checkpoint cosigned by its witnesses" in _words(got)


def test_a_forged_cosignature_fails(wsite: WitnessSite, wpage: Any) -> None:
    ledger = wsite.ledger
    wsite.server.policy = _policy(ledger, quorum="A")
    note = ledger.checkpoint()
    other = note.replace(b"\n\n", b"\nextension\n\n", 1)
    # A's cosignature of another text, moved onto the real note.
    line = cosign(other, ED_A, 1_800_000_000)
    wsite.server.cosigned = note + line
    got = _verify(wpage, wsite.base, PROVIDER)
    assert (got["outcome"], got["kind"]) == ("failed", "CosignatureError"), got


def test_without_a_policy_the_log_signature_only(wsite: WitnessSite, wpage: Any) -> None:
    got = _verify(wpage, wsite.base, PROVIDER)
    assert got["outcome"] == "ok", got
    assert got["policy"] == "none"
    assert "quorum" not in got
    text = _words(got)
    assert "Checked against the log's own signature only" in text
    assert "no independent witness has cosigned the checkpoint" in text
    # The record for the latest checkpoint's size (a URL any cache may keep).
    assert wsite.server.bundle_queries == [f"size={wsite.ledger.size}"]


# --- The real endpoints: create_app(witness_policy=...), cosigned checkpoints kept in the ledger


@dataclass
class RealSite:
    base: str
    ledger: Ledger


@pytest.fixture(scope="module")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealSite]:
    root = tmp_path_factory.mktemp("witnessed-site")
    info, today = make_demo(root)
    ledger = open_demo(info)
    policy = _policy(ledger, "group Q 2 A B C", quorum="Q")
    try:
        with serving(ledger, today, witness_policy=policy) as base:
            yield RealSite(base, ledger)
    finally:
        ledger.close()


def test_the_real_endpoints_older_cosigned_checkpoint(real_site: RealSite, wpage: Any) -> None:
    """Against the app's own /v1/log/witness-policy, /v1/log/checkpoint/cosigned and
    bundle?size=: nothing cosigned yet is a failure; then a checkpoint one entry behind the log,
    cosigned by A and C, verifies at its size, as a prefix of a larger one this browser trusts."""
    ledger = real_site.ledger
    got = _verify(wpage, real_site.base, PROVIDER)
    assert (got["outcome"], got["kind"]) == ("failed", "QuorumError"), got
    size = ledger.size - 1
    older = ledger.checkpoint_at(size)
    signers = (ED_A, ML_C) if _mldsa(wpage) == "webcrypto" else (ED_A, ED_B)
    ledger.keep_cosigned(older + b"".join(cosign(older, s, 1_800_000_000) for s in signers))
    latest = ledger.checkpoint().decode().split("\n")
    root = base64.b64decode(latest[2]).hex()
    _trust(wpage, ledger.note_verifier.vkey(), ledger.size, root)
    got = _verify(wpage, real_site.base, PROVIDER)
    assert got["outcome"] == "ok", got
    assert got["complete"] == str(size)
    assert got["witnesses"] == ("A C" if ML_C in signers else "A B")
    text = _words(got)
    assert f"the checkpoint of size {size} meets the quorum Q" in text
    assert (
        f"a prefix of the checkpoint verified on 2026-01-01T00:00:00Z ({ledger.size} entries)"
        in text
    )
    # A remembered checkpoint of the log's size with another root: the cosigned one is not its
    # prefix, and the page says so.
    _trust(wpage, ledger.note_verifier.vkey(), ledger.size, "00" * 32)
    got = _verify(wpage, real_site.base, PROVIDER)
    assert (got["outcome"], got["kind"]) == ("failed", "ProofError"), got
    assert "not a prefix of it" in _words(got)
