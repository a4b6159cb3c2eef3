"""Collects every page of documentation as tests: README.md, docs/**/*.md and
packages/*/README.md, found by glob, each page's Python blocks run in order by Sybil.

The rules a page follows (and how a block opts out) are in test_docs_run.py's docstring.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_examples import DOCS_SYBIL, pages
from sybil.integration.pytest import SybilFile

HERE = Path(__file__).resolve().parent


class DocPages(pytest.Collector):
    """The documentation pages, one Sybil file each."""

    def collect(self) -> list[SybilFile]:
        return [SybilFile.from_parent(self, path=page, sybils=[DOCS_SYBIL]) for page in pages()]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> DocPages | None:
    # The pages live outside tests/; they are collected beside this directory's test module,
    # so `pytest tests`, `pytest tests/docs` and `nox -s tests` all run them (one page:
    # `pytest tests/docs -k tasks.md`).
    if file_path != HERE / "test_docs_run.py":
        return None
    return DocPages.from_parent(parent, name="pages")
