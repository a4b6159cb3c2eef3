"""Typed integration calls: ``mypy --strict`` checks what a job passes to a wrapper.

``io.use(integration)`` is typed as the integration, each wrapper as its call (the cache key,
then the wrapper's own keyword parameters), and an integration's constructor from its settings.
These tests run mypy, as a user's CI would, over a job file with mistakes in it, over the
example apps, and over a freshly scaffolded integration package.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runio.integrations._scaffold import scaffold

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    ROOT / "packages" / "core" / "src",
    ROOT / "packages" / "stripe" / "src",
    ROOT / "packages" / "github" / "src",
    ROOT / "packages" / "resend" / "src",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for the module: runio's own modules are checked once."""
    return tmp_path_factory.mktemp("mypy-cache")


def _mypy(
    tmp_path: Path, cache: Path, *targets: Path, extra_path: list[Path] | None = None
) -> tuple[int, str]:
    env = dict(os.environ)
    env["MYPYPATH"] = os.pathsep.join(str(p) for p in [*SOURCES, *(extra_path or [])])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--show-error-codes",
            "--cache-dir",
            str(cache),
            "--python-version",
            "3.11",
            *map(str, targets),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    return result.returncode, result.stdout + result.stderr


def test_mypy_catches_a_misspelt_wrapper_and_wrong_arguments(tmp_path: Path, cache: Path) -> None:
    job = tmp_path / "job.py"
    job.write_text(
        textwrap.dedent(
            """
            from __future__ import annotations

            from typing import Any

            from runio_stripe import Stripe

            import runio

            client = runio.Client(id="typed")
            stripe = Stripe(api_key="sk_test_123", timeout=20.0)
            Stripe(api_key=123)
            Stripe(apikey="sk_test_123")


            @client.define_job(
                id="typed", trigger=runio.event_trigger("go"), integrations={"stripe": stripe}
            )
            async def job(payload: Any, io: runio.IO, ctx: runio.RunContext) -> Any:
                made = await io.use(stripe).create_customer("ok", email="ada@example.com")
                reveal_type(made)
                await io.use(Stripe).retrieve_customer("ok-too", id=made["id"])
                await io.use(stripe).create_custmer("typo", email="ada@example.com")
                await io.use(stripe).retrieve_customer("wrong-type", id=42)
                await io.use(stripe).list_customers("wrong-type-too", max_items="5")
                await io.run_task("opts", lambda task: 1, retyr=None)
                return await io.stripe.anything_goes("untyped shorthand")
            """
        )
    )
    code, out = _mypy(tmp_path, cache, job)
    assert code == 1, out
    lines = [line.split(": ", 1)[1] for line in out.splitlines() if ": " in line]
    found = "\n".join(lines)
    assert re.search(r'Argument "api_key" to "Stripe" has incompatible type "int"', found), out
    assert 'Unexpected keyword argument "apikey" for "Stripe"' in found, out
    assert 'Revealed type is "dict[str, Any]"' in found, out
    assert '"Stripe" has no attribute "create_custmer"' in found, out
    assert re.search(r'Argument "id" has incompatible type "int"; expected "str"', found), out
    assert 'Argument "max_items" has incompatible type "str"; expected "int"' in found, out
    assert 'Unexpected keyword argument "retyr" for overloaded function "run_task"' in found, out
    errors = {line.split(":")[1] for line in out.splitlines() if ": error:" in line}
    # lines 12, 13, 23, 24, 25, 26: nothing else, so the correct calls and io.stripe pass
    assert errors == {"12", "13", "23", "24", "25", "26"}, out


def test_a_job_keeps_its_payload_and_result_types(tmp_path: Path, cache: Path) -> None:
    job = tmp_path / "jobs.py"
    job.write_text(
        textwrap.dedent(
            """
            from __future__ import annotations

            from pydantic import BaseModel

            import runio

            client = runio.Client(id="typed")


            class NewUser(BaseModel):
                user_id: str


            @client.define_job(id="a", trigger=runio.event_trigger("a", schema=NewUser))
            async def welcome(
                payload: NewUser, io: runio.IO, ctx: runio.RunContext
            ) -> dict[str, str]:
                return {"user": payload.user_id}


            @client.define_job(id="b", trigger=runio.event_trigger("b"))
            def count(payload: list[int], io: runio.SyncIO) -> int:
                return len(payload)


            @client.define_job(id="d", trigger=runio.event_trigger("d"))
            def not_async(payload: dict[str, str], io: runio.IO) -> None: ...


            reveal_type(welcome)
            reveal_type(count)
            reveal_type(welcome.fn)
            runio.Property("Email", None)
            runio.Property("Email")
            runio.Property("Plan", "pro", url="https://example.com")
            runio.Property("Count", 3)
            """
        )
    )
    code, out = _mypy(tmp_path, cache, job)
    assert code == 1, out
    said = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("jobs.py:")]
    assert said[1:4] == [
        'note: Revealed type is "runio._job.Job[jobs.NewUser, dict[str, str]]"',
        'note: Revealed type is "runio._job.Job[list[int], int]"',
        'note: Revealed type is "def (*Any, **Any) -> typing.Awaitable[dict[str, str]] | '
        'dict[str, str]"',
    ], out
    # a plain function given an IO (an async job's) fits no shape define_job takes
    assert said[0].startswith('error: Argument 1 to "__call__" of "JobDecorator"'), out
    assert "Callable[[dict[str, str], IO], None]" in said[0], out
    assert said[4:] == [
        'error: Argument 2 to "Property" has incompatible type "int"; expected "str | None"  '
        "[arg-type]"
    ], out


def test_the_examples_pass_mypy_strict(tmp_path: Path, cache: Path) -> None:
    targets = [p for p in (ROOT / "examples").glob("*.py") if p.name != "__init__.py"]
    code, out = _mypy(tmp_path, cache, *targets)
    assert code == 0, out


def test_a_fresh_scaffold_passes_mypy_strict(tmp_path: Path, cache: Path) -> None:
    _, package, _ = scaffold("acme", tmp_path / "out")
    code, out = _mypy(
        tmp_path,
        cache,
        package / "src" / "runio_acme",
        *sorted((package / "tests").glob("*.py")),
        extra_path=[package / "src"],
    )
    assert code == 0, out
