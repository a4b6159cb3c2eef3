"""Where the ``runio`` command writes, and how: one rule for terminals, pipes and files.

Owns the consoles every command prints through. In a terminal, rich lays output out to the
terminal's width. Into a pipe or a file nothing is ever wrapped or cut (a run's tree or a long
error stays one line per line, so ``grep`` and log collectors see whole lines), and there is no
colour. Whether stdout is a terminal is rich's decision, so ``TTY_COMPATIBLE=1`` /
``FORCE_COLOR`` force the terminal form and ``TTY_COMPATIBLE=0`` the plain one.

Dynamic text (ids, error messages, URLs, user output) is never parsed as rich markup: it is
printed as ``rich.text.Text`` or passed through ``plain`` so ``pip install "runio[postgres]"``
keeps its brackets.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.text import Text

UNWRAPPED_WIDTH = 100_000
"""The width used off a terminal: wider than any line runio prints, so nothing wraps."""


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) for the current command, shaped for where it writes."""
    probe = Console(stderr=stderr, highlight=False)
    if probe.is_terminal:
        return probe
    return Console(stderr=stderr, highlight=False, width=UNWRAPPED_WIDTH, no_color=True)


def plain(value: object) -> str:
    """``value`` as text that rich markup leaves as it is (``[x]`` is not a style)."""
    return escape(str(value))


def error_text(message: str) -> Text:
    """``Error: <message>``, the message printed exactly as given."""
    return Text.assemble(("Error:", "bold red"), " ", message)


def examples(*lines: str) -> str:
    """A help epilog that click prints as written (``\\b``: not rewrapped)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
