"""``runio integrations list|new NAME``: what is installed, and a new integration package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from ..integrations._scaffold import scaffold
from ..plugins import create_plugin_manager
from ._console import console


@click.group()
def integrations() -> None:
    """Installed integration plugins, and scaffolding a new one."""


def _rows() -> list[dict[str, Any]]:
    pm = create_plugin_manager()
    by_plugin: dict[str, list[Any]] = {}
    for info in pm.integrations():
        by_plugin.setdefault(info.plugin.name, []).append(info)
    rows = []
    for plugin in pm.plugin_infos():
        found = by_plugin.get(plugin.name) or [None]
        for info in found:
            missing = info.cls.missing_from_environment() if info is not None else []
            rows.append(
                {
                    "plugin": plugin.name,
                    "package": plugin.package,
                    "version": plugin.version,
                    "builtin": plugin.builtin,
                    "namespace": info.namespace if info is not None else None,
                    "integration": info.cls.name if info is not None else None,
                    "class": (
                        f"{info.cls.__module__}.{info.cls.__qualname__}"
                        if info is not None
                        else None
                    ),
                    "configured": (not missing) if info is not None else None,
                    "missing": missing,
                }
            )
    return rows


@integrations.command(
    "list",
    short_help="Installed plugins and the io namespaces they provide.",
    epilog="\b\nExamples:\n  runio integrations list\n  runio integrations list --json",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def integrations_list(as_json: bool) -> None:
    """Installed plugins: package, version, the io namespaces they provide, and whether the
    environment configures each (RUNIO_PLUGINS / RUNIO_DISABLE_PLUGINS apply)."""
    rows = _rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    out = console()
    if not out.is_terminal:
        for r in rows:
            status = (
                "-"
                if r["configured"] is None
                else "configured"
                if r["configured"]
                else "not configured: set " + ", ".join(r["missing"])
            )
            source = "built-in" if r["builtin"] else f"{r['package']} {r['version']}"
            click.echo(f"{r['plugin']}\t{source}\tio.{r['namespace'] or '-'}\t{status}")
        return
    table = Table(title="runio plugins")
    for column in ("plugin", "package", "version", "namespace", "integration", "configured"):
        table.add_column(column)
    for r in rows:
        if r["configured"] is None:
            configured = Text("-")
        elif r["configured"]:
            configured = Text("yes", style="green")
        else:
            configured = Text.assemble(("no", "yellow"), ": set " + ", ".join(r["missing"]))
        table.add_row(
            Text(r["plugin"]),
            Text("runio (built-in)" if r["builtin"] else r["package"] or "-"),
            Text(r["version"] or "-"),
            Text(f"io.{r['namespace']}" if r["namespace"] else "-"),
            Text(r["integration"] or "-"),
            configured,
        )
    out.print(table)


@integrations.command(
    "new",
    short_help="Scaffold an integration package for vendor NAME.",
    epilog="\b\nExamples:\n  runio integrations new linear\n"
    "  runio integrations new linear --directory ~/src/runio-linear",
)
@click.argument("name")
@click.option(
    "--directory",
    "-d",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the package (default: ./runio-NAME).",
)
def integrations_new(name: str, directory: Path | None) -> None:
    """Scaffold a complete integration package for vendor NAME (e.g. `linear`): pyproject with
    the runio entry point, the Integration subclass with one task wrapper, its fake server,
    tests that run the conformance suite, and a README."""
    names, target, written = scaffold(name, directory)
    if target.is_relative_to(Path.cwd()):
        target = target.relative_to(Path.cwd())
        written = [path.relative_to(Path.cwd()) for path in written]
    click.echo(f"Created {names.dist} in {target}:")
    for path in written:
        click.echo(f"  {path.relative_to(target)}")
    click.echo(
        "\nNext:\n"
        f"  cd {target}\n"
        "  pip install -e '.[test]'\n"
        "  pytest                     # the conformance suite passes as generated\n"
        f"Then replace the httpx calls in src/{names.module}/_integration.py with the "
        f"{names.title} API (or its SDK), and its fake in src/{names.module}/testing.py."
    )
