"""``runio integrations list`` and ``runio integrations new NAME``; the scaffolded package
passes its own tests at once, installed into a throwaway virtual environment."""

from __future__ import annotations

import json
import os
import re
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from click.testing import CliRunner

from runio.cli import cli


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RUNIO_PLUGINS", "RUNIO_DISABLE_PLUGINS", "TESTNOTES_TOKEN", "TESTNOTES_URL"):
        monkeypatch.delenv(name, raising=False)


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_list_shows_plugins_versions_namespaces_and_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = invoke("integrations", "list").splitlines()
    assert "runio.http\tbuilt-in\tio.http\tconfigured" in lines
    assert (
        "testnotes\trunio-testplugin 0.3.0\tio.testnotes\t"
        "not configured: set TESTNOTES_TOKEN, TESTNOTES_URL"
    ) in lines
    monkeypatch.setenv("TESTNOTES_TOKEN", "t" * 8)
    monkeypatch.setenv("TESTNOTES_URL", "http://127.0.0.1:9")
    assert (
        "testnotes\trunio-testplugin 0.3.0\tio.testnotes\tconfigured"
        in invoke("integrations", "list").splitlines()
    )


def test_list_as_json_and_with_a_deny_list(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = json.loads(invoke("integrations", "list", "--json"))
    notes = next(r for r in rows if r["plugin"] == "testnotes")
    assert notes == {
        "plugin": "testnotes",
        "package": "runio-testplugin",
        "version": "0.3.0",
        "builtin": False,
        "namespace": "testnotes",
        "integration": "Test Notes",
        "class": "runio_testplugin.TestNotes",
        "configured": False,
        "missing": ["TESTNOTES_TOKEN", "TESTNOTES_URL"],
    }
    monkeypatch.setenv("RUNIO_DISABLE_PLUGINS", "testnotes")
    listed = {r["plugin"] for r in json.loads(invoke("integrations", "list", "--json"))}
    assert "testnotes" not in listed and "runio.http" in listed


def test_a_broken_plugin_is_one_readable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNIO_PLUGINS", "runio-nothing")
    result = CliRunner().invoke(cli, ["integrations", "list"])
    assert result.exit_code == 1
    assert "Error: RUNIO_PLUGINS names runio-nothing" in result.output
    assert "Traceback" not in result.output


def test_new_writes_a_complete_package(tmp_path: Path) -> None:
    target = tmp_path / "pkg"
    output = invoke("integrations", "new", "acme-crm", "--directory", str(target))
    assert "Created runio-acme-crm" in output
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/runio_acme_crm/__init__.py",
        "src/runio_acme_crm/_integration.py",
        "src/runio_acme_crm/plugin.py",
        "src/runio_acme_crm/py.typed",
        "src/runio_acme_crm/testing.py",
        "tests/test_acme_crm.py",
        "tests/test_conformance.py",
    ]
    pyproject = (target / "pyproject.toml").read_text()
    assert 'name = "runio-acme-crm"' in pyproject
    assert '[project.entry-points.runio]\nacme_crm = "runio_acme_crm.plugin"' in pyproject
    code = (target / "src/runio_acme_crm/_integration.py").read_text()
    assert "class AcmeCrm(runio.Integration[httpx.AsyncClient]):" in code
    assert 'env="ACME_CRM_API_KEY"' in code
    assert "{{" not in "".join(p.read_text() for p in target.rglob("*") if p.is_file())
    for path in target.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")


def test_new_refuses_a_bad_name_or_a_non_empty_directory(tmp_path: Path) -> None:
    bad = CliRunner().invoke(cli, ["integrations", "new", "9lives", "-d", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "cannot name an integration" in bad.output
    shadow = CliRunner().invoke(cli, ["integrations", "new", "wait", "-d", str(tmp_path / "y")])
    assert shadow.exit_code == 1 and "already an attribute of io" in shadow.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    taken = CliRunner().invoke(cli, ["integrations", "new", "acme", "-d", str(tmp_path / "full")])
    assert taken.exit_code == 1 and "not empty" in taken.output
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_the_scaffolded_package_passes_its_own_tests(tmp_path: Path) -> None:
    """Scaffold, install it (built from its pyproject, entry point and all) into a fresh
    virtual environment that sees this environment's packages, and run its tests there."""
    target = tmp_path / "runio-acme"
    invoke("integrations", "new", "acme", "--directory", str(target))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    own_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    parents = "; ".join(f"site.addsitedir({p!r})" for p in site.getsitepackages())
    Path(own_site, "_runio_parent_env.pth").write_text(f"import site; {parents}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNIO_", "PYTEST_"))}
    install = subprocess.run(
        [
            *(str(python), "-m", "pip", "install", "--no-build-isolation", "--no-deps"),
            *("--no-index", "--disable-pip-version-check", "--quiet", str(target)),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    tests = subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=target,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    passed = re.search(r"(\d+) passed", tests.stdout)
    assert passed is not None and int(passed.group(1)) >= 12, tests.stdout
    assert "failed" not in tests.stdout and "error" not in tests.stdout
    listed = subprocess.run(
        [str(python), "-c", "from runio.cli import main; main()", "integrations", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert sys.executable != str(python)
    assert "acme\trunio-acme 0.1.0\tio.acme\tnot configured: set ACME_API_KEY" in listed.stdout, (
        listed.stdout + listed.stderr
    )
