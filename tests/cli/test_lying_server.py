"""A server that hides part of one company's record is caught by ``claimledger verify COMPANY``
and by the offline bundle check (SPEC §10.3, §11).

A real ``claimledger serve`` process runs behind a lying proxy on loopback. The proxy passes every
request through, except the company's bundle, which it cuts in one of the ways a dishonest
operator would — and re-encodes canonically, so that nothing but the content gives it away.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from attest import canonical
from tests.attest.examples import example_test_record_body
from tests.cli.conftest import AUTHORITY, PROVIDER, VERIFIER, Proc, World, claim_body, serving
from tests.conftest import loopback_http

Json = dict[str, Any]
Lie = Callable[[Json], None]


@contextmanager
def lying_proxy(upstream: str, lie: Lie | None) -> Iterator[str]:
    """An HTTP proxy on loopback to ``upstream`` that passes ``lie`` every bundle it serves."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            r = httpx.get(upstream + self.path, timeout=30)
            body = r.content
            if lie is not None and self.path.split("?")[0].endswith("/bundle") and r.is_success:
                bundle = json.loads(body)
                lie(bundle)
                body = canonical.encode(bundle)
            self.send_response(r.status_code)
            self.send_header("content-type", r.headers.get("content-type", "application/json"))
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with loopback_http(Handler) as url:
        yield url


def _kind(entry: Json) -> str:
    payload = json.loads(entry["envelope"])["payload"]
    return str(json.loads(base64.b64decode(payload))["kind"])


def _company(bundle: Json) -> list[Json]:
    return [e for e in bundle["entries"] if e["stream"] == PROVIDER]


def drop_tail(bundle: Json) -> None:
    bundle["entries"].remove(_company(bundle)[-1])


def drop_middle(bundle: Json) -> None:
    bundle["entries"].remove(_company(bundle)[1])


def hide_suspension(bundle: Json) -> None:
    (suspend,) = [e for e in bundle["entries"] if _kind(e) == "accreditation.suspend"]
    bundle["entries"].remove(suspend)


def hide_revocation(bundle: Json) -> None:
    (revoke,) = [e for e in bundle["entries"] if _kind(e) == "key.revoke"]
    bundle["entries"].remove(revoke)


def _record(w: World, tmp_path: Path) -> None:
    """Two claims, a test and a verdict on the first, then the verifier's suspension and the
    revocation of the key it signed with."""
    body = tmp_path / "claim.json"
    body.write_text(json.dumps(claim_body()))
    c = str(
        w.cli.json("claim", "publish", *w.db(), *w.as_party(PROVIDER), "--body", body)["digest"]
    )
    test_file = tmp_path / "test.json"
    test_file.write_text(json.dumps(example_test_record_body(c)))
    t = str(
        w.cli.json(
            "test",
            "record",
            *w.db(),
            *w.as_party(VERIFIER),
            "--provider",
            PROVIDER,
            "--body",
            test_file,
        )["digest"]
    )
    w.cli(
        "verdict",
        "issue",
        *w.db(),
        *w.as_party(VERIFIER),
        *("--provider", PROVIDER, "--claim", c, "--test", t, "--result", "CONFIRMED"),
        *("--assurance", "limited", "--scope-surface", "public_posts"),
        *("--scope-jurisdiction", "GB", "--scope-match", "full"),
        *("--valid-until", "2099-01-01T00:00:00Z", "--conflicts-of-interest", "none declared"),
    )
    body.write_text(json.dumps(claim_body("report.authority")))
    w.cli("claim", "publish", *w.db(), *w.as_party(PROVIDER), "--body", body)
    w.cli(
        "accredit",
        "suspend",
        VERIFIER,
        *w.db(),
        *("--key", w.key("authority"), "--signer", AUTHORITY, "--reason", "conflict of interest"),
    )
    w.cli(
        "key",
        "revoke",
        VERIFIER,
        *w.db(),
        *("--public-key", w.key(VERIFIER), "--reason", "lost laptop"),
        *("--key", w.key("authority"), "--signer", AUTHORITY),
    )


@pytest.mark.parametrize(
    ("lie", "message"),
    [
        (drop_tail, "the record of acme-social is incomplete: the log's state at size"),
        (drop_middle, "the record of acme-social is incomplete: position 1 is missing"),
        (hide_suspension, "the registry record of safecheck-labs is incomplete"),
        (hide_revocation, "the registry record of safecheck-labs is incomplete"),
    ],
    ids=["tail of the stream", "middle entry", "hidden suspension", "hidden key revocation"],
)
def test_a_lying_server_is_caught_by_verify_and_by_the_bundle_check(
    world: World, proc: Proc, tmp_path: Path, lie: Lie, message: str
) -> None:
    """On SQLite and PostgreSQL."""
    w = world
    _record(w, tmp_path)
    with serving(proc, w.url, w.key("log")) as server:
        with lying_proxy(server, None) as honest:
            out = proc("verify", PROVIDER, "--server", honest, "--genesis", w.fingerprint).stdout
            assert "complete at tree size" in out
            assert "2 claim versions, 1 test records, 1 verdicts" in out
        with lying_proxy(server, lie) as liar:
            bad = proc("verify", PROVIDER, "--server", liar, code=1)
            assert "verification FAILED" in bad.stderr
            assert message in bad.stderr
            assert "Traceback" not in bad.stderr
            proc("export", PROVIDER, "--server", liar, "-o", tmp_path / "cut.bundle.json")
    bad = proc("verify", "--bundle", tmp_path / "cut.bundle.json", code=1)
    assert message in bad.stderr


def test_an_old_record_with_a_new_checkpoint_is_caught(
    world: World, proc: Proc, tmp_path: Path
) -> None:
    """The server keeps showing the company's record as it was (entries and state proof of an
    older size) under its newest checkpoint; caught by ``verify COMPANY`` and by the check of the
    bundle exported through it, on SQLite and PostgreSQL."""
    w = world
    with serving(proc, w.url, w.key("log")) as server:
        body = tmp_path / "claim.json"
        body.write_text(json.dumps(claim_body()))
        s = ["--server", server]
        proc("claim", "publish", *s, *w.as_party(PROVIDER), "--body", body)
        old = httpx.get(f"{server}/v1/streams/{PROVIDER}/bundle").json()
        body.write_text(json.dumps(claim_body("report.authority")))
        proc("claim", "publish", *s, *w.as_party(PROVIDER), "--body", body)

        def stale_state(bundle: Json) -> None:
            bundle["state"] = old["state"]

        def stale_entries(bundle: Json) -> None:
            bundle["entries"] = bundle["entries"][: len(old["entries"])]

        lies = [
            (stale_state, "not the last index of the checkpoint's tree"),
            (stale_entries, "the record of acme-social is incomplete"),
        ]
        for number, (lie, message) in enumerate(lies):
            with lying_proxy(server, lie) as liar:
                bad = proc("verify", PROVIDER, "--server", liar, code=1)
                assert message in bad.stderr
                assert "Traceback" not in bad.stderr
                cut = tmp_path / f"old-{number}.bundle.json"
                proc("export", PROVIDER, "--server", liar, "-o", cut)
            bad = proc("verify", "--bundle", cut, code=1)
            assert message in bad.stderr
