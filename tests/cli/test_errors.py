"""Bad input for every command: a specific one-line message, the documented exit code, no writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import PROVIDER, VERIFIER, Cli, World, claim_body, one_line_error

Case = Callable[[World, Path], list[str | Path]]


def _body(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _publish(w: World, *extra: str | Path) -> list[str | Path]:
    return ["claim", "publish", *w.db(), *w.as_party(PROVIDER), *extra]


CASES: dict[str, tuple[Case, int, str]] = {
    "claim missing fields": (
        lambda w, t: _publish(w, "--measure", "detect.hash_known_image"),
        1,
        # every problem, one line: "7 problems: /body/services: ...; /body/surfaces: ...; ..."
        "invalid statement: 7 problems: /body/services: missing required field 'services' in "
        "/body; /body/surfaces: missing required field 'surfaces' in /body; /body/jurisdictions",
    ),
    "claim unknown measure": (
        lambda w, t: _publish(
            w,
            "--body",
            _body(t, "b.json", json.dumps({**claim_body(), "measure": "detect.mind_reading"})),
        ),
        1,
        "invalid statement",
    ),
    "body file missing": (
        lambda w, t: _publish(w, "--body", t / "nope.yaml"),
        2,
        "cannot read body file",
    ),
    "body file not yaml": (
        lambda w, t: _publish(w, "--body", _body(t, "b.yaml", "a: [1, 2\n")),
        2,
        "is not valid JSON/YAML",
    ),
    "body file nested too deeply": (
        lambda w, t: _publish(w, "--body", _body(t, "b.json", "[" * 100_000 + "]" * 100_000)),
        2,
        "is not valid JSON/YAML: nested too deeply",
    ),
    "details nested too deeply": (
        lambda w, t: _publish(w, "--details", "[" * 100_000),
        2,
        "Invalid value for --details: not valid JSON: nested too deeply",
    ),
    "body file not an object": (
        lambda w, t: _publish(w, "--body", _body(t, "b.json", "[1]")),
        2,
        "must hold a JSON object",
    ),
    "body with a float": (
        lambda w, t: _publish(w, "--body", _body(t, "b.yaml", "metrics:\n  - value: 0.5\n")),
        2,
        "/metrics/0/value: 0.5 is a decimal number",
    ),
    "details not json": (
        lambda w, t: _publish(w, "--details", "{nope"),
        2,
        "Invalid value for --details: not valid JSON",
    ),
    "key file missing": (
        lambda w, t: [
            "claim",
            "publish",
            *w.db(),
            "--key",
            t / "none.key",
            "--signer",
            PROVIDER,
            "--body",
            _body(t, "b.json", json.dumps(claim_body())),
        ],
        2,
        "none.key: No such file or directory",
    ),
    "not a key file": (
        lambda w, t: [
            "claim",
            "publish",
            *w.db(),
            "--key",
            _body(t, "k.pem", "hello"),
            "--signer",
            PROVIDER,
            "--body",
            _body(t, "b.json", json.dumps(claim_body())),
        ],
        2,
        "key: ",
    ),
    "unregistered signer": (
        lambda w, t: [
            "claim",
            "publish",
            *w.db(),
            "--key",
            w.key("authority"),
            "--signer",
            "nobody-here",
            "--body",
            _body(t, "b.json", json.dumps(claim_body())),
        ],
        1,
        "unknown key",
    ),
    "provider writes a test record": (
        lambda w, t: [
            "test",
            "record",
            *w.db(),
            *w.as_party(PROVIDER),
            "--provider",
            PROVIDER,
            "--body",
            _body(t, "t.json", json.dumps(_test_body(w.publish()))),
        ],
        1,
        "not authorised",
    ),
    "verdict claim not hex": (
        lambda w, t: [
            "verdict",
            "issue",
            *w.db(),
            *w.as_party(VERIFIER),
            "--provider",
            PROVIDER,
            "--claim",
            "xyz",
        ],
        2,
        "Invalid value for --claim: must be 64 lowercase hex characters",
    ),
    "withdraw unknown claim": (
        lambda w, t: [
            "claim",
            "withdraw",
            "ab" * 32,
            *w.db(),
            *w.as_party(PROVIDER),
            "--reason",
            "x",
        ],
        1,
        "dangling reference",
    ),
    "supersede an unknown claim": (
        lambda w, t: [
            "claim",
            "supersede",
            "cd" * 32,
            *w.db(),
            *w.as_party(PROVIDER),
            "--body",
            _body(t, "b.json", json.dumps(claim_body())),
        ],
        1,
        "dangling reference",
    ),
    "reply to an unknown verdict": (
        lambda w, t: [
            "reply",
            *w.db(),
            *w.as_party(PROVIDER),
            "--verdict",
            "ef" * 32,
            "--text",
            "We disagree.",
        ],
        1,
        "dangling reference",
    ),
    "accredit an unknown measure": (
        lambda w, t: [
            "accredit",
            "grant",
            VERIFIER,
            *w.db(),
            "--key",
            w.key("authority"),
            "--signer",
            "test-authority",
            "--scheme",
            "S",
            "--measure",
            "detect.vibes",
        ],
        1,
        "invalid statement",
    ),
    "suspend a provider's accreditation": (
        lambda w, t: [
            "accredit",
            "suspend",
            PROVIDER,
            *w.db(),
            "--key",
            w.key("authority"),
            "--signer",
            "test-authority",
            "--reason",
            "x",
        ],
        1,
        "dangling reference",
    ),
    "add a key that is not a key": (
        lambda w, t: [
            "key",
            "add",
            PROVIDER,
            *w.db(),
            *w.as_party(PROVIDER),
            "--public-key",
            _body(t, "k.pub", "not a key"),
        ],
        2,
        "key: ",
    ),
    "demo reset on postgres": (
        lambda w, t: ["demo", "--db", "postgresql://u@127.0.0.1:1/x", "--reset", "--no-serve"],
        2,
        "--reset only deletes SQLite files",
    ),
    "register by a non-authority": (
        lambda w, t: [
            "party",
            "register",
            "newco",
            *w.db(),
            *w.as_party(PROVIDER),
            "--role",
            "provider",
            "--name",
            "NewCo",
            "--jurisdiction",
            "US",
            "--public-key",
            w.key(VERIFIER),
        ],
        1,
        "not authorised",
    ),
    "register a bad public key": (
        lambda w, t: [
            "party",
            "register",
            "newco",
            *w.db(),
            "--key",
            w.key("authority"),
            "--signer",
            "test-authority",
            "--role",
            "provider",
            "--name",
            "NewCo",
            "--jurisdiction",
            "US",
            "--public-key",
            "A" * 43 + "=",
        ],
        2,
        "key: ",
    ),
    "revoke without a key": (
        lambda w, t: ["key", "revoke", PROVIDER, *w.db(), *w.as_party(PROVIDER), "--reason", "x"],
        2,
        "give exactly one of --key-id or --public-key",
    ),
    "db and server": (
        lambda w, t: [*_publish(w), "--server", "http://127.0.0.1:9"],
        2,
        "give either --db or --server, not both",
    ),
    "no ledger in the database": (
        lambda w, t: ["head", "registry", "--db", f"sqlite:///{t / 'empty.db'}"],
        2,
        "claimledger init",
    ),
    "bad database url": (
        lambda w, t: ["head", "registry", "--db", "mysql://x/y"],
        2,
        "ledger: ",
    ),
    "server unreachable": (
        lambda w, t: ["head", "registry", "--server", "http://127.0.0.1:9"],
        2,
        "cannot reach the server",
    ),
    "server not http": (
        lambda w, t: ["head", "registry", "--server", "ftp://x"],
        2,
        "http:// or https://",
    ),
    "init on an existing ledger": (
        lambda w, t: [
            "init",
            "--db",
            w.url,
            "--authority-id",
            "other",
            "--authority-name",
            "O",
            "--origin",
            "o.example/log",
            "--keys-dir",
            t / "newkeys",
            "--unsafe-unencrypted",
        ],
        2,
        "already holds a ledger",
    ),
    "keys generate over a file": (
        lambda w, t: ["keys", "generate", w.key(PROVIDER), "--unsafe-unencrypted"],
        2,
        "already exists",
    ),
    "submit garbage": (
        lambda w, t: ["submit", _body(t, "e.json", '{"payload": 1}'), *w.db()],
        1,
        "e.json: malformed data",
    ),
    "sign over a file": (
        lambda w, t: [
            "sign",
            "--kind",
            "claim.publish",
            *w.as_party(PROVIDER),
            "--prev",
            "0" * 64,
            "--body",
            _body(t, "b.json", json.dumps(claim_body())),
            "-o",
            _body(t, "exists.dsse", "x"),
        ],
        2,
        "already exists",
    ),
    "sign without prev": (
        lambda w, t: [*_publish(w), "-o", t / "x.dsse"],
        2,
        "--output (offline signing) needs --prev",
    ),
    "verify a garbage bundle": (
        lambda w, t: ["verify", "--bundle", _body(t, "b.bundle", "{}")],
        1,
        "verification FAILED",
    ),
    "verify bad genesis": (
        lambda w, t: ["verify", *w.db(), "--genesis", "zz"],
        2,
        "must be 64 hex characters",
    ),
    "replay bad date": (
        lambda w, t: ["replay", PROVIDER, *w.db(), "--as-of", "yesterday"],
        2,
        "is not a date (YYYY-MM-DD)",
    ),
    "replay date and size": (
        lambda w, t: ["replay", PROVIDER, *w.db(), "--as-of", "2026-01-01", "--size", "3"],
        2,
        "give --as-of or --size, not both",
    ),
    "export over a file": (
        lambda w, t: ["export", PROVIDER, *w.db(), "-o", _body(t, "b.json", "x")],
        2,
        "already exists",
    ),
    "export a non-provider": (
        lambda w, t: ["export", VERIFIER, *w.db(), "-o", t / "v.json"],
        2,
        "not a registered provider",
    ),
}


def _test_body(claim: str) -> dict[str, object]:
    from tests.attest.examples import example_test_record_body

    return example_test_record_body(claim)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_and_writes_nothing(
    name: str, sqlite_world: World, tmp_path: Path, cli: Cli
) -> None:
    make, code, expected = CASES[name]
    args = make(sqlite_world, tmp_path)
    before = sqlite_world.size()
    keys_before = sorted(p.name for p in sqlite_world.keys.iterdir())
    result = cli(*args, code=code)
    line = one_line_error(result.stderr)
    assert expected in line, line
    assert sqlite_world.size() == before
    assert sorted(p.name for p in sqlite_world.keys.iterdir()) == keys_before
    assert not (tmp_path / "newkeys" / "authority.key").exists()


def test_wrong_passphrase(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMLEDGER_PASSPHRASE", "correct horse")
    cli("keys", "generate", tmp_path / "k.key")
    monkeypatch.setenv("CLAIMLEDGER_PASSPHRASE", "wrong")
    result = cli("keys", "show", tmp_path / "k.key", code=2)
    assert "wrong passphrase" in one_line_error(result.stderr)


def test_encrypted_key_without_passphrase(cli: Cli, tmp_path: Path) -> None:
    cli("keys", "generate", tmp_path / "k.key", input="pw\npw\n")
    result = cli("keys", "show", tmp_path / "k.key", input="\n", code=2)
    assert "no passphrase was given" in one_line_error(result.stderr)


def test_serve_refuses_a_missing_ledger_before_starting(cli: Cli, tmp_path: Path) -> None:
    result = cli("serve", "--db", f"sqlite:///{tmp_path / 'none.db'}", "--port", "0", code=2)
    assert "claimledger init" in one_line_error(result.stderr)


def test_serve_refuses_a_wrong_log_key_passphrase(
    cli: Cli, sqlite_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAIMLEDGER_PASSPHRASE", "right")
    cli("keys", "generate", tmp_path / "enc.key")
    monkeypatch.setenv("CLAIMLEDGER_PASSPHRASE", "wrong")
    result = cli("serve", *sqlite_world.db(), "--log-key", tmp_path / "enc.key", code=2)
    assert "wrong passphrase" in one_line_error(result.stderr)
