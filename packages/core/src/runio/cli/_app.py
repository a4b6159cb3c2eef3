"""Loading an app from ``module:client`` or ``path/to/file.py:client``."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path

import click

from .._client import Client
from ..errors import RunioError


class AppImportError(RunioError):
    """Importing the user's app raised."""

    def __init__(self, spec: str, error: BaseException) -> None:
        where = ""
        tb = traceback.extract_tb(error.__traceback__)
        if tb:
            last = tb[-1]
            where = f" ({Path(last.filename).name}, line {last.lineno})"
        super().__init__(
            f"Importing APP {spec!r} failed: {type(error).__name__}: {error}{where}. Fix the app, "
            "or run `runio --debug ...` to see the traceback."
        )


def load_app(spec: str) -> Client:
    if ":" not in spec:
        raise click.BadParameter(
            f"{spec!r} names no client: write module:client or path/to/file.py:client "
            "(e.g. examples/new_user.py:client).",
            param_hint="APP",
        )
    target, attr = spec.rsplit(":", 1)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target)
        if not path.is_file():
            raise click.BadParameter(f"no file {target!r} (from {spec!r})", param_hint="APP")
        module_name = f"runio_app_{path.stem}"
        spec_obj = importlib.util.spec_from_file_location(module_name, path)
        if spec_obj is None or spec_obj.loader is None:
            raise click.BadParameter(f"cannot import {target!r}", param_hint="APP")
        module = importlib.util.module_from_spec(spec_obj)
        sys.modules[module_name] = module
        sys.path.insert(0, str(path.resolve().parent))
        try:
            spec_obj.loader.exec_module(module)
        except RunioError:  # a setting or definition runio refused: its message says what
            raise
        except Exception as exc:
            raise AppImportError(spec, exc) from exc
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            if exc.name and target.startswith(exc.name):
                raise click.BadParameter(
                    f"no module named {target!r} (from {spec!r}); run from the directory that "
                    "contains it, or give a file path such as app/jobs.py:client",
                    param_hint="APP",
                ) from None
            raise AppImportError(spec, exc) from exc
        except RunioError:  # a setting or definition runio refused: its message says what
            raise
        except Exception as exc:
            raise AppImportError(spec, exc) from exc
    client = getattr(module, attr, None)
    if client is None:
        raise click.BadParameter(f"{target!r} has no attribute {attr!r}", param_hint="APP")
    if not isinstance(client, Client):
        raise click.BadParameter(
            f"{spec!r} is a {type(client).__name__}, not a runio.Client", param_hint="APP"
        )
    return client
