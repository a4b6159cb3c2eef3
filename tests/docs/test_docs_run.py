"""The documentation runs: every Python block of README.md, docs/**/*.md and
packages/*/README.md is a test (collected by tests/docs/conftest.py with Sybil).

How a page's blocks run:

- Each page runs top to bottom in one namespace, so a block builds on the page's earlier
  blocks. The page runs in a fresh empty directory (`./.runio` and files it writes stay there)
  and the environment variables it sets are restored afterwards; clients it leaves open are
  closed.
- A block that uses `io`, or awaits at its top level, is a fragment of a job function: it runs
  as the body of an async job `(payload, io, ctx)` on a test clock, until the run finishes, and
  the run must complete. The names the fragment assigns stay for the page's later blocks.
  `payload` is whatever the page named so (define it in an earlier block, visible or hidden).
  Integrations are the default instances, configured from the environment (a hidden block
  starts the package's fake and sets its variables, as the integration pages do). A page
  function named `docs_prepare_client(client)` is called with the job's client first (to
  define the jobs the fragment's events trigger, say).
- Setup a reader does not need to see goes in a hidden block, kept in the page's source:

      <!-- invisible-code-block: python
      payload = {"user_ids": ["u_1", "u_2"]}
      -->

- `runio_app` (runio's pytest fixture, fresh for each block) is there too, so a hidden block
  can call a test function the page shows: `test_it(runio_app)`.
- `docs_page` is the page's path (to reach files of the repository from a hidden block).
- `<!-- clear-namespace -->` starts the page's namespace afresh.

How a block opts out (keep it rare, and say why where the reader of the source sees it):

      <!-- skip: next "a signature, not an example" -->

  skips the next block; `<!-- skip: start "why" -->` ... `<!-- skip: end -->` skips a range.
  A block that is not Python at all belongs in a ```text (or ```console) fence instead.

Console transcripts (```console blocks with output) are checked by test_cli_docs.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from docs_examples import ROOT, pages

from runio.integrations._scaffold import scaffold

SKIP = re.compile(r"<!-- skip: (next|start)(?P<reason>[^>]*)-->")


def test_every_page_is_collected() -> None:
    found = {path.relative_to(ROOT).as_posix() for path in pages()}
    assert {"README.md", "docs/tasks.md", "docs/integrations/stripe.md"} <= found
    assert "packages/stripe/README.md" in found
    assert all(path.endswith(".md") for path in found)


def test_every_skip_states_its_reason() -> None:
    for page in pages():
        for match in SKIP.finditer(page.read_text("utf-8")):
            reason = match["reason"].strip().strip("\"'")
            assert len(reason) >= 10, f"{page}: a skip without a reason a reader can check"


def test_the_methods_shown_alone_are_the_scaffolds(tmp_path: Path) -> None:
    """docs/writing-an-integration.md shows some of Acme's methods on their own (skipped, as a
    method cannot run outside its class): each is the scaffold's code, comments aside."""
    scaffold("acme", tmp_path / "runio-acme")
    written = "\n".join(
        path.read_text("utf-8") for path in sorted((tmp_path / "runio-acme").rglob("*.py"))
    )
    guide = (ROOT / "docs" / "writing-an-integration.md").read_text("utf-8")
    shown = re.findall(
        r'<!-- skip: next "a method of the Acme class[^>]*-->\s*```python\n(.*?)```', guide, re.S
    )
    assert len(shown) == 3
    code = _without_comments(written)
    for block in shown:
        assert _without_comments(block) in code, f"not in the scaffold:\n{block}"


def _without_comments(text: str) -> str:
    return "\n".join(
        line for line in text.splitlines() if line.strip() and not line.strip().startswith("#")
    )
