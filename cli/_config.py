"""The user's config directory and what ``verify`` remembers there (``trust.json``).

Directory: ``$CLAIMLEDGER_CONFIG_DIR`` if set; otherwise ``$XDG_CONFIG_HOME/claimledger`` or
``~/.config/claimledger`` (Linux and other Unix), ``~/Library/Application Support/claimledger``
(macOS), ``%APPDATA%\\claimledger`` (Windows).

``trust.json`` holds two maps:

- ``logs``: per log (``origin`` and verifier key, as the vkey line) the latest checkpoint note
  that ``verify`` accepted. A later verification must be consistent with it: a smaller log is a
  rollback, a different root at the same size a fork.
- ``sources``: per source (server URL or database URL) the ledger fingerprint (genesis entry hash)
  pinned there, on first use or with ``--genesis``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TrustStore", "config_dir"]

_APP = "claimledger"


def config_dir() -> Path:
    """Where claimledger keeps what it remembers (see the module docstring)."""
    override = os.environ.get("CLAIMLEDGER_CONFIG_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / _APP
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / _APP
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / _APP
    return Path.home() / ".config" / _APP


@dataclass
class TrustStore:
    """``trust.json``: checkpoints verified per log, fingerprints pinned per source."""

    path: Path
    logs: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> TrustStore:
        """Read the store (an absent file is an empty store).

        Raises:
            OSError: the file cannot be read.
            ValueError: the file is not a trust store.
        """
        path = path or config_dir() / "trust.json"
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return cls(path)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{path} is not a claimledger trust store")
        logs = data.get("logs", {})
        sources = data.get("sources", {})
        if not isinstance(logs, dict) or not isinstance(sources, dict):
            raise ValueError(f"{path} is not a claimledger trust store")
        return cls(path, logs, sources)

    def save(self) -> None:
        """Write the store atomically (temporary file, then rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"logs": self.logs, "sources": self.sources}, indent=2, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".trust.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
