"""How the documentation's Python blocks are run: Sybil's Markdown parsers, one namespace per
page in a fresh temporary directory, and an evaluator that runs a job-body fragment (a block
that uses `io` or awaits at its top level) as the body of a real job, to completion.

The rules are written for doc authors in test_docs_run.py's docstring; this module owns their
implementation and nothing else.
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sybil import Example, Sybil
from sybil.evaluators.python import pad
from sybil.parsers.markdown import (
    ClearNamespaceParser,
    CodeBlockParser,
    SkipParser,
)

import runio
from runio.testing import FakeVendorServer, JobTester, TestClock, task_statuses

ROOT = Path(__file__).resolve().parents[2]
PAGE_GLOBS = ("README.md", "docs/**/*.md", "packages/*/README.md")

# The event of a job-body fragment's job (the fragment reads `payload` from the page, if at all).
FRAGMENT_EVENT = "docs.example"
_SAVED = "__docs_saved__"


def pages() -> list[Path]:
    """Every page whose Python blocks are run: found by glob, so a new page is tested."""
    found = {path for pattern in PAGE_GLOBS for path in ROOT.glob(pattern)}
    return sorted(found)


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The block's own code: every node outside the functions and lambdas it defines."""
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield child
            yield from _own_nodes(child)


def _is_fragment(tree: ast.Module, namespace: dict[str, Any]) -> bool:
    """A block is a job-body fragment when it awaits, or uses an `io` the page has not
    defined, outside the functions it defines."""
    for node in _own_nodes(tree):
        if isinstance(node, ast.Await | ast.AsyncFor | ast.AsyncWith):
            return True
        if isinstance(node, ast.Name) and node.id == "io" and "io" not in namespace:
            return True
    return False


def _as_job_body(tree: ast.Module) -> ast.Module:
    """``async def __docs_job__(__docs_payload__, io, ctx): <block>;
    __docs_export__(locals())``, keeping the block's line numbers."""
    wrapper = ast.parse("async def __docs_job__(__docs_payload__, io, ctx):\n    pass\n")
    job = wrapper.body[0]
    assert isinstance(job, ast.AsyncFunctionDef)
    job.body = [*tree.body, *ast.parse("__docs_export__(locals())").body]
    ast.fix_missing_locations(wrapper)
    return wrapper


def _run_fragment(example: Example, tree: ast.Module) -> None:
    namespace = example.namespace
    code = compile(_as_job_body(tree), example.path, "exec", dont_inherit=True)
    exported: dict[str, Any] = {}
    namespace["__docs_export__"] = exported.update
    exec(code, namespace)
    fn = namespace.pop("__docs_job__")
    clock = TestClock(start=1_800_000_000.0)
    with runio.Client(
        id="docs", database_url="sqlite://:memory:", clock=clock, time_scale=1
    ) as client:
        job = client.define_job(
            id=f"docs-line-{example.line}",
            trigger=runio.event_trigger(FRAGMENT_EVENT),
        )(fn)
        prepare = namespace.get("docs_prepare_client")
        if prepare is not None:
            prepare(client)
        tester = JobTester(client, clock)
        run = tester.run_until_finished(tester.run_job(job, {}))
        if run.status != "COMPLETED":
            error = run.error or {}
            raise AssertionError(
                f"{example.path}, line {example.line}: the block, run as a job's body, ended "
                f"{run.status}: {error.get('type')}: {error.get('message')}; its tasks: "
                f"{task_statuses(run)}"
            )
    namespace.pop("__docs_export__", None)
    namespace.update(
        {
            name: value
            for name, value in exported.items()
            if name not in ("io", "ctx") and not name.startswith("__docs")
        }
    )


def evaluate_python(example: Example) -> None:
    """Run one Python block in its page's namespace.

    A block that uses `io` or has a top-level `await` is a fragment of a job function: it runs
    as the body of an async job (`io`, `ctx` bound; `payload` is the page's own name, if any),
    and the names it assigns are kept for the page's later blocks."""
    __tracebackhide__ = True
    example.namespace.setdefault("docs_page", Path(example.path))
    source = pad(example.parsed, example.line + example.parsed.line_offset)
    tree = ast.parse(source, example.path)
    if _is_fragment(tree, example.namespace):
        _run_fragment(example, tree)
    else:
        exec(compile(tree, example.path, "exec", dont_inherit=True), example.namespace)
    example.namespace.pop("__builtins__", None)


def _setup(namespace: dict[str, Any]) -> None:
    """Each page runs in a fresh empty directory, with the environment it found restored
    after it: `./.runio`, files a page writes and variables it sets stay with that page."""
    directory = tempfile.mkdtemp(prefix="runio-docs-")
    namespace[_SAVED] = (os.getcwd(), dict(os.environ), directory, list(sys.path))
    os.environ.pop("RUNIO_DATABASE_URL", None)
    os.chdir(directory)


def _teardown(namespace: dict[str, Any]) -> None:
    for value in list(namespace.values()):
        close: Callable[[], None] | None = None
        if isinstance(value, runio.Client):
            close = value.close
        elif isinstance(value, FakeVendorServer):
            close = value.stop
        if close is not None:
            close()
    cwd, environ, directory, path = namespace.pop(_SAVED)
    added = [entry for entry in sys.path if entry not in path]
    sys.path[:] = path
    for name, module in list(sys.modules.items()):  # modules the page imported from its paths
        where = str(getattr(module, "__file__", None) or "")
        if where and any(where.startswith(entry) for entry in [directory, *added]):
            del sys.modules[name]
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    shutil.rmtree(directory, ignore_errors=True)


DOCS_SYBIL = Sybil(
    parsers=[
        CodeBlockParser("python", evaluate_python),
        SkipParser(),
        ClearNamespaceParser(),
    ],
    setup=_setup,
    teardown=_teardown,
    # runio's pytest plugin's fixture, for a block that calls a test function the page shows
    fixtures=["runio_app"],
)
