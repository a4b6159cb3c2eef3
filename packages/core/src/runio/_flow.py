"""Flow control: concurrency limits and keys, and which job versions a worker claims.

This module owns what a job's code says about claiming its runs (``ClaimRule`` per job), the
checks of ``define_job(concurrency_limit=, concurrency_key=, compatible_versions=)``, and the
computing of each run's concurrency key from its payload. The store decides, atomically in its
claim, whether a run may start (``Store.claim_runs``); this module never counts runs itself.

A run's key is computed by a worker of the job's app (the function lives in its code), before
the run is first claimed: ``resolve_keys`` finds runs without a key, computes them, and records
them; a key function that raises or returns no usable key ends that run FAILED with a
``ConcurrencyKeyError`` stored as its error, so no run disappears and none starts unlimited.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _validate
from ._records import ClaimRule
from .errors import ConcurrencyKeyError, ConfigurationError, JobDefinitionError

if TYPE_CHECKING:
    from ._job import Job
    from .storage import Store

MAX_CONCURRENCY_KEY_LENGTH = 256
MAX_CONCURRENCY_LIMIT = 100_000
_KEYS_PER_PASS = 200


def check_flow_control(
    job_id: str,
    version: str,
    concurrency_limit: object,
    concurrency_key: object,
    compatible_versions: object,
) -> tuple[int | None, Callable[[Any], str] | None, tuple[str, ...]]:
    """``define_job``'s flow-control options, checked (a ``JobDefinitionError`` otherwise)."""
    limit: int | None = None
    if concurrency_limit is not None:
        limit = _validate.size(
            concurrency_limit,
            f"Job {job_id!r}: concurrency_limit",
            maximum=MAX_CONCURRENCY_LIMIT,
            unit=" (runs executing at once)",
            error=JobDefinitionError,
        )
    if concurrency_key is not None:
        if not callable(concurrency_key):
            raise JobDefinitionError(
                f"Job {job_id!r}: concurrency_key must be a function of the payload returning a "
                "string, e.g. concurrency_key=lambda payload: payload.customer_id; got "
                f"{type(concurrency_key).__name__}: {concurrency_key!r}."
            )
        if limit is None:
            raise JobDefinitionError(
                f"Job {job_id!r}: concurrency_key limits runs per key value, so it needs "
                "concurrency_limit=N too (concurrency_limit=1: one run at a time per key)."
            )
    if isinstance(compatible_versions, str) or not isinstance(compatible_versions, Sequence):
        raise JobDefinitionError(
            f"Job {job_id!r}: compatible_versions must be a list of version strings, e.g. "
            f"['1.0.0'], got {compatible_versions!r}."
        )
    versions: list[str] = []
    for v in compatible_versions:
        if not isinstance(v, str) or not v.strip():
            raise JobDefinitionError(
                f"Job {job_id!r}: compatible_versions holds {v!r}; each must be a non-empty "
                "version string such as '1.0.0'."
            )
        try:
            _validate.text(v, f"Job {job_id!r}: compatible_versions")
        except ConfigurationError as exc:
            raise JobDefinitionError(str(exc)) from None
        if v != version and v not in versions:
            versions.append(v)
    return limit, concurrency_key, tuple(versions)


def claim_rules(jobs: Mapping[str, Job[Any, Any]]) -> dict[str, ClaimRule]:
    """What a worker of these jobs may claim: runs of the versions its code has, within each
    job's concurrency limit."""
    return {
        job.id: ClaimRule(
            versions=(job.version, *job.compatible_versions),
            concurrency_limit=job.concurrency_limit,
            keyed=job.concurrency_key is not None,
        )
        for job in jobs.values()
    }


def concurrency_key_of(job: Job[Any, Any], payload: Any) -> str:
    """The run's concurrency key: the job's function applied to the parsed payload, checked."""
    assert job.concurrency_key is not None
    try:
        key: object = job.concurrency_key(job.parse_payload(payload))
    except Exception as exc:
        raise ConcurrencyKeyError(
            f"Job {job.id!r}: its concurrency_key function raised {type(exc).__name__}: "
            f"{_validate.printable(str(exc))}. The run cannot be placed in a concurrency slot, "
            "so it failed without starting; fix the function (or the payload) and retry the run.",
            job_id=job.id,
        ) from exc
    problem = None
    if not isinstance(key, str):
        problem = f"returned a {type(key).__name__} ({key!r:.80}), not a string"
    elif not key:
        problem = "returned an empty string"
    elif len(key) > MAX_CONCURRENCY_KEY_LENGTH:
        problem = f"returned {len(key):,} characters, more than {MAX_CONCURRENCY_KEY_LENGTH}"
    elif _validate.surrogate_in(key) is not None:
        problem = "returned text holding a lone surrogate, which cannot be stored"
    if problem is not None:
        raise ConcurrencyKeyError(
            f"Job {job.id!r}: its concurrency_key function {problem}. It must return a "
            f"non-empty string of at most {MAX_CONCURRENCY_KEY_LENGTH} characters, e.g. "
            "str(payload.customer_id). The run failed without starting; fix the function and "
            "retry the run.",
            job_id=job.id,
        )
    assert isinstance(key, str)
    return key


async def resolve_keys(
    store: Store, app_id: str, jobs: Mapping[str, Job[Any, Any]], now: float
) -> None:
    """Compute and record the concurrency keys of the keyed jobs' runs that have none yet."""
    keyed = [job.id for job in jobs.values() if job.concurrency_key is not None]
    if not keyed:
        return
    while True:
        pending = await store.runs_without_concurrency_key(
            app_id=app_id, job_ids=keyed, limit=_KEYS_PER_PASS
        )
        keys: dict[str, str] = {}
        failures: dict[str, str] = {}
        for run_id, job_id, payload in pending:
            try:
                keys[run_id] = concurrency_key_of(jobs[job_id], payload)
            except ConcurrencyKeyError as exc:
                failures[run_id] = json.dumps(
                    {"type": type(exc).__name__, "message": str(exc)}, ensure_ascii=False
                )
        await store.set_concurrency_keys(keys=keys, failures=failures, now=now)
        if len(pending) < _KEYS_PER_PASS:
            return
