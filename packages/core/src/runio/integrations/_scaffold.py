"""``runio integrations new NAME``: a complete integration package from the template shipped in
``runio/_scaffold_template`` (pyproject with the ``runio`` entry point, the ``Integration``
subclass with one wrapper, its fake server, tests that run the conformance suite, a README).

Template files end in ``.tmpl`` (so no tool mistakes them for runio's own code); ``{{token}}``
placeholders in their text and ``__module__``/``__namespace__`` in their paths are filled in.
"""

from __future__ import annotations

import importlib.resources
import keyword
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from .._names import IO_ATTRIBUTES
from .._version import __version__
from ..errors import ConfigurationError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class PackageNames:
    """The names a new integration package gets from ``NAME`` (e.g. ``acme-crm``)."""

    namespace: str  # acme_crm   (io.acme_crm, the entry-point name)
    dist: str  # runio-acme-crm
    module: str  # runio_acme_crm
    cls: str  # AcmeCrm
    env: str  # ACME_CRM    (ACME_CRM_API_KEY)
    title: str  # Acme Crm

    @classmethod
    def from_name(cls, name: str) -> PackageNames:
        raw = name.strip().lower()
        raw = raw.removeprefix("runio-").removeprefix("runio_")
        namespace = re.sub(r"[-.\s]+", "_", raw)
        if not _NAME.match(namespace) or keyword.iskeyword(namespace):
            raise ConfigurationError(
                f"{name!r} cannot name an integration: use the vendor's name in lowercase "
                "letters, digits, '-' or '_', starting with a letter (e.g. 'linear', 'acme-crm')."
            )
        if namespace in IO_ATTRIBUTES:
            raise ConfigurationError(
                f"{namespace!r} is already an attribute of io (io.{namespace}); choose another "
                "name."
            )
        words = [w for w in namespace.split("_") if w]
        return cls(
            namespace=namespace,
            dist="runio-" + "-".join(words),
            module="runio_" + namespace,
            cls="".join(w.capitalize() for w in words),
            env=namespace.upper(),
            title=" ".join(w.capitalize() for w in words),
        )


def _files(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            out.extend(_files(entry, path + "/"))
        elif entry.name.endswith(".tmpl"):
            out.append((path.removesuffix(".tmpl"), entry))
    return out


def scaffold(name: str, directory: Path | None = None) -> tuple[PackageNames, Path, list[Path]]:
    """Write a new integration package for ``name`` into ``directory`` (default:
    ``./runio-<name>``), which must not exist or be empty. Returns the names, the directory
    and the files written."""
    names = PackageNames.from_name(name)
    target = Path(directory) if directory is not None else Path.cwd() / names.dist
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigurationError(
            f"{target} already exists and is not empty; choose another directory "
            "(--directory) or remove it."
        )
    tokens = {
        "{{namespace}}": names.namespace,
        "{{dist}}": names.dist,
        "{{module}}": names.module,
        "{{class}}": names.cls,
        "{{env}}": names.env,
        "{{title}}": names.title,
        "{{runio_version}}": __version__,
    }
    root = importlib.resources.files("runio") / "_scaffold_template"
    written = []
    for relative, source in _files(root):
        relative = relative.replace("__module__", names.module).replace(
            "__namespace__", names.namespace
        )
        text = source.read_text(encoding="utf-8")
        for token, value in tokens.items():
            text = text.replace(token, value)
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return names, target, written
