"""Deployment tests: the shipped configurations run for real, against real server processes.

The real-process helpers and the CLI-made world come from ``tests/cli/conftest.py``.
"""

from __future__ import annotations

from tests.cli.conftest import _clean_env, cli, proc, sqlite_world

__all__ = ["_clean_env", "cli", "proc", "sqlite_world"]
