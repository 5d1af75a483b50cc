"""Where a command reads and writes: a local database (``--db``) or a server (``--server``).

Both backends offer the same calls, so every command works against either. A local backend
opens the database with :class:`ledger.Ledger`; writing (and signing checkpoints) needs the log
key, found with ``--log-key`` / ``CLAIMLEDGER_LOG_KEY`` or, for a SQLite file ``NAME.db``, at
``NAME-keys/log.key`` beside it (where ``claimledger init`` puts it). A remote backend speaks the
HTTP API (``/v1/...``) with httpx and turns RFC 9457 problems into errors: a 409 chain conflict
becomes the same :class:`attest.ChainError` the local ledger raises, so callers rebase alike.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from attest import ChainError, LogEntry, genesis_prev
from attest.canonical import encode as canonical_encode
from cli._errors import EXIT_FAILED, CliError, ServerProblem
from cli._i18n import _
from cli._keyfiles import load_private_key
from ledger import Ledger, LedgerError, export_bundle, parse_database_url

__all__ = [
    "DEFAULT_DB",
    "Backend",
    "LocalBackend",
    "RemoteBackend",
    "default_keys_dir",
    "open_backend",
]

DEFAULT_DB = "sqlite:///claimledger.db"
_PAGE = 1000


def default_keys_dir(db_url: str) -> Path | None:
    """``NAME-keys/`` beside a SQLite file ``NAME.db``; ``None`` for PostgreSQL."""
    parsed = parse_database_url(db_url)
    if parsed.path is None:
        return None
    return parsed.path.with_name(parsed.path.stem + "-keys")


class Backend:
    """The calls every command needs (see the module docstring)."""

    source: str
    """The database URL (password masked) or server URL: what ``verify`` pins a fingerprint to."""

    def head(self, stream: str) -> tuple[str, int]:
        """The stream's head (hex, to sign as ``prev``) and length."""
        raise NotImplementedError

    def submit(self, envelope: bytes) -> dict[str, Any]:
        """Append one envelope; its receipt as JSON (``Receipt.to_dict()`` form)."""
        raise NotImplementedError

    def checkpoint(self) -> bytes:
        """The latest signed checkpoint note."""
        raise NotImplementedError

    def log_vkey(self) -> str:
        """The log's note verifier key (C2SP vkey line); untrusted until verified."""
        raise NotImplementedError

    def log_entries(self, start: int, end: int) -> Iterator[LogEntry]:
        """Raw log entries with indexes in ``[start, end)``, in order."""
        raise NotImplementedError

    def stream_entries(self, stream: str) -> Iterator[LogEntry]:
        """Every raw entry of ``stream`` (none for an unknown stream), by position; unverified."""
        raise NotImplementedError

    def bundle(self, stream: str, size: int | None = None) -> bytes:
        """The offline evidence bundle of ``stream`` (against the checkpoint of ``size``: the
        cosigned one if the ledger keeps one of that size)."""
        raise NotImplementedError

    def bundle_as_of(self, stream: str, as_of_ms: int) -> bytes:
        """The evidence bundle of ``stream`` against the newest checkpoint the ledger kept
        whose log time is at most ``as_of_ms``.

        Raises:
            CliError: no checkpoint was kept by then, or this source cannot tell.
        """
        raise CliError(_("this source cannot export a record as of a date"))

    def cosigned_checkpoint(self) -> bytes:
        """The newest checkpoint note cosigned by the ledger's witnesses (unverified).

        Raises:
            CliError: the ledger has no cosigned checkpoint.
        """
        raise NotImplementedError

    def replay(self, stream: str, *, as_of_ms: int | None, size: int | None) -> dict[str, Any]:
        """The state of ``stream`` as of a time or log size (``StreamReplay.to_dict()``)."""
        raise NotImplementedError

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``old`` leaves to that of ``new``."""
        raise NotImplementedError

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""


class LocalBackend(Backend):
    """A ledger database opened in this process."""

    def __init__(self, url: str, *, log_key: Path | None = None) -> None:
        self.url = url
        self.source = parse_database_url(url).display
        self._log_key_path = log_key
        self._ledger: Ledger | None = None
        self._writable = False

    def _key_path(self) -> Path | None:
        if self._log_key_path is not None:
            return self._log_key_path
        keys_dir = default_keys_dir(self.url)
        if keys_dir is not None and (keys_dir / "log.key").is_file():
            return keys_dir / "log.key"
        return None

    def ledger(self, *, write: bool = False) -> Ledger:
        """The open ledger; with ``write``, opened with the log key.

        Raises:
            CliError: ``write`` and the log key cannot be found.
        """
        if self._ledger is not None and (self._writable or not write):
            return self._ledger
        path = self._key_path()
        if write and path is None:
            raise CliError(
                _(
                    "writing to %(source)s (or signing its checkpoint) needs the log key: "
                    "give --log-key FILE or set CLAIMLEDGER_LOG_KEY"
                )
                % {"source": self.source}
            )
        key = load_private_key(path) if path is not None else None
        if self._ledger is not None:
            self._ledger.close()
        # The next log key of a rotation (SPEC §7.6), as for `serve --next-log-key`.
        next_path = os.environ.get("CLAIMLEDGER_NEXT_LOG_KEY", "").strip()
        held = (load_private_key(Path(next_path)),) if key is not None and next_path else ()
        self._ledger = Ledger.open(self.url, log_key=key, next_log_keys=held)
        self._writable = key is not None
        return self._ledger

    def head(self, stream: str) -> tuple[str, int]:
        return self.ledger().head(stream)

    def submit(self, envelope: bytes) -> dict[str, Any]:
        return self.ledger(write=True).submit(envelope).to_dict()

    def checkpoint(self) -> bytes:
        if self._key_path() is None:
            # No log key: the newest checkpoint the log published, kept in its database (so a
            # backup or a replica verifies without the key, and without being written to).
            try:
                return self.ledger().checkpoint()
            except LedgerError as exc:
                raise CliError(
                    _(
                        "%(source)s holds no published checkpoint: give the log key (--log-key "
                        "FILE or CLAIMLEDGER_LOG_KEY) to sign one"
                    )
                    % {"source": self.source}
                ) from exc
        return self.ledger(write=True).checkpoint()

    def log_vkey(self) -> str:
        return self.ledger().note_verifier.vkey()

    def log_entries(self, start: int, end: int) -> Iterator[LogEntry]:
        led = self.ledger()
        for i in range(start, end, _PAGE):
            yield from led.log_entries(i, min(end, i + _PAGE))

    def stream_entries(self, stream: str) -> Iterator[LogEntry]:
        led = self.ledger()
        length = led.head(stream)[1]
        for i in range(0, length, _PAGE):
            yield from led.stream_entries(stream, i, min(length, i + _PAGE))

    def bundle(self, stream: str, size: int | None = None) -> bytes:
        if size is None:
            if self._key_path() is None:  # at the newest checkpoint the log published
                return export_bundle(self.ledger(), stream, checkpoint=self.checkpoint())
            return export_bundle(self.ledger(write=True), stream)
        led = self.ledger()
        try:  # a cosigned or kept checkpoint of that size needs no key
            note = led.checkpoint_at(size)
        except LedgerError as exc:
            if self._key_path() is None or not 0 < size <= led.size:
                raise CliError(str(exc)) from exc
            led = self.ledger(write=True)
            note = led.checkpoint_at(size)
        return export_bundle(led, stream, checkpoint=note)

    def bundle_as_of(self, stream: str, as_of_ms: int) -> bytes:
        led = self.ledger()
        try:
            _, note = led.checkpoint_as_of(as_of_ms)
        except LedgerError as exc:
            raise CliError(str(exc)) from exc
        return export_bundle(led, stream, checkpoint=note)

    def cosigned_checkpoint(self) -> bytes:
        note = self.ledger().cosigned_checkpoint()
        if note is None:
            raise CliError(
                _(
                    "below quorum: %(source)s has no cosigned checkpoint (is it served "
                    "with --witness-policy?)"
                )
                % {"source": self.source},
                EXIT_FAILED,
            )
        return note

    def replay(self, stream: str, *, as_of_ms: int | None, size: int | None) -> dict[str, Any]:
        views: Any = self.ledger().views
        if not hasattr(views, "replay"):
            raise CliError(
                _("replay is not available in this build (ledger.views.replay is missing)")
            )
        # The present is judged at the machine's clock; a cut at its own time.
        now = time.time_ns() // 1_000_000 if as_of_ms is None and size is None else None
        result: dict[str, Any] = views.replay(
            stream, as_of_ms=as_of_ms, size=size, at_ms=now
        ).to_dict()
        return result

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        if old == new:
            return []
        return self.ledger().consistency_proof(old, new)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return self.ledger().inclusion_proof(index, size)

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


class RemoteBackend(Backend):
    """A claimledger server, over its HTTP API."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        base = url.rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise CliError(
                _("--server must be an http:// or https:// URL, not %(url)s") % {"url": repr(url)}
            )
        self.source = base
        self._http = httpx.Client(base_url=base, timeout=timeout, follow_redirects=True)

    def _get(self, path: str, **params: Any) -> httpx.Response:
        response = self._http.get(path, params={k: v for k, v in params.items() if v is not None})
        self._check(response)
        return response

    def _check(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        try:
            problem = response.json()
            if not isinstance(problem, dict):
                raise ValueError
        except ValueError:
            problem = {"title": f"HTTP {response.status_code}", "detail": response.text[:200]}
        if response.status_code == 409 and "head" in problem:
            raise ChainError(
                str(problem.get("detail") or problem.get("title") or "chain conflict"),
                head=str(problem["head"]),
                length=int(problem.get("length", 0)),
            )
        raise ServerProblem(str(response.request.url), response.status_code, problem)

    def head(self, stream: str) -> tuple[str, int]:
        response = self._http.get(f"/v1/streams/{quote(stream, safe='')}")
        if response.status_code == 404:
            return genesis_prev(stream), 0
        self._check(response)
        data = _json_object(response)
        try:
            return str(data["head"]), int(data["length"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed(response, f"no head and length ({exc!r})") from exc

    def submit(self, envelope: bytes) -> dict[str, Any]:
        response = self._http.post(
            "/v1/entries", content=envelope, headers={"content-type": "application/json"}
        )
        self._check(response)
        return _json_object(response)

    def checkpoint(self) -> bytes:
        return self._get("/v1/log/checkpoint").content

    def log_vkey(self) -> str:
        return self._get("/v1/log/key").text.strip()

    def log_entries(self, start: int, end: int) -> Iterator[LogEntry]:
        next_index = start
        while next_index < end:
            stop = min(end, next_index + _PAGE)
            response = self._get("/v1/log/entries", start=next_index, end=stop)
            got = 0
            for line in response.text.splitlines():
                if line.strip():
                    entry = _log_entry(_json_line(line))
                    got += 1
                    next_index = entry.index + 1
                    yield entry
            if not got:
                raise CliError(
                    _("the server returned no entries from index %(next_index)s")
                    % {"next_index": next_index}
                )

    def stream_entries(self, stream: str) -> Iterator[LogEntry]:
        path = f"/v1/streams/{quote(stream, safe='')}/entries"
        start = 0
        while True:
            response = self._http.get(path, params={"start": start, "limit": _PAGE})
            if response.status_code == 404:
                return
            self._check(response)
            got = 0
            for line in response.text.splitlines():
                if line.strip():
                    entry = _log_entry(_json_line(line))
                    if entry.stream != stream or entry.position != start + got:
                        raise CliError(
                            _(
                                "the server sent entry %(position)s of %(stream)s as entry "
                                "%(wanted)s of %(asked)s"
                            )
                            % {
                                "position": entry.position,
                                "stream": repr(entry.stream),
                                "wanted": start + got,
                                "asked": repr(stream),
                            }
                        )
                    got += 1
                    yield entry
            if got < _PAGE:
                return
            start += got

    def bundle(self, stream: str, size: int | None = None) -> bytes:
        return self._get(f"/v1/streams/{quote(stream, safe='')}/bundle", size=size).content

    def bundle_as_of(self, stream: str, as_of_ms: int) -> bytes:
        from attest.statements import format_timestamp

        path = f"/v1/streams/{quote(stream, safe='')}/bundle"
        return self._get(path, as_of=format_timestamp(as_of_ms)).content

    def cosigned_checkpoint(self) -> bytes:
        response = self._http.get("/v1/log/checkpoint/cosigned")
        if response.status_code == 404:
            raise CliError(
                _(
                    "below quorum: %(source)s has no cosigned checkpoint (not served with "
                    "a witness policy, or its witnesses have not cosigned any checkpoint)"
                )
                % {"source": self.source},
                EXIT_FAILED,
            )
        self._check(response)
        return response.content

    def replay(self, stream: str, *, as_of_ms: int | None, size: int | None) -> dict[str, Any]:
        from attest.statements import format_timestamp

        as_of = None if as_of_ms is None else format_timestamp(as_of_ms)
        response = self._get(f"/v1/streams/{quote(stream, safe='')}/state", as_of=as_of, size=size)
        return _json_object(response)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        response = self._get("/v1/log/proof/consistency", **{"from": old, "to": new})
        data = _json_object(response)
        try:
            return [base64.b64decode(h, validate=True) for h in data["hashes"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed(response, f"no base64 proof hashes ({exc!r})") from exc

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        response = self._get("/v1/log/proof/inclusion", index=index, size=size)
        data = _json_object(response)
        try:
            return [base64.b64decode(h, validate=True) for h in data["hashes"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed(response, f"no base64 proof hashes ({exc!r})") from exc

    def close(self) -> None:
        self._http.close()


def _malformed(response: httpx.Response, why: str) -> CliError:
    return CliError(
        _("the server sent a malformed response to %(url)s: %(why)s")
        % {"url": response.request.url, "why": why}
    )


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The JSON object a successful response carries, or a one-line error (never a traceback)."""
    try:
        data = response.json()
    except RecursionError:
        raise _malformed(response, "JSON nested too deeply") from None
    except ValueError as exc:
        raise _malformed(response, f"not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise _malformed(response, "not a JSON object")
    return data


def _json_line(line: str) -> Any:
    """One NDJSON line from the server, or a one-line error (never a traceback)."""
    try:
        return json.loads(line)
    except RecursionError:
        raise CliError(_("the server sent a malformed log entry: nested too deeply")) from None
    except ValueError as exc:
        raise CliError(_("the server sent a malformed log entry: %(exc)s") % {"exc": exc}) from exc


def _log_entry(obj: Any) -> LogEntry:
    """One NDJSON line of ``/v1/log/entries``: ``{index, stream, position, logTimeMs, stateRoot,
    envelope}``.

    The envelope may come as a string (its stored bytes) or as a JSON object, whose canonical
    encoding is the stored form (SPEC §4); either way the verifier re-checks those bytes.
    """
    try:
        env = obj["envelope"]
        if isinstance(env, str):
            raw = env.encode("utf-8")
        elif isinstance(env, dict):
            raw = canonical_encode(env)
        else:
            raw = base64.b64decode(str(env))
        root = obj.get("stateRoot")
        return LogEntry(
            int(obj["index"]),
            str(obj["stream"]),
            int(obj["position"]),
            int(obj["logTimeMs"]),
            raw,
            None if root is None else bytes.fromhex(str(root)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CliError(_("the server sent a malformed log entry: %(exc)s") % {"exc": exc}) from exc


def open_backend(db: str | None, server: str | None, log_key: Path | None = None) -> Backend:
    """The backend the options name: ``--server`` if given, else ``--db`` (default file)."""
    if server:
        return RemoteBackend(server)
    return LocalBackend(db or DEFAULT_DB, log_key=log_key)
