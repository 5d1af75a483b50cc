"""Shared test fixtures: the location of the external vectors in ../shared/vectors/."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_VECTORS = REPO.parent / "shared" / "vectors"
OWN_VECTORS = REPO / "tests" / "vectors"


def shared_vectors() -> Path:
    """The external vectors folder; fails (never skips) when it is missing.

    Tests that need ../shared/vectors/ call this. In CI (CI=true) and locally alike a missing
    folder is a test failure, so a run without the vectors can never pass silently.
    """
    if not SHARED_VECTORS.is_dir():
        pytest.fail(
            f"external test vectors not found at {SHARED_VECTORS} "
            f"(CI={os.environ.get('CI', '')!r}); they must sit beside the repository",
            pytrace=False,
        )
    return SHARED_VECTORS


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """Path to ../shared/vectors/, failing the test when it is missing."""
    return shared_vectors()


@pytest.fixture
def restore_gc() -> Iterator[None]:
    """Put the collector's thresholds back and unfreeze, for tests that change them."""
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)
    gc.unfreeze()
