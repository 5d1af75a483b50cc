"""Every command has help that reads well; the exit codes are documented."""

from __future__ import annotations

import click
import pytest

from cli import main
from tests.cli.conftest import Cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((*prefix, name))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, (*prefix, name)))
    return out


COMMANDS = _commands(main)


def test_every_command_of_issue_4_exists() -> None:
    wanted = {
        ("init",),
        ("keys", "generate"),
        ("keys", "show"),
        ("keys", "export-public"),
        ("party", "register"),
        ("claim", "publish"),
        ("claim", "withdraw"),
        ("claim", "supersede"),
        ("test", "record"),
        ("verdict", "issue"),
        ("reply",),
        ("key", "add"),
        ("key", "revoke"),
        ("accredit", "grant"),
        ("accredit", "suspend"),
        ("sign",),
        ("submit",),
        ("replay",),
        ("verify",),
        ("export",),
        ("serve",),
        ("demo",),
    }
    assert wanted <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help(cli: Cli, path: tuple[str, ...]) -> None:
    out = cli(*path, "--help").stdout
    assert out.startswith("Usage: claimledger " + " ".join(path))
    assert len(out.splitlines()) > 4


def test_main_help_documents_exit_codes_and_default_db(cli: Cli) -> None:
    out = cli("--help").stdout
    assert "Exit codes:" in out
    assert "sqlite:///claimledger.db" in out
    verify = cli("verify", "--help").stdout
    for line in ("0  verified", "1  verification failed", "2  usage or I/O error"):
        assert line in verify
