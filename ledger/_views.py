"""Read views over the log: replay as of a date or size, scorecards, search (to be built)."""

from __future__ import annotations

from attest.rules import Placed

__all__ = ["Views"]


class Views:
    """Projections built from accepted entries, in index order (rebuilt at every open)."""

    def apply(self, placed: Placed) -> None:
        """Record one accepted entry."""
