"""How the ``runio`` command logs to stderr: a readable line per record, or one JSON object per
line (``--log-format json``) for log collectors.

Owns the handler the command installs on the root logger and its two formats; what is logged,
and at which level, is the rest of runio's business.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_FIELDS = ("run_id", "job_id")
"""Fields runio's own records carry (``extra=``), copied into each JSON line that has them."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
    ``message``, and when present ``run_id``, ``job_id`` and ``exception`` (the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def install(level: int) -> logging.Handler | None:
    """Log to stderr at ``level`` unless logging is already configured (then leave it alone,
    as ``logging.basicConfig`` does); return the handler installed, if any."""
    root = logging.getLogger()
    if root.handlers:
        return None
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    return handler
