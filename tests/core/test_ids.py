"""Identifiers (``runio._ids.new_id``): a prefix, then 26 hex digits, time-ordered."""

from __future__ import annotations

import re
import time

from runio._ids import new_id


def test_ids_are_a_prefix_and_26_hex_digits_sorting_by_creation() -> None:
    before = time.time_ns() // 1000
    ids = [new_id("task") for _ in range(200)]
    after = time.time_ns() // 1000
    assert all(re.fullmatch(r"task_[0-9a-f]{26}", i) for i in ids), ids[:3]
    assert len(set(ids)) == len(ids)
    stamps = [int(i[5:19], 16) for i in ids]  # the first 14 digits: microseconds
    assert stamps == sorted(stamps)
    assert before <= stamps[0] and stamps[-1] <= after
    assert new_id("run").startswith("run_")
