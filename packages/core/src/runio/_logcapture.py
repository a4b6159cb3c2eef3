"""Standard ``logging`` records emitted while a run executes, captured into that run's logs.

Owns: the ``capture_logging=`` setting of ``Client`` and ``define_job`` (off by default), the
context variable naming the execution whose job function or task is running, and the handler a
worker puts on the root logger while it runs. It decides nothing about runs: each record is
handed to ``Execution.log``, exactly like an ``io.logger`` call, so it is scoped to the task
attempt it was emitted in and written once however often the run replays.

A record is captured when it is emitted in the job function or a task function (or code they
call, async or in the task's thread), at or above the job's capture level, by a logger other
than runio's own. Records from threads the job starts itself carry no context and are not
captured. To see records below the root logger's level (``INFO`` under the default
``WARNING``), the worker lowers the root level while it runs and raises the level of the root's
existing handlers to what it was, so what they print does not change; both are restored when the
last capturing worker of the process stops.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._execution import Execution, current_frame
from .errors import ConfigurationError

CaptureSetting = bool | int | str | None
"""``True`` (records of level INFO and above), a level (``logging.DEBUG`` or ``"DEBUG"``),
``False`` (off) or ``None`` (a job: the client's setting; a client: off)."""

current_capture: contextvars.ContextVar[tuple[Execution, int] | None] = contextvars.ContextVar(
    "runio_capture_logging", default=None
)
"""The execution whose code is running, with its capture level; None when not capturing."""

_in_emit: contextvars.ContextVar[bool] = contextvars.ContextVar("runio_in_emit", default=False)


def capture_level(
    value: CaptureSetting, *, owner: str, error: type[ConfigurationError] = ConfigurationError
) -> int | bool | None:
    """``value`` checked: None (inherit), False (off) or a level number.

    ``owner`` names the client or job in the message of the ``error`` raised otherwise."""
    if value is None or value is False:
        return value
    if value is True:
        return logging.INFO
    if isinstance(value, str):
        level = logging.getLevelName(value.upper())
        if isinstance(level, int):
            return level
    elif isinstance(value, int) and value > 0:
        return value
    raise error(
        f"{owner}: capture_logging must be True, False, None or a logging level such as "
        f"logging.INFO or 'DEBUG', got {value!r}."
    )


def resolve(job_setting: int | bool | None, client_setting: int | bool | None) -> int | None:
    """The level a job's runs capture at, or None when they do not capture."""
    chosen = client_setting if job_setting is None else job_setting
    if chosen is None or chosen is False or chosen is True:
        return logging.INFO if chosen is True else None
    return chosen


def _runio_level(levelno: int) -> str:
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


class RunLogHandler(logging.Handler):
    """Writes each record emitted inside a capturing run into that run's logs."""

    def emit(self, record: logging.LogRecord) -> None:
        found = current_capture.get()
        if found is None or _in_emit.get():
            return
        execution, level = found
        if record.levelno < level or record.name == "runio" or record.name.startswith("runio."):
            return
        token = _in_emit.set(True)
        try:
            data: dict[str, Any] = {"logger": record.name}
            if record.exc_info:
                data["exception"] = logging.Formatter().formatException(record.exc_info)
            frame = current_frame.get()
            parent = frame if frame is not None and frame.execution is execution else None
            execution.log(
                _runio_level(record.levelno), record.getMessage(), data, parent, echo=False
            )
        except Exception:
            self.handleError(record)
        finally:
            _in_emit.reset(token)


class _Installed:
    """The process-wide handler and the root-logger levels it changed, shared by workers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.levels: list[int] = []
        self.handler = RunLogHandler()
        self.saved_root: int | None = None
        self.saved_handlers: dict[logging.Handler, int] = {}

    def apply(self) -> None:
        root = logging.getLogger()
        if not self.levels:
            root.removeHandler(self.handler)
            if self.saved_root is not None:
                root.setLevel(self.saved_root)
            for handler, level in self.saved_handlers.items():
                handler.setLevel(level)
            self.saved_root, self.saved_handlers = None, {}
            return
        wanted = min(self.levels)
        if self.handler not in root.handlers:
            root.addHandler(self.handler)
        if self.saved_root is None:
            self.saved_root = root.level
        before = self.saved_root
        if before == logging.NOTSET or wanted >= before:
            return  # the root logger already lets these records through
        for handler in root.handlers:
            if handler is not self.handler and handler.level < before:
                self.saved_handlers.setdefault(handler, handler.level)
                handler.setLevel(before)
        root.setLevel(wanted)


_installed = _Installed()


@contextmanager
def capturing(level: int) -> Iterator[None]:
    """Capture records of ``level`` and above in runs that ask for it, while the block runs."""
    with _installed.lock:
        _installed.levels.append(level)
        _installed.apply()
    try:
        yield
    finally:
        with _installed.lock:
            _installed.levels.remove(level)
            _installed.apply()
