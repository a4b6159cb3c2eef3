"""Console transcripts in the docs are what the commands print: every ```console block of
README.md, docs/**/*.md and packages/*/README.md that shows a command (`$ ...`) with its output
is run here and compared with the page.

How a transcript runs: the page's transcripts run in order in one fresh directory holding a
copy of `examples/`, with `RUNIO_DATABASE_URL` pointing at a database there, 80 columns, and
the variables earlier transcripts of the page exported. `/tmp/` in a command means that
directory. The commands' stdout and stderr are compared with the page line by line, after the
things that differ from run to run are replaced on both sides: ids (`run_...`, `evt_...`,
`key_...`, API keys), dates and times, durations, the temporary directory, versions and ports.
docs/cli.md's `--help` transcripts are test_cli_docs.py's. A Python block of the page preceded by
`<!-- file: NAME -->` is written to NAME in that directory first (a test file the transcript
runs, say).

A command that serves until Ctrl-C (`<!-- console: serves -->` before a one-command
transcript) is started with `--port 0`, read until it has printed the lines the page shows,
then stopped with SIGINT. A transcript whose commands need a module says so
(`<!-- console: needs runio_stripe.events -->`): without it installed, it is skipped. One
that cannot run here says why in the page's source, right before it:

    <!-- console: not-run "it serves until Ctrl-C: tests/server run the same server" -->

Keep those rare: a command that runs against the example app belongs in the checked ones.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from docs_examples import ROOT, pages

BLOCK = re.compile(
    r"(?:<!-- console: not-run (?P<reason>\"[^\"]+\") -->\s*)?"
    r"(?:<!-- console: needs (?P<needs>[\w.]+) -->\s*)?"
    r"(?:<!-- console: (?P<serves>serves) -->\s*)?```console\n(?P<body>.*?)```",
    re.S,
)
CLI_GUIDE = ROOT / "docs" / "cli.md"  # its `--help` transcripts are test_cli_docs.py's
EXPORT = re.compile(r"^export (.+)$")
FILE = re.compile(r"<!-- file: (?P<name>[\w.-]+) -->\s*```python\n(?P<body>.*?)```", re.S)


@dataclass(frozen=True)
class Transcript:
    page: Path
    line: int
    body: str
    not_run: str | None
    needs: str | None = None
    serves: bool = False

    @property
    def commands(self) -> list[str]:
        return [line[2:] for line in self.body.splitlines() if line.startswith("$ ")]

    @property
    def shows_output(self) -> bool:
        lines = self.body.splitlines()
        return bool(self.commands) and any(not line.startswith("$ ") for line in lines)

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def transcripts() -> list[Transcript]:
    found = []
    for page in pages():
        text = page.read_text("utf-8")
        for match in BLOCK.finditer(text):
            block = Transcript(
                page,
                text.count("\n", 0, match.start("body")),
                match["body"],
                match["reason"],
                match["needs"],
                bool(match["serves"]),
            )
            if block.shows_output and not (
                page == CLI_GUIDE and any(c.endswith("--help") for c in block.commands)
            ):
                found.append(block)
    return found


ALL = transcripts()
CHECKED = [t for t in ALL if t.not_run is None]


def test_every_transcript_is_checked_or_says_why_not() -> None:
    assert len(CHECKED) >= 10
    for transcript in ALL:
        if transcript.not_run is not None:
            assert len(transcript.not_run.strip('"')) >= 15, f"{transcript}: say why"


# -- normalising what differs from run to run -----------------------------------------------------
SUBSTITUTIONS = [
    (re.compile(r"runio_key_\S+"), "runio_key_<secret>"),
    (re.compile(r"\b(run|evt|key)_[0-9a-f]{26}\b"), r"\1_<id>"),
    (
        re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?: UTC|Z|[+-]\d\d:\d\d)?"),
        "<time>",
    ),
    (re.compile(r"\b\d+(?:\.\d+)? ?(?:ms|s)\b"), "<duration>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"\b(\d+)\.(\d+)\.(\d+)\b"), "<version>"),
    # migrations other changes add do not make the page wrong
    (re.compile(r"applied \d{4}_\w+\.sql(?:, \d{4}_\w+\.sql)*"), "applied <migrations>"),
]


def normalise(text: str, directory: Path | None = None) -> list[str]:
    if directory is not None:
        text = text.replace(str(directory), "/tmp")
    for pattern, replacement in SUBSTITUTIONS:
        text = pattern.sub(replacement, text)
    return [line.rstrip() for line in text.strip("\n").splitlines()]


# -- running them ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    """One directory per page, shared by its transcripts in order."""
    return {}


def _session(sessions: dict[Path, Path], page: Path, factory: pytest.TempPathFactory) -> Path:
    if page not in sessions:
        directory = factory.mktemp("console")
        shutil.copytree(ROOT / "examples", directory / "examples")
        for named in FILE.finditer(page.read_text("utf-8")):
            (directory / named["name"]).write_text(named["body"], "utf-8")
        sessions[page] = directory
    return sessions[page]


def _environment(directory: Path) -> dict[str, str]:
    return {
        **os.environ,
        "COLUMNS": "80",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "RUNIO_DATABASE_URL": f"sqlite:///{directory}/runio.db",
        "NO_COLOR": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _serve(transcript: Transcript, directory: Path) -> str:
    """Start the one command, read the lines the page shows, then Ctrl-C it."""
    (command,) = transcript.commands
    wanted = len(transcript.body.strip("\n").splitlines()) - 1
    process = subprocess.Popen(
        ["bash", "-c", "exec " + re.sub(r"--port \d+", "--port 0", command)],
        cwd=directory,
        env=_environment(directory),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    reader = threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True)
    reader.start()
    printed = [f"$ {command}\n"]
    try:
        while len(printed) <= wanted:
            printed.append(lines.get(timeout=60))
    except queue.Empty:
        pass
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        reader.join(timeout=30)  # the command has exited: its output ends
        stdout.close()
    return "".join(printed)


def _run(transcript: Transcript, directory: Path) -> str:
    earlier = [t for t in CHECKED if t.page == transcript.page and t.line < transcript.line]
    exports = [
        command.replace("/tmp/", f"{directory}/")
        for t in earlier
        for command in t.commands
        if EXPORT.match(command)
    ]
    script = ["set -u", *exports, "status=0"]
    for command in transcript.commands:  # `$?` is the previous command's, as in a shell
        script.append(f"printf '%s\\n' {_quote('$ ' + command)}")
        script.append(f"(exit $status); {command.replace('/tmp/', f'{directory}/')} 2>&1")
        script.append("status=$?")
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=directory,
        env=_environment(directory),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout + done.stderr


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


@pytest.mark.parametrize("transcript", CHECKED, ids=str)
def test_the_transcript_is_what_the_commands_print(
    transcript: Transcript,
    sessions: dict[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    if transcript.needs and importlib.util.find_spec(transcript.needs) is None:
        pytest.skip(f"{transcript}: it needs {transcript.needs} installed")
    directory = _session(sessions, transcript.page, tmp_path_factory)
    printed = _serve(transcript, directory) if transcript.serves else _run(transcript, directory)
    assert normalise(printed, directory) == normalise(transcript.body), (
        f"{transcript}: the page shows\n{transcript.body}\nthe commands printed\n{printed}"
    )
