"""Property tests against the served OpenAPI document (schemathesis): whatever a client sends, the
server never answers 5xx, every error is problem+json, and responses match their documented schema.

Bounded and deterministic: few examples per operation, derandomized, on a small SQLite ledger
where the story has been told (so reads find real entries).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from api import create_app
from tests.api.conftest import Api, Story, init_ledger


@schemathesis.check
def problem_json(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx is an RFC 9457 problem with a claimledger ``type`` and the same status."""
    if response.status_code < 400:
        return None
    media = response.headers.get("content-type", [""])
    media = media[0] if isinstance(media, list) else media
    assert media == "application/problem+json", f"error with content type {media!r}"
    body = response.json()
    assert body["status"] == response.status_code
    assert body["type"].startswith("https://claimledger.dev/problems/")
    assert body["title"]
    return True


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path: Path = tmp_path_factory.mktemp("schemathesis") / "ledger.db"
    ledger = init_ledger(f"sqlite:///{path}")
    app = create_app(ledger)
    with TestClient(app) as client:
        Story(Api(client)).run()
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        ledger.close()


CHECKS = [not_a_server_error, problem_json, content_type_conformance, response_schema_conformance]


def test_openapi_contract(api_schema: Any) -> None:
    """Every operation of the served OpenAPI document, with generated valid and invalid input."""
    labels = []
    statuses: Counter[int] = Counter()
    for result in api_schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
            GenerationMode.NEGATIVE
        )

        @given(case=strategy)
        @settings(
            max_examples=15,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call_and_validate(checks=CHECKS)
            statuses[response.status_code] += 1

        run()
    assert len(labels) >= 19, labels
    # The run reached real data and real refusals, not only one kind of answer.
    assert statuses[200] > 0
    assert statuses[400] > 0
