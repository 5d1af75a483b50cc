"""The command-line shell: ``claimledger``."""

from cli._main import main

__all__ = ["main"]
