"""The floor: raw ``sqlite3``, one single-row INSERT and one COMMIT per loop iteration."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any


def floor(ctx: dict[str, Any]) -> dict[str, Any]:
    p = ctx["params"]
    n = int(p["n"])
    journal_mode, synchronous = p.get("journal_mode", "wal"), p.get("synchronous", "full")
    conn = sqlite3.connect(Path(ctx["workdir"]) / "floor.db", isolation_level=None)
    mode = conn.execute(f"PRAGMA journal_mode={journal_mode}").fetchone()[0]
    conn.execute(f"PRAGMA synchronous={synchronous}")
    sync = conn.execute("PRAGMA synchronous").fetchone()[0]
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    t0 = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (v) VALUES (?)", (f"row {i}",))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return {
        "commits_per_s": n / elapsed,
        "seconds": elapsed,
        "journal_mode": str(mode).lower(),
        "synchronous": names.get(sync, str(sync)),
        "sqlite_version": sqlite3.sqlite_version,
    }
