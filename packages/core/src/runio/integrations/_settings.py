"""An integration's settings: declared once, as annotated class attributes.

::

    class Acme(runio.Integration[AcmeClient]):
        api_key: str = runio.setting(env="ACME_API_KEY", help="API key")          # secret
        base_url: str = runio.setting(env="ACME_API_BASE", default=URL, secret=False)

The constructor is generated from them (``Acme(id=..., api_key=..., base_url=...)``, typed for
mypy through ``dataclass_transform`` on the base class). A value comes from the constructor
argument, else the environment variable, else the default; an empty string counts as no value.
Reading ``self.api_key`` gives the value, or raises ``IntegrationSettingError`` naming the
argument and the environment variable when a required setting has none. Settings are read-only
after construction, and a secret is held in memory only.

This module owns the declaration (``Setting``, ``setting``) and turning raw values into typed
ones; where values are kept and how secrets are redacted is ``_runtime.py``'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import IntegrationSettingError

if TYPE_CHECKING:
    from ._base import Integration


@dataclass(frozen=True, kw_only=True, eq=False)
class Setting:
    """One setting of an integration, as ``runio.setting(...)`` declares it."""

    env: str | None = None
    """The environment variable read when the argument is not given."""
    secret: bool = True
    """Held in memory only: never recorded with a task, logged, or shown in a repr or error."""
    required: bool = True
    """The integration cannot build its client without it (False when a default is set)."""
    default: Any = None
    """Used when neither the argument nor the environment variable gives a value."""
    help: str = ""
    """One line for ``runio integrations list`` and error messages."""
    name: str = field(default="", compare=False)
    """The attribute it is declared as (set when the class is created)."""
    kind: str = field(default="str", compare=False)
    """``str``, ``int``, ``float`` or ``bool``: how a value from the environment is read, and
    what an argument is checked against (from the annotation)."""

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)

    def __get__(self, instance: Integration[Any] | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance.__dict__["__runio__"].value(self)

    def __set__(self, instance: Integration[Any], value: Any) -> None:
        raise AttributeError(
            f"{type(instance).__name__}.{self.name} is a setting: pass it to the constructor "
            f"({type(instance).__name__}({self.name}=...)); settings cannot change afterwards."
        )

    def parse(self, owner: str, value: Any, *, from_env: bool) -> Any:
        """``value`` as this setting's kind, or an ``IntegrationSettingError`` saying what is
        wrong with it. An empty string is no value (None)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        where = f"environment variable {self.env}" if from_env else f"{owner}({self.name}=...)"
        kind = self.kind
        try:
            if kind == "str":
                if not isinstance(value, str):
                    raise TypeError
                return value
            if kind == "bool":
                if isinstance(value, bool):
                    return value
                if from_env and value.strip().lower() in ("1", "true", "yes", "on"):
                    return True
                if from_env and value.strip().lower() in ("0", "false", "no", "off"):
                    return False
                raise TypeError
            if isinstance(value, bool) or (isinstance(value, str) and not from_env):
                raise TypeError
            number = int(value) if kind == "int" else float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        except (TypeError, ValueError):
            shown = "'***'" if self.secret else repr(value)
            raise IntegrationSettingError(
                f"{where} must be {_KIND_WORDS[kind]}, got {shown}.",
                integration=owner,
                setting=self.name,
                env=self.env,
            ) from None


_KIND_WORDS = {
    "str": "a non-empty string",
    "int": "an integer",
    "float": "a finite number",
    "bool": "true or false",
}


def kind_of(annotation: Any) -> str:
    """The kind of a setting from its annotation (a string under postponed evaluation)."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    parts = {p.strip() for p in str(text).split("|")} - {"None", "Optional"}
    for kind in ("bool", "int", "float"):
        if parts == {kind}:
            return kind
    return "str"


def setting(
    *,
    env: str | None = None,
    default: Any = None,
    secret: bool = True,
    required: bool | None = None,
    help: str = "",
) -> Any:
    """Declare a setting of a ``runio.Integration`` subclass::

        api_key: str = runio.setting(env="ACME_API_KEY", help="API key (sk_...)")

    ``env`` is the environment variable read when the constructor is not given the setting;
    ``default`` the value when neither gives one; ``secret`` (default True) keeps it out of every
    record, log, repr and error; ``required`` (default: True unless a default is given) makes
    reading it without a value an ``IntegrationSettingError``. Annotate ``str``, ``int``,
    ``float`` or ``bool`` (``| None`` for an optional one): values from the environment are read
    as that type and arguments checked against it."""
    return Setting(
        env=env,
        default=default,
        secret=secret,
        required=(default is None) if required is None else required,
        help=help,
    )
