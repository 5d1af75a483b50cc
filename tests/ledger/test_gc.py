"""The collector settings a ledger process runs with (ledger/_gc.py), and who applies them."""

from __future__ import annotations

import gc

import pytest

from ledger import SignaturePool, freeze_heap, tune_gc
from ledger._gc import GC_THRESHOLD

pytestmark = pytest.mark.usefixtures("restore_gc")


def test_tune_gc_raises_the_young_threshold_and_keeps_the_others() -> None:
    gc.set_threshold(700, 10, 10)
    tune_gc()
    assert gc.get_threshold() == (GC_THRESHOLD, 10, 10)


def test_tune_gc_never_lowers_a_higher_threshold_nor_enables_a_disabled_collector() -> None:
    gc.set_threshold(GC_THRESHOLD * 5, 3, 4)
    tune_gc()
    assert gc.get_threshold() == (GC_THRESHOLD * 5, 3, 4)
    gc.set_threshold(0, 10, 10)
    tune_gc()
    assert gc.get_threshold() == (0, 10, 10)


def test_freeze_heap_moves_live_objects_to_the_permanent_generation() -> None:
    gc.unfreeze()
    keep = [[i] for i in range(1000)]
    freeze_heap()
    assert gc.get_freeze_count() >= len(keep)


def test_signature_workers_run_with_the_tuned_collector() -> None:
    gc.set_threshold(700, 10, 10)  # the caller's own setting is not the workers'
    with SignaturePool(2) as pool:
        executor = pool._executor  # asking a worker directly
        assert executor is not None
        thresholds = {executor.submit(gc.get_threshold).result() for _ in range(4)}
    assert {t[0] for t in thresholds} == {GC_THRESHOLD}
    assert gc.get_threshold() == (700, 10, 10)
