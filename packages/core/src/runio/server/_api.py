"""The JSON API under ``/api/v1``: events, jobs, runs and the operations on runs.

Every handler goes through the app's ``runio.Client`` (the same operations as the CLI); runs of
other apps sharing the database are not visible here. Errors are ``{"detail": ...}`` with a 4xx
status (422 for field errors, in FastAPI's shape); the database being unreachable is a 503.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .._client import Client
from .._records import Run, RunQuery, RunStatus
from ..errors import (
    ConfigurationError,
    InvalidPayloadError,
    InvalidRunStateError,
    RunNotFoundError,
    UnknownEventError,
)
from ._models import (
    ErrorOut,
    EventIn,
    EventOut,
    JobList,
    JobOut,
    RunDetail,
    RunPage,
    RunSummary,
    decode_cursor,
    encode_cursor,
    epoch,
)
from ._security import Guard

RUN_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,200}$"
RunId = Annotated[str, Path(pattern=RUN_ID_PATTERN, description="A run id, e.g. run_0661…")]

_bearer = HTTPBearer(auto_error=False, description="An API key from `runio keys create NAME`.")
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No API key, or a wrong or revoked one"},
    403: {"model": ErrorOut, "description": "Refused (a cross-site request, a wrong host)"},
}


def _client(request: Request) -> Client:
    client: Client = request.app.state.client
    return client


def _guard(request: Request) -> Guard:
    guard: Guard = request.app.state.guard
    return guard


async def require_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    header = request.headers.get("authorization")
    principal = await _guard(request).api_principal(header)
    if principal is None:
        raise HTTPException(
            401,
            "A valid API key is required: send `Authorization: Bearer <key>` with a key made "
            "by `runio keys create NAME` (revoked keys no longer work).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_key)], responses=_ERRORS)


def _field_error(loc: list[str | int], msg: str, type_: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": type_}


@router.post(
    "/events",
    response_model=EventOut,
    summary="Send an event",
    responses={422: {"description": "The event or its payload is invalid (field errors)"}},
)
async def send_event(body: EventIn, request: Request) -> EventOut:
    """Store the event and create one run per job it triggers. Idempotent on ``id``."""
    client = _client(request)
    try:
        event = await client.send_event_async(
            body.name, body.payload, id=body.id, deliver_at=body.deliver_at
        )
    except InvalidPayloadError as exc:
        detail = [
            {
                **_field_error(
                    ["body", "payload", *e.get("loc", ())], str(e.get("msg")), str(e.get("type"))
                ),
                "job_id": job_id,
            }
            for job_id, errors in exc.errors.items()
            for e in errors
        ]
        raise HTTPException(422, detail) from None
    except UnknownEventError as exc:
        raise HTTPException(
            422, [_field_error(["body", "name"], str(exc), "unknown_event")]
        ) from None
    except ConfigurationError as exc:
        raise HTTPException(422, [_field_error(["body"], str(exc), "value_error")]) from None
    if event.app_id != client.id:  # pragma: no cover - the client writes its own app's events
        raise HTTPException(409, "The event id is taken by another app.")
    return EventOut.of(event)


@router.get("/jobs", response_model=JobList, summary="List the app's jobs")
async def list_jobs(request: Request) -> JobList:
    client = _client(request)
    jobs = await (await client._ready()).list_jobs(client.id)
    return JobList(jobs=[JobOut.of(j) for j in jobs])


@router.get("/runs", response_model=RunPage, summary="List runs, newest first")
async def list_runs(
    request: Request,
    job_id: Annotated[str | None, Query(max_length=200, pattern=RUN_ID_PATTERN)] = None,
    status: Annotated[list[RunStatus] | None, Query(description="Repeatable")] = None,
    since: Annotated[datetime | None, Query(description="Created at or after")] = None,
    until: Annotated[datetime | None, Query(description="Created before")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=RUN_ID_PATTERN, description="A run id, event id or job id"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> RunPage:
    client = _client(request)
    query = run_query(
        client,
        job_id=job_id,
        status=status,
        since=since,
        until=until,
        q=q,
        limit=limit,
        cursor=cursor,
    )
    runs = await (await client._ready()).find_runs(query)
    return page_of(runs, limit)


def run_query(
    client: Client,
    *,
    job_id: str | None,
    status: list[RunStatus] | None,
    since: datetime | None,
    until: datetime | None,
    q: str | None,
    limit: int,
    cursor: str | None,
) -> RunQuery:
    """The store query for these filters (one more run than the page, to know if one follows)."""
    after = None
    if cursor:
        after = decode_cursor(cursor)
        if after is None:
            raise HTTPException(
                422,
                [
                    _field_error(
                        ["query", "cursor"],
                        "not a cursor of this API: pass the next_cursor of a previous page",
                        "value_error",
                    )
                ],
            )
    try:
        since_at, until_at = epoch(since), epoch(until)
    except (OverflowError, ValueError, OSError):
        raise HTTPException(
            422, [_field_error(["query", "since"], "time out of range", "value_error")]
        ) from None
    return RunQuery(
        app_id=client.id,
        job_id=job_id,
        status=tuple(s.value for s in status or ()),
        since=since_at,
        until=until_at,
        search=q.strip() if q and q.strip() else None,
        after=after,
        limit=limit + 1,
    )


def page_of(runs: list[Run], limit: int) -> RunPage:
    more = len(runs) > limit
    runs = runs[:limit]
    return RunPage(
        runs=[RunSummary.of(r) for r in runs],
        next_cursor=encode_cursor(runs[-1]) if more and runs else None,
    )


async def app_run(client: Client, run_id: str) -> Run:
    """The run, if it is one of this app's; else 404."""
    try:
        run = await client.get_run_async(run_id)
    except RunNotFoundError:
        run = None
    if run is None or run.app_id != client.id:
        raise HTTPException(
            404, f"No run {run_id!r} in app {client.id!r}. List runs with GET /api/v1/runs."
        )
    return run


@router.get(
    "/runs/{run_id}",
    response_model=RunDetail,
    summary="A run with its task tree, attempts and logs",
    responses={404: {"model": ErrorOut}},
)
async def get_run(run_id: RunId, request: Request) -> RunDetail:
    return RunDetail.of(await app_run(_client(request), run_id))


_STATE: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut},
    409: {"model": ErrorOut, "description": "Wrong run status"},
}


async def operate(client: Client, run_id: str, operation: str) -> Run:
    """Cancel, retry or replay one of the app's runs (404 / 409 when it cannot be)."""
    await app_run(client, run_id)
    try:
        if operation == "cancel":
            return await client.cancel_run_async(run_id)
        if operation == "retry":
            return await client.retry_run_async(run_id)
        return await client.replay_run_async(run_id)
    except InvalidRunStateError as exc:
        raise HTTPException(409, str(exc)) from None


@router.post(
    "/runs/{run_id}/cancel", response_model=RunSummary, summary="Cancel a run", responses=_STATE
)
async def cancel_run(run_id: RunId, request: Request) -> RunSummary:
    """A queued or waiting run ends at once; an executing one at its next task boundary."""
    return RunSummary.of(await operate(_client(request), run_id, "cancel"))


@router.post(
    "/runs/{run_id}/retry", response_model=RunSummary, summary="Retry a run", responses=_STATE
)
async def retry_run(run_id: RunId, request: Request) -> RunSummary:
    """Run a failed, canceled or timed-out run again: completed tasks are reused, errored
    tasks are attempted again."""
    return RunSummary.of(await operate(_client(request), run_id, "retry"))


@router.post(
    "/runs/{run_id}/replay",
    response_model=RunSummary,
    summary="Replay a run",
    responses={404: {"model": ErrorOut}},
)
async def replay_run(run_id: RunId, request: Request) -> RunSummary:
    """Start a new run of the same job for the same event; returns the new run."""
    return RunSummary.of(await operate(_client(request), run_id, "replay"))
