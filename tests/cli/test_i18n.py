"""The CLI's messages in the user's language (issue 15): ``LANG``/``LC_MESSAGES`` pick the French
catalog (``cli/locale``), anything else reads English, and the exit codes do not change.

In-process (CliRunner) and as a real process against a real ``claimledger serve``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import main
from tests.cli.conftest import PROVIDER, Proc, World, claim_body, one_line_error, serving

_LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def _locale(**settings: str) -> dict[str, str | None]:
    """An environment whose only locale setting is ``settings`` (CliRunner's ``env``)."""
    return {name: settings.get(name) for name in _LOCALE_VARS}


def _publish_a_missing_body(world: World, tmp_path: Path, env: dict[str, str | None]) -> Result:
    """``claim publish`` with a body file that does not exist, in ``env``'s locale."""
    return CliRunner().invoke(
        main,
        [
            "claim",
            "publish",
            *map(str, world.db()),
            *map(str, world.as_party(PROVIDER)),
            "--body",
            str(tmp_path / "nope.yaml"),
        ],
        env=env,
    )


@pytest.mark.parametrize(
    "env",
    [_locale(LANG="fr_FR.UTF-8"), _locale(LC_MESSAGES="fr_FR.UTF-8", LANG="en_GB.UTF-8")],
    ids=["LANG", "LC_MESSAGES"],
)
def test_an_error_in_french(
    sqlite_world: World, tmp_path: Path, env: dict[str, str | None]
) -> None:
    result = _publish_a_missing_body(sqlite_world, tmp_path, env)
    assert result.exit_code == 2  # the documented code, whatever the language
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines == [
        f"Erreur : impossible de lire le fichier de corps {tmp_path / 'nope.yaml'} : "
        f"{os.strerror(2)}"
    ]


@pytest.mark.parametrize(
    "env",
    [_locale(), _locale(LANG="C.UTF-8"), _locale(LANG="de_DE.UTF-8"), _locale(LANG="en_US")],
    ids=["unset", "C", "de", "en"],
)
def test_english_without_a_catalog_for_the_locale(
    sqlite_world: World, tmp_path: Path, env: dict[str, str | None]
) -> None:
    result = _publish_a_missing_body(sqlite_world, tmp_path, env)
    assert result.exit_code == 2
    assert one_line_error(result.stderr) == (
        f"Error: cannot read body file {tmp_path / 'nope.yaml'}: {os.strerror(2)}"
    )


def test_a_server_refusal_in_french_from_a_real_process(
    sqlite_world: World, proc: Proc, tmp_path: Path
) -> None:
    """``claimledger`` run as a process with ``LANG=fr_FR.UTF-8`` against a real server: a claim
    signed on a stale head (``--prev``) is refused, and the line says so in French."""
    for name in _LOCALE_VARS:
        proc.env.pop(name, None)
    proc.env["LANG"] = "fr_FR.UTF-8"
    body = tmp_path / "claim.json"
    body.write_text(json.dumps(claim_body()))
    stale = "0" * 64
    with serving(proc, sqlite_world.url, sqlite_world.key("log")) as base:
        done = proc(
            "claim",
            "publish",
            "--server",
            base,
            *sqlite_world.as_party(PROVIDER),
            "--body",
            body,
            "--prev",
            stale,
            code=1,
        )
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        f"Erreur : conflit de chaîne : le flux '{PROVIDER}' a avancé ; sa tête est maintenant "
    ), lines
    assert "Signez à nouveau avec --prev " in lines[0]
