"""The SQL of ``Store.find_runs`` and of the API key table, written once for both dialects
(the placeholder filled in per dialect). ``_sqlite.py`` and ``_postgres.py`` run them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._records import ApiKeyRecord, RunQuery
from ._rows import RUN_COLUMNS, RUN_FROM


def find_runs_sql(query: RunQuery, placeholder: str) -> tuple[str, list[Any]]:
    """A SELECT of ``RUN_COLUMNS`` for one page of ``query``, and its parameters."""
    p = placeholder
    clauses: list[str] = []
    params: list[Any] = []
    if query.app_id is not None:
        clauses.append(f"r.app_id = {p}")
        params.append(query.app_id)
    if query.job_id is not None:
        clauses.append(f"r.job_id = {p}")
        params.append(query.job_id)
    if query.status:
        clauses.append(f"r.status IN ({', '.join([p] * len(query.status))})")
        params.extend(query.status)
    if query.since is not None:
        clauses.append(f"r.created_at >= {p}")
        params.append(query.since)
    if query.until is not None:
        clauses.append(f"r.created_at < {p}")
        params.append(query.until)
    if query.search:
        clauses.append(f"(r.id = {p} OR r.event_id = {p} OR r.job_id = {p})")
        params.extend([query.search] * 3)
    if query.after is not None:
        clauses.append(f"(r.created_at < {p} OR (r.created_at = {p} AND r.id < {p}))")
        params.extend([query.after[0], query.after[0], query.after[1]])
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = (
        f"SELECT {RUN_COLUMNS} FROM {RUN_FROM} {where} "
        f"ORDER BY r.created_at DESC, r.id DESC LIMIT {p}"
    )
    return sql, [*params, query.limit]


API_KEY_COLUMNS = "id, name, secret_hash, created_at, revoked_at"


def api_key_from_row(row: Sequence[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(row[0], row[1], row[2], row[3], row[4])
