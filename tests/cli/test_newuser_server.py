"""A new user's day against a real ``claimledger serve`` process (issue 15): a provider onboarded
from its request, claims superseded and replied to by digest prefix, every schema problem named,
and one root, in base64, in the CLI, the API and the page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from attest import canonical
from attest.dsse import sign_envelope
from keys import PrivateKey
from tests.attest.examples import example_test_record_body, example_verdict_body
from tests.cli.conftest import AUTHORITY, VERIFIER, Proc, World, claim_body, one_line_error, serving
from tests.cli.test_verify_contents import contents, root_line

NEW = "newco-chat"


def test_a_new_provider_against_a_real_server(
    sqlite_world: World, proc: Proc, tmp_path: Path
) -> None:
    world, cli = sqlite_world, sqlite_world.cli
    with serving(proc, world.url, world.key("log")) as base:
        server: list[str | Path] = ["--server", base]
        # onboarding: the provider's request, registered by the authority through the server
        key = tmp_path / "newco.key"
        out = cli(
            "onboard",
            "request",
            "--party",
            NEW,
            "--name",
            "NewCo Chat Ltd",
            "--jurisdiction",
            "IE",
            "--key-out",
            key,
            "--unsafe-unencrypted",
        )
        request = tmp_path / "request.json"
        request.write_text(out.stdout)
        authority: list[str | Path] = [
            *server,
            "--key",
            world.key("authority"),
            "--signer",
            AUTHORITY,
        ]
        cli("register", "--from-request", request, *authority)
        me: list[str | Path] = [*server, "--key", key, "--signer", NEW]

        # every problem of a bad claim on one line: found before signing, and by the server
        body = {**claim_body(), "colour": "red", "status": "maybe"}
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(body))
        line = one_line_error(cli("claim", "publish", *me, "--body", bad, code=1).stderr)
        assert "invalid statement: 2 problems: /body/status: " in line
        assert "; /body/colour: " in line
        head = httpx.get(f"{base}/v1/streams/{NEW}").json()["head"]
        statement = {
            "v": 1,
            "kind": "claim.publish",
            "stream": NEW,
            "prev": head,
            "signer": NEW,
            "signedAt": "2026-12-01T00:00:00Z",
            "body": body,
        }
        envelope = sign_envelope(canonical.encode(statement), PrivateKey.load(key, None))
        (tmp_path / "bad.env").write_bytes(envelope.to_bytes())
        line = one_line_error(cli("submit", tmp_path / "bad.env", *server, code=1).stderr)
        assert "server refused (422): " in line
        assert "2 problems: /body/status: " in line
        assert "; /body/colour: " in line

        good = tmp_path / "claim.json"
        good.write_text(json.dumps({**claim_body(), "services": ["NewCo Chat"]}))
        first = cli.json("claim", "publish", *me, "--body", good)["digest"]
        # supersede by a prefix, changing one member; the rest comes from the server
        v2 = cli.json("claim", "supersede", first[:12], *me, "--status", "pilot")["digest"]
        entries = httpx.get(f"{base}/v1/streams/{NEW}/entries").text.splitlines()
        assert len(entries) == 2

        # a verifier's test and verdict, and the provider's reply by prefix
        verifier: list[str | Path] = [*server, *world.as_party(VERIFIER), "--provider", NEW]
        t = tmp_path / "t.json"
        t.write_text(json.dumps(example_test_record_body(v2)))
        test = cli.json("test", "record", *verifier, "--body", t)["digest"]
        t.write_text(json.dumps(example_verdict_body(v2, [test])))
        verdict = cli.json("verdict", "issue", *verifier, "--body", t)["digest"]
        cli("reply", *me, "--verdict", verdict[:14], "--text", "Thank you.")

        # verify says what it verified; the root is the same string everywhere
        whole = cli("verify", *server).stdout
        size = httpx.get(f"{base}/v1/log").json()["checkpoint"]["size"]
        assert contents(whole)[0] == size
        assert contents(whole)[1:] == (2, 1, 1, 1, 0)
        record = cli("verify", NEW, *server).stdout
        assert contents(record) == (5, 2, 1, 1, 1, 0)
        root = root_line(whole)
        assert root_line(record) == root
        assert httpx.get(f"{base}/v1/log").json()["checkpoint"]["root"] == root
        assert httpx.get(f"{base}/v1/log/checkpoint").text.split("\n")[2] == root
        page = httpx.get(f"{base}/log").text
        assert re.search(rf'id="checkpoint-root">{re.escape(root)}<', page)
