"""Run the shipped reverse-proxy configuration (``deploy/nginx/claimledger.conf``) for real.

Used by ``tests/deploy/test_nginx_proxy.py`` and ``bench/bench_cached_reads.py``: the file is
rendered with its placeholders filled in (loopback addresses, a cache directory in a temporary
prefix), included in a minimal ``nginx.conf`` of that prefix, and nginx runs in the foreground
(``-g 'daemon off;'``) until the block ends. Nothing is read from or written to ``/etc/nginx``
or ``/var``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from string import Template

__all__ = ["CONF", "NginxMissingError", "find_nginx", "nginx", "render"]

CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "claimledger.conf"
"""The configuration operators deploy (http context, four placeholders)."""

PLACEHOLDERS = (
    "CLAIMLEDGER_LISTEN",
    "CLAIMLEDGER_UPSTREAM",
    "CLAIMLEDGER_CACHE_DIR",
    "CLAIMLEDGER_MONITOR",
)


class NginxMissingError(RuntimeError):
    """No nginx binary on this machine."""


def find_nginx() -> str:
    """The nginx binary (on PATH or Debian's ``/usr/sbin/nginx``).

    Raises:
        NginxMissingError: there is none (``apt-get install nginx-light``).
    """
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise NginxMissingError("nginx is not installed (apt-get install nginx-light)")
    return found


def render(**values: str) -> str:
    """``claimledger.conf`` with its placeholders filled in (as ``envsubst`` would).

    Raises:
        ValueError: a placeholder is missing a value, or an unknown one was given.
    """
    if set(values) != set(PLACEHOLDERS):
        raise ValueError(f"give exactly {', '.join(PLACEHOLDERS)}")
    text = CONF.read_text(encoding="utf-8")
    # safe_substitute leaves nginx's own $variables alone; only the placeholders change.
    return Template(text).safe_substitute(values)


def _main_conf(prefix: Path, site: Path, *, workers: int, extra: str) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the temp prefix
    temps = "\n".join(
        f"    {name}_temp_path {prefix / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes {workers};\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    access_log off;\n"
        "    default_type application/octet-stream;\n"
        f"{temps}\n"
        f"    include {site};\n"
        f"{extra}"
        "}\n"
    )


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on {port}: {log.read_text(errors='replace')}")


@contextmanager
def nginx(
    prefix: Path,
    *,
    port: int,
    upstream: str,
    workers: int = 1,
    extra: str = "",
) -> Iterator[str]:
    """nginx with the shipped configuration on ``127.0.0.1:port`` in front of ``upstream``
    (``host:port``), its files under ``prefix``; yields its base URL and stops it afterwards.

    ``extra`` is added to the ``http`` block (the benchmark's static-file server).

    Raises:
        NginxMissingError: nginx is not installed.
    """
    binary = find_nginx()
    prefix.mkdir(parents=True, exist_ok=True)
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "cache"):
        (prefix / name).mkdir(exist_ok=True)
    site = prefix / "claimledger.conf"
    site.write_text(
        render(
            CLAIMLEDGER_LISTEN=f"127.0.0.1:{port}",
            CLAIMLEDGER_UPSTREAM=upstream,
            CLAIMLEDGER_CACHE_DIR=str(prefix / "cache"),
            CLAIMLEDGER_MONITOR="127.0.0.1",
        ),
        encoding="utf-8",
    )
    conf = prefix / "nginx.conf"
    conf.write_text(_main_conf(prefix, site, workers=workers, extra=extra), encoding="utf-8")
    command = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    check = subprocess.run(  # noqa: S603 - our own binary and arguments
        [*command, "-t", "-q"], capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        raise RuntimeError(f"nginx refused the configuration: {check.stderr}")
    proc = subprocess.Popen(  # noqa: S603
        [*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_listening(port, proc, prefix / "error.log")
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
