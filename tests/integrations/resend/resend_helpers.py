"""Helpers of the Resend integration's tests (a module name of its own: test directories are
not packages, so ``conftest`` would be ambiguous): the test API keys and start time. Importing
it also puts tests/core on the path, for ``procs`` (the subprocess helpers)."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/core/procs.py: the helpers for tests that run workers as subprocesses.
_CORE_TESTS = str(Path(__file__).resolve().parents[2] / "core")
if _CORE_TESTS not in sys.path:
    sys.path.append(_CORE_TESTS)

API_KEY = "re_test_runio_7cQ2mZk9WxYhT4LpB3nF"
OTHER_KEY = "re_test_other_Qa8Vn2Lr6TsZk1PwD5yH"
START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
FINISHED = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")
