"""A server that answers with malformed bodies gets one readable line, never a traceback.

The CLI trusts no server: every reply is parsed defensively, and anything that is not what the API
documents is a :class:`~cli._errors.CliError` naming the URL (exit code 2 through the CLI).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cli._backend import RemoteBackend
from cli._errors import CliError

BODIES = [b"not json", b"[1, 2]", b"[" * 100_000, b'{"unexpected": true}', b'{"head": "x"}']

CALLS: dict[str, Callable[[RemoteBackend], Any]] = {
    "head": lambda b: b.head("acme-social"),
    "submit": lambda b: b.submit(b"{}"),
    "replay": lambda b: b.replay("acme-social", as_of_ms=None, size=None),
    "consistency proof": lambda b: b.consistency_proof(1, 2),
    "log entries": lambda b: list(b.log_entries(0, 1)),
}


def _backend(body: bytes) -> RemoteBackend:
    backend = RemoteBackend("http://127.0.0.1:9")
    backend._http = httpx.Client(  # the test swaps the transport only
        base_url=backend.source,
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=body)),
    )
    return backend


@pytest.mark.parametrize("body", BODIES, ids=["text", "array", "deep", "object", "partial"])
@pytest.mark.parametrize("call", sorted(CALLS))
def test_malformed_success_bodies_are_one_line_errors(call: str, body: bytes) -> None:
    backend = _backend(body)
    try:
        if call in ("submit", "replay") and body.startswith(b"{"):
            # Any JSON object is what these two hand on to the renderer, unchanged.
            assert isinstance(CALLS[call](backend), dict)
            return
        with pytest.raises(CliError, match=r"malformed|no entries") as info:
            CALLS[call](backend)
        assert "\n" not in str(info.value)
    finally:
        backend.close()
