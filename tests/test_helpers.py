"""The shared test helpers that decide whether a failure counts (tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.conftest import within_a_minute


def _flaky_once() -> tuple[list[int], object]:
    runs: list[int] = []

    def check() -> None:
        runs.append(1)
        assert len(runs) > 1, "the first run fails"

    return runs, within_a_minute(check)


def test_a_failure_while_the_minute_turned_runs_once_more(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([59.9, 60.1])
    monkeypatch.setattr("time.time", lambda: next(clock))
    runs, wrapped = _flaky_once()
    wrapped()  # type: ignore[operator]
    assert len(runs) == 2


def test_a_failure_within_one_minute_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.time", lambda: 30.0)
    runs, wrapped = _flaky_once()
    with pytest.raises(AssertionError, match="the first run fails"):
        wrapped()  # type: ignore[operator]
    assert len(runs) == 1
