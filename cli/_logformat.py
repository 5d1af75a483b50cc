"""The server's log formats (``claimledger serve --log-format``): human text or JSON lines.

``text`` (the default) is uvicorn's own format, plus the server's ``claimledger.*`` and
``ledger.*`` records at INFO (the open, witnessing, following) in the same style.

``json`` writes one JSON object per line to stderr, for every logger (uvicorn's included):
``time`` (RFC 3339, UTC, milliseconds), ``level``, ``logger``, ``message``, ``exception`` (a
traceback, when there is one), and for each HTTP request (logger ``claimledger.access``, which
replaces uvicorn's access lines so that the duration is known) ``method``, ``path``, ``status``
and ``duration`` (seconds). Python warnings are logged too (logger ``py.warnings``), so that
nothing else reaches stderr.
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any

__all__ = ["LOG_FORMATS", "JsonFormatter", "log_config"]

LOG_FORMATS = ("text", "json")

_ACCESS_FIELDS = ("method", "path", "status", "duration")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (non-ASCII escaped, so a line is a line)."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _ACCESS_FIELDS:
            if name in record.__dict__:
                out[name] = record.__dict__[name]
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, default=str)


def log_config(log_format: str) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` for uvicorn and the server, in ``log_format``."""
    if log_format == "json":
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonFormatter}},
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "json",
                    "stream": "ext://sys.stderr",
                }
            },
            "root": {"handlers": ["stderr"], "level": "INFO"},
            "loggers": {
                # Everything propagates to the one JSON handler.
                "uvicorn": {"handlers": [], "level": "INFO", "propagate": True},
                "uvicorn.error": {"handlers": [], "level": "INFO", "propagate": True},
                # Replaced by claimledger.access, which knows each request's duration.
                "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
                "claimledger": {"level": "INFO"},
            },
        }
    if log_format != "text":
        raise ValueError(f"log format must be one of {LOG_FORMATS}, not {log_format!r}")
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    for name in ("claimledger", "ledger"):  # the server's records, in uvicorn's style
        config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    # uvicorn writes the access lines in this format; the server's own would repeat them.
    config["loggers"]["claimledger.access"] = {"level": "WARNING"}
    return config
