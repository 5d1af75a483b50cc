"""Browser fixtures: a loopback-only static server and one headless Chromium page for the session.

The server (``http.server`` on 127.0.0.1, a free port) serves only these folders:

- ``/static/`` — ``api/web/static`` (the verifier and its test page);
- ``/vectors/`` — ``tests/vectors`` (the spec vectors);
- ``/shared/`` — ``../shared/vectors`` (external vectors);
- ``/gen/`` — a temporary folder for records the tests generate.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright (never ``playwright install``),
with a fresh profile and no network features. Locally a missing browser skips these tests; in CI
(``CI=true``) it fails them, so CI can never pass without running them.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.conftest import OWN_VECTORS, REPO, loopback_http, shared_vectors

CHROMIUM = os.environ.get("CLAIMLEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STATIC = REPO / "api" / "web" / "static"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: runs in real headless Chromium")


class _Handler(SimpleHTTPRequestHandler):
    roots: ClassVar[dict[str, Path]] = {}

    extensions_map = {  # noqa: RUF012 - the stdlib's own class attribute, overridden
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".json": "application/json",
        ".html": "text/html; charset=utf-8",
    }

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0].split("#", 1)[0]
        for prefix, root in self.roots.items():
            if path.startswith(prefix):
                rest = Path(path[len(prefix) :])
                target = (root / rest).resolve()
                if target == root.resolve() or root.resolve() in target.parents:
                    return str(target)
        return str(Path(tempfile.gettempdir()) / "claimledger-web-test-nothing-here")

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def gen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where tests write generated records, served under ``/gen/``."""
    return tmp_path_factory.mktemp("web-gen")


@pytest.fixture(scope="session")
def server(gen_dir: Path) -> Iterator[str]:
    """Base URL of the loopback static server."""
    roots = {
        "/static/": STATIC,
        "/vectors/": OWN_VECTORS,
        "/shared/": shared_vectors(),
        "/gen/": gen_dir,
    }
    handler = type("Handler", (_Handler,), {"roots": roots})
    with loopback_http(functools.partial(handler, directory=str(STATIC))) as url:
        yield url


def _unavailable(why: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests cannot run in CI: {why}", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="module")
def page(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The verifier's test page (``verify-test.html``) open in headless Chromium.

    One per test module, not per session: while Playwright's sync API is open, its event loop
    counts as running in this thread, so ``asyncio.run()`` or a second ``sync_playwright()`` in
    any later test of the same process would fail (pytest-xdist runs modules of every folder, in
    any order, in one worker process).
    """
    with chromium_context(tmp_path_factory, "chromium-profile") as context:
        errors: list[str] = []
        p = context.new_page()
        p.on("pageerror", lambda exc: errors.append(str(exc)))
        p.goto(f"{server}/static/verify-test.html")
        p.wait_for_function("window.harnessReady === true", timeout=15_000)
        assert not errors, errors
        yield p
        assert not errors, errors


@contextmanager
def chromium_context(
    tmp_path_factory: pytest.TempPathFactory, name: str, **options: Any
) -> Iterator[Any]:
    """Headless Debian Chromium with a fresh profile (``options``: Playwright's, e.g. a
    viewport), closed afterwards. Missing Chromium or Playwright skips, and fails under CI."""
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    profile = tmp_path_factory.mktemp(name)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, **options
        )
        try:
            yield context
        finally:
            context.close()
