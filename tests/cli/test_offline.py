"""Air-gapped signing, later submission, and re-signing on a new head after a chain conflict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest

from attest import ChainError
from attest.statements import Kind
from cli._backend import Backend, LocalBackend
from cli._common import MAX_REBASES, Signing, append
from cli._errors import CliError
from tests.cli.conftest import PROVIDER, World, claim_body, one_line_error


def test_sign_offline_then_submit(sqlite_world: World, tmp_path: Path) -> None:
    w = sqlite_world
    head = w.cli.json("head", PROVIDER, *w.db())
    assert head["length"] == 0
    body = tmp_path / "claim.json"
    body.write_text(json.dumps(claim_body()))
    signed = w.cli.json(
        "sign",
        "--kind",
        "claim.publish",
        *w.as_party(PROVIDER),
        "--prev",
        head["head"],
        "--body",
        body,
        "-o",
        tmp_path / "c.dsse",
    )
    assert signed["stream"] == PROVIDER
    # a second statement signed offline on the same head, through a role command's -o
    w.cli(
        "claim",
        "publish",
        *w.as_party(PROVIDER),
        "--body",
        body,
        "--status",
        "pilot",
        "--prev",
        head["head"],
        "-o",
        tmp_path / "d.dsse",
    )
    size = w.size()
    out = w.cli.json("submit", tmp_path / "c.dsse", *w.db())
    assert out["digest"] == signed["digest"]
    assert out["kind"] == "claim.publish"
    assert w.size() == size + 1
    again = w.cli.json("submit", tmp_path / "c.dsse", *w.db())  # idempotent
    assert again["index"] == out["index"]
    result = w.cli("submit", tmp_path / "d.dsse", *w.db(), code=1)
    line = one_line_error(result.stderr)
    assert "d.dsse: chain conflict: the stream's head is now" in line
    assert f"--prev {out['entryHash']}" in line
    assert w.size() == size + 1


class _Stale(Backend):
    """A backend whose ``head`` lags ``lag`` times: each submit then hits a chain conflict."""

    def __init__(self, inner: LocalBackend, lag: int) -> None:
        self.inner = inner
        self.source = inner.source
        self.lag = lag
        self.submits = 0

    def head(self, stream: str) -> tuple[str, int]:
        if self.lag > 0:
            self.lag -= 1
            from attest import genesis_prev

            return genesis_prev(stream), 0
        return self.inner.head(stream)

    def submit(self, envelope: bytes) -> dict[str, Any]:
        self.submits += 1
        return self.inner.submit(envelope)


@pytest.mark.parametrize("lag", [1, MAX_REBASES])
def test_rebases_on_a_chain_conflict(sqlite_world: World, lag: int) -> None:
    """A stale head (a cache in front of the server) costs one re-sign: the refusal names the
    current head, and the CLI signs on it rather than reading the head again."""
    w = sqlite_world
    w.publish()  # the stream is no longer at its genesis head
    inner = LocalBackend(w.url, log_key=w.key("log"))
    backend = _Stale(inner, lag)
    signing = Signing(w.key(PROVIDER), PROVIDER, None, None, True)
    size = w.size()
    try:
        with click.Context(click.Command("t")):
            append(
                lambda: backend,
                signing,
                kind=Kind.CLAIM_PUBLISH,
                body=claim_body("report.authority"),
            )
    finally:
        inner.close()
    assert backend.submits == 2
    assert w.size() == size + 1


class _Moving(_Stale):
    """A stream that keeps moving: every submission is refused on a new head."""

    def submit(self, envelope: bytes) -> dict[str, Any]:
        self.submits += 1
        raise ChainError("moved on", head=f"{self.submits:064x}", length=self.submits)


def test_gives_up_after_bounded_rebases(sqlite_world: World) -> None:
    w = sqlite_world
    w.publish()
    inner = LocalBackend(w.url, log_key=w.key("log"))
    backend = _Moving(inner, 0)
    signing = Signing(w.key(PROVIDER), PROVIDER, None, None, True)
    try:
        with click.Context(click.Command("t")), pytest.raises(CliError) as info:
            append(
                lambda: backend,
                signing,
                kind=Kind.CLAIM_PUBLISH,
                body=claim_body("report.authority"),
            )
    finally:
        inner.close()
    assert backend.submits == MAX_REBASES + 1
    assert "kept moving" in info.value.format_message()
    assert info.value.exit_code == 1


def test_chain_error_carries_the_head() -> None:
    err = ChainError("stale", head="ab" * 32, length=3)
    assert err.head == "ab" * 32
