"""Every hook is typed, says when it fires and what it returns, is documented in the guides,
and is implemented by at least one test (the datasette rule)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from runio.plugins import LIFECYCLE_HOOKS, hookspecs

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
HOOKS = sorted(name for name in vars(hookspecs) if name.startswith("runio_"))


def test_the_hook_list_is_what_the_docs_promise() -> None:
    assert sorted(["runio_register_integrations", *LIFECYCLE_HOOKS]) == HOOKS


@pytest.mark.parametrize("name", HOOKS)
def test_the_hook_is_a_typed_spec_saying_when_it_fires(name: str) -> None:
    fn = getattr(hookspecs, name)
    assert getattr(fn, "runio_spec", None) is not None, f"{name} is not marked @hookspec"
    signature = inspect.signature(fn)
    assert signature.return_annotation == "None"
    for parameter in signature.parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty, f"{name}({parameter.name})"
    doc = inspect.getdoc(fn) or ""
    assert "fires" in doc.lower() or "fire" in doc.lower(), f"{name}: say when it fires"
    assert "Returns" in doc, f"{name}: say what it returns"


@pytest.mark.parametrize("name", HOOKS)
def test_the_hook_is_documented(name: str) -> None:
    guides = (ROOT / "docs" / "writing-an-integration.md").read_text() + (
        ROOT / "docs" / "integrations.md"
    ).read_text()
    assert f"`{name}" in guides, f"{name} is not described in docs/"


@pytest.mark.parametrize("name", HOOKS)
def test_the_hook_is_tested(name: str) -> None:
    sources = [p for p in HERE.glob("test_*.py") if p.name != Path(__file__).name]
    sources += list((HERE.parent / "plugins").rglob("*.py"))
    text = "".join(p.read_text() for p in sources)
    assert f"def {name}(" in text, f"no test implements {name}"
