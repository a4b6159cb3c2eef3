"""The kit's machinery behind one integration instance: kept off the subclass.

``Runtime`` holds an instance's setting values, its secrets, its SDK clients (one per worker
event loop) and everything the kit does with them: redacting secrets from what a task records
(params, properties, outputs, errors), turning ``classify_error``'s answers into the engine's
retry verdicts, and reporting missing settings. ``Integration.__init__`` creates it and keeps it
as ``instance.__dict__["__runio__"]``; a vendor package never calls it, so a method a subclass
defines cannot replace any of it.

The SDK's own log records are scrubbed here too: every runtime with secrets registers them, and
a log-record factory replaces them in records of the loggers integrations name in
``sdk_loggers`` (and their children).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import threading
import traceback
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import _json
from .._task import Property, Task, as_property
from ..errors import ConfigurationError, IntegrationSettingError, RunioError, VendorError
from ..retry import SKIP_RETRYING, RetryAt

if TYPE_CHECKING:
    from ._base import ClassSpec, Integration
    from ._settings import Setting

log = logging.getLogger("runio.integrations")

REDACTED = "[redacted]"
_MIN_SECRET = 4  # shorter values are not searched for in text (they would match by chance)


class Runtime:
    """One integration instance's settings, secrets and SDK clients, and the kit's work on
    them."""

    def __init__(
        self, integration: Integration[Any], spec: ClassSpec, given: Mapping[str, Any]
    ) -> None:
        cls = type(integration)
        self.integration = integration
        self.spec = spec
        self.owner = cls.__name__
        unknown = sorted(set(given) - set(spec.settings))
        if unknown:
            known = ", ".join(spec.settings) or "none"
            raise IntegrationSettingError(
                f"{self.owner}() got unknown setting(s) {', '.join(unknown)}; its settings are: "
                f"{known}.",
                integration=integration.id,
                setting=unknown[0],
            )
        values: dict[str, Any] = {}
        for key, setting in spec.settings.items():
            value = setting.parse(self.owner, given.get(key), from_env=False)
            if value is None and setting.env:
                value = setting.parse(self.owner, os.environ.get(setting.env), from_env=True)
            if value is None:
                value = setting.default
            values[key] = value
        self.values = values
        self.secrets = sorted(
            {
                str(values[key])
                for key, setting in spec.settings.items()
                if setting.secret
                and values[key] is not None
                and len(str(values[key])) >= _MIN_SECRET
            },
            key=len,
            reverse=True,
        )
        # A secret as it appears inside JSON text (escaped), for scrubbing encoded outputs.
        self._json_secrets = [json.dumps(s, ensure_ascii=False)[1:-1] for s in self.secrets]
        self._missing = [
            key
            for key, setting in spec.settings.items()
            if setting.required and values.get(key) is None
        ]
        self._default_on_error = self._on_error_with(None)
        self._client_lock = threading.Lock()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        if self.secrets:
            _SECRETS.add(self, cls.sdk_loggers)

    # -- settings ----------------------------------------------------------------------------
    def value(self, setting: Setting) -> Any:
        value = self.values.get(setting.name)
        if value is None and setting.required:
            raise self._missing_error([setting.name])
        return value

    def missing(self) -> list[str]:
        return list(self._missing)

    def check_configured(self) -> None:
        if self._missing:
            raise self._missing_error(self._missing)

    def _missing_error(self, keys: list[str]) -> IntegrationSettingError:
        ways = []
        for key in keys:
            setting = self.spec.settings[key]
            how = f"{self.owner}({key}=...)"
            ways.append(
                f"{key} (pass {how} or set {setting.env})" if setting.env else f"{key} ({how})"
            )
        first = self.spec.settings[keys[0]]
        name = getattr(type(self.integration), "name", self.owner)
        return IntegrationSettingError(
            f"{name} integration {self.integration.id!r} needs {', '.join(ways)}.",
            integration=self.integration.id,
            setting=keys[0],
            env=first.env,
        )

    def describe(self) -> str:
        parts = [f"id={self.integration.id!r}"]
        for key, setting in self.spec.settings.items():
            value = self.values.get(key)
            shown = "'***'" if setting.secret and value is not None else repr(value)
            parts.append(f"{key}={shown}")
        return f"{self.owner}({', '.join(parts)})"

    # -- redaction ---------------------------------------------------------------------------
    def redact_text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def recorded(self, value: Any, secret_params: Collection[str] = ()) -> Any:
        """``value`` as it may be recorded (a task's params): JSON-compatible, secrets and
        ``secret_params`` replaced. Keys that JSON would merge (``{1: "a", "1": "b"}``) are
        refused rather than silently merged."""
        if type(value) is dict:  # a call's keywords, most often all text and numbers
            flat = self._recorded_flat(value, secret_params)
            if flat is not None:
                return flat
        try:
            _json.check_keys(value)
        except _json.NotJsonError as exc:
            raise ConfigurationError(
                f"{self.owner}: the call's parameters cannot be recorded: {exc}."
            ) from None

        def clean(item: Any) -> Any:
            if isinstance(item, str):
                return self.redact_text(item)
            if item is None or isinstance(item, bool | int | float):
                return item
            if isinstance(item, Mapping):
                return {
                    str(k): REDACTED if k in secret_params else clean(v) for k, v in item.items()
                }
            if isinstance(item, list | tuple | set | frozenset):
                return [clean(v) for v in item]
            if isinstance(item, bytes | bytearray):
                return f"<{len(item)} bytes>"
            try:
                return clean(_json.decode(_json.encode(item)))
            except _json.NotJsonError:
                return self.redact_text(repr(item))[:500]

        return clean(value)

    def _recorded_flat(
        self, params: dict[Any, Any], secret_params: Collection[str]
    ) -> dict[str, Any] | None:
        """``recorded`` for a dict of ``str`` keys whose values are all text, numbers, booleans
        or None (exact types): the same result without the walk; else None."""
        out: dict[str, Any] = {}
        redact = self.redact_text if self.secrets else None
        for key, item in params.items():
            if type(key) is not str:
                return None
            kind = type(item)
            if key in secret_params:
                out[key] = REDACTED
            elif kind is str:
                out[key] = item if redact is None else redact(item)
            elif item is None or kind is int or kind is float or kind is bool:
                out[key] = item
            else:
                return None
        return out

    def scrub_output(self, text: str) -> str:
        """A task's encoded output with every secret replaced: what the vendor echoed (or a
        ``run_task`` function returned) is stored, so no secret may be in it."""
        for secret, escaped in zip(self.secrets, self._json_secrets, strict=True):
            if escaped in text:
                text = text.replace(escaped, REDACTED)
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def scrubbed(self, error: Exception) -> Exception:
        """``error``, or a ``VendorError`` with the same text minus secrets if its text (or any
        error chained to it) contains a secret."""
        if not self.secrets:
            return error
        try:
            text = "".join(traceback.format_exception(error))
        except Exception:
            text = repr(error)
        if not any(s in text for s in self.secrets):
            return error
        replacement = VendorError(
            f"{type(error).__name__}: {self.redact_text(str(error))}",
            integration=self.integration.id,
            error_type=type(error).__name__,
        )
        replacement.vendor_error = error
        return replacement

    def recorded_error(
        self, error: Exception, task: Task
    ) -> tuple[Exception, BaseException | None]:
        """What a task records for ``error`` raised by the SDK, and the cause to chain it to:
        the integration's translation, scrubbed of secrets (a scrubbed error is chained to
        nothing, so the original's text is not recorded either). The original stays reachable
        for classification."""
        try:
            translated = self.integration.translate_error(error, task)
        except Exception:
            log.exception("%s.translate_error raised; recording the original error", self.owner)
            translated = error
        if not isinstance(translated, Exception):  # type: ignore[redundant-expr,unused-ignore]
            translated = error  # type: ignore[unreachable,unused-ignore]
        replacement = self.scrubbed(translated)
        if replacement is error:
            return error, error.__cause__
        replacement.__runio_vendor_error__ = error  # type: ignore[attr-defined]
        leaks = replacement is not translated or self.scrubbed(error) is not error
        return replacement, (None if leaks else error)

    def properties(
        self, properties: Sequence[Property | Mapping[str, Any]] | None
    ) -> list[Property] | None:
        if not properties:
            return None
        out = []
        for given in properties:
            p = as_property(given, self.owner)
            text: Any = p.text
            if text is None:  # a parameter the call did not give
                continue
            text = self.redact_text(str(text))
            url = p.url and self.redact_text(p.url)
            # a property without a secret in it is kept as it is (no copy to make)
            out.append(p if text is p.text and url is p.url else Property(p.label, text, url))
        return out or None

    # -- SDK clients -------------------------------------------------------------------------
    def client_for(self, loop: asyncio.AbstractEventLoop) -> Any:
        client = self._clients.get(loop)  # made already: no lock needed to read it
        if client is not None:
            return client
        with self._client_lock:
            client = self._clients.get(loop)
            if client is None:
                self.check_configured()
                client = self.integration.create_client()
                self._clients[loop] = client
            return client

    async def close_clients(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._client_lock:
            client = self._clients.pop(loop, None)
        if client is not None:
            try:
                await self.integration.close_client(client)
            except Exception:
                log.warning(
                    "closing the %s client of %r failed",
                    self.owner,
                    self.integration.id,
                    exc_info=True,
                )

    # -- errors ------------------------------------------------------------------------------
    def on_error(
        self, user_on_error: Callable[[Exception, Task], Any] | None
    ) -> Callable[[Exception, Task], Any]:
        """The ``on_error`` of this integration's tasks: the caller's own first, then the
        integration's classification turned into the engine's retry verdicts."""
        if user_on_error is None:
            return self._default_on_error  # built once, in __init__
        return self._on_error_with(user_on_error)

    def _on_error_with(
        self, user_on_error: Callable[[Exception, Task], Any] | None
    ) -> Callable[[Exception, Task], Any]:
        integration = self.integration

        async def on_error(error: Exception, task: Task) -> Any:
            original = getattr(error, "__runio_vendor_error__", None)
            if not isinstance(original, Exception):
                original = error
            try:
                if integration.is_outcome_unknown(original):
                    error.outcome_unknown = True  # type: ignore[attr-defined]
            except Exception:
                log.debug("could not mark %r as of unknown outcome", error, exc_info=True)
            if user_on_error is not None:
                verdict = user_on_error(error, task)
                if inspect.isawaitable(verdict):
                    verdict = await verdict
                if verdict is not None:
                    return verdict
            if isinstance(original, ConfigurationError) and isinstance(original, RunioError):
                return SKIP_RETRYING
            try:
                decision = integration.classify_error(original, task)
            except Exception:
                log.exception("%s.classify_error raised; using the retry options", self.owner)
                decision = None
            if decision is None or decision.action == "retry":
                return None
            if decision.action == "fail":
                return SKIP_RETRYING
            assert decision.when is not None
            return RetryAt(decision.when)

        return on_error


def runtime_of(integration: Integration[Any]) -> Runtime:
    """The kit's runtime of an integration instance."""
    runtime = integration.__dict__.get("__runio__")
    if not isinstance(runtime, Runtime):
        raise ConfigurationError(
            f"{type(integration).__name__}.__init__ did not call runio.Integration.__init__ "
            "(call super().__init__(...) in it)."
        )
    return runtime


class _SecretLogScrubber:
    """Replaces live integrations' secrets in log records of their SDKs' loggers.

    Installed as the log-record factory (wrapping whatever factory was there) the first time an
    instance with secrets is created; records of other loggers pass untouched at the cost of a
    prefix check.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: weakref.WeakSet[Runtime] = weakref.WeakSet()
        self._prefixes: tuple[str, ...] = ()
        self._installed = False

    def add(self, runtime: Runtime, loggers: Sequence[str]) -> None:
        with self._lock:
            self._live.add(runtime)
            new = tuple(name for name in loggers if name and name not in self._prefixes)
            self._prefixes += new
            if not self._installed:
                previous = logging.getLogRecordFactory()

                def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                    record = previous(*args, **kwargs)
                    if self._prefixes and _under(record.name, self._prefixes):
                        self._scrub(record)
                    return record

                logging.setLogRecordFactory(factory)
                self._installed = True

    def _scrub(self, record: logging.LogRecord) -> None:
        secrets = [s for runtime in list(self._live) for s in runtime.secrets]
        if not secrets:
            return
        try:
            text = record.getMessage()
        except Exception:
            return
        if any(s in text for s in secrets):
            for secret in sorted(secrets, key=len, reverse=True):
                text = text.replace(secret, REDACTED)
            record.msg, record.args = text, None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = "".join(traceback.format_exception(*record.exc_info))
            if any(s in formatted for s in secrets):
                for secret in secrets:
                    formatted = formatted.replace(secret, REDACTED)
                record.exc_info, record.exc_text = None, formatted.rstrip("\n")


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


_SECRETS = _SecretLogScrubber()
