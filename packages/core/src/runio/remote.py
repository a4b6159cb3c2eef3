"""``RemoteClient``: a runio server's operations over HTTP, for processes and machines that do
not import the app (a web backend sending events, a script reading runs).

It speaks the JSON API of ``runio serve`` / ``runio dev`` and returns the same records as
``runio.Client`` (``runio.Event``, ``runio.Run`` with its task tree), raising the same errors
(``InvalidPayloadError`` with field errors, ``RunNotFoundError``, ``InvalidRunStateError``).
Every operation has a blocking form and an ``_async`` twin::

    from runio.remote import RemoteClient

    remote = RemoteClient("http://127.0.0.1:8080", api_key=os.environ["RUNIO_API_KEY"])
    event = remote.send_event("new.user", {"user_id": "u_1"}, id="signup-u_1")
    run = remote.get_run(event.run_ids[0])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from ._records import Attempt, Event, LogEntry, Run, TaskRun
from .errors import (
    ConfigurationError,
    InvalidPayloadError,
    InvalidRunStateError,
    RunioError,
    RunNotFoundError,
    UnknownEventError,
)

__all__ = ["RemoteClient", "RemoteError", "RunsPage"]

API_KEY_ENV = "RUNIO_API_KEY"


class RemoteError(RunioError):
    """The server answered with an error this client has no better name for, or could not be
    reached. ``status`` is the HTTP status (None when there was no answer)."""

    def __init__(self, message: str, *, status: int | None) -> None:
        super().__init__(message)
        self.status = status


class RunsPage(list[Run]):
    """A page of runs (newest first); ``next_cursor`` fetches the next, older page."""

    next_cursor: str | None = None


class RemoteClient:
    """The operations of a runio server at ``url`` (e.g. ``http://127.0.0.1:8080``).

    ``api_key``: default ``RUNIO_API_KEY``; needed once the server has keys. ``timeout``:
    seconds per request. ``transport``: an ``httpx`` transport (tests pass an ASGI one).
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"RemoteClient needs the server's URL, e.g. http://127.0.0.1:8080; got {url!r}."
            )
        self.url = url.rstrip("/")
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        headers = {"Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        base = f"{self.url}/api/v1"
        self._sync = httpx.Client(
            base_url=base, headers=headers, timeout=timeout, transport=transport
        )
        self._async = httpx.AsyncClient(
            base_url=base, headers=headers, timeout=timeout, transport=async_transport
        )

    def __repr__(self) -> str:  # never shows the key
        return f"RemoteClient({self.url!r})"

    def close(self) -> None:
        self._sync.close()

    async def close_async(self) -> None:
        await self._async.aclose()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> RemoteClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close_async()

    # -- requests --------------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._sync.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise _unreachable(self.url, exc) from None
        return _parse(response)

    async def _call_async(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._async.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise _unreachable(self.url, exc) from None
        return _parse(response)

    # -- events ----------------------------------------------------------------------------------
    def send_event(
        self,
        name: str,
        payload: Any = None,
        *,
        id: str | None = None,
        deliver_at: datetime | None = None,
    ) -> Event:
        """As ``runio.Client.send_event``: idempotent on ``id``; returns the stored event."""
        body = _event_body(name, payload, id, deliver_at)
        return _event(self._call("POST", "/events", json=body))

    async def send_event_async(
        self,
        name: str,
        payload: Any = None,
        *,
        id: str | None = None,
        deliver_at: datetime | None = None,
    ) -> Event:
        body = _event_body(name, payload, id, deliver_at)
        return _event(await self._call_async("POST", "/events", json=body))

    # -- runs ------------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        """The run with its task tree, attempts and logs (outputs with redaction applied)."""
        return _run(self._call("GET", f"/runs/{_segment(run_id)}"))

    async def get_run_async(self, run_id: str) -> Run:
        return _run(await self._call_async("GET", f"/runs/{_segment(run_id)}"))

    def list_runs(
        self,
        *,
        job_id: str | None = None,
        status: str | Sequence[str] | None = None,
        search: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunsPage:
        """Newest first, without their tasks; ``page.next_cursor`` continues."""
        params = _list_params(job_id, status, search, limit, cursor)
        return _page(self._call("GET", "/runs", params=params))

    async def list_runs_async(
        self,
        *,
        job_id: str | None = None,
        status: str | Sequence[str] | None = None,
        search: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunsPage:
        params = _list_params(job_id, status, search, limit, cursor)
        return _page(await self._call_async("GET", "/runs", params=params))

    def cancel_run(self, run_id: str) -> Run:
        return _run(self._call("POST", f"/runs/{_segment(run_id)}/cancel"))

    async def cancel_run_async(self, run_id: str) -> Run:
        return _run(await self._call_async("POST", f"/runs/{_segment(run_id)}/cancel"))

    def retry_run(self, run_id: str) -> Run:
        return _run(self._call("POST", f"/runs/{_segment(run_id)}/retry"))

    async def retry_run_async(self, run_id: str) -> Run:
        return _run(await self._call_async("POST", f"/runs/{_segment(run_id)}/retry"))

    def replay_run(self, run_id: str) -> Run:
        """Start a new run of the same job for the same event; returns the new run."""
        return _run(self._call("POST", f"/runs/{_segment(run_id)}/replay"))

    async def replay_run_async(self, run_id: str) -> Run:
        return _run(await self._call_async("POST", f"/runs/{_segment(run_id)}/replay"))


# -- helpers -----------------------------------------------------------------------------------
def _segment(run_id: str) -> str:
    if not isinstance(run_id, str) or not run_id or "/" in run_id or run_id in (".", ".."):
        raise ConfigurationError(f"Not a run id: {run_id!r} (run ids look like run_0661…).")
    return run_id


def _event_body(
    name: str, payload: Any, id: str | None, deliver_at: datetime | None
) -> dict[str, Any]:
    if deliver_at is not None and (
        not isinstance(deliver_at, datetime) or deliver_at.tzinfo is None
    ):
        raise ConfigurationError(
            f"deliver_at must be a timezone-aware datetime, got {deliver_at!r}."
        )
    body: dict[str, Any] = {"name": name, "payload": payload}
    if id is not None:
        body["id"] = id
    if deliver_at is not None:
        body["deliver_at"] = deliver_at.isoformat()
    return body


def _list_params(
    job_id: str | None,
    status: str | Sequence[str] | None,
    search: str | None,
    limit: int,
    cursor: str | None,
) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = [("limit", str(limit))]
    if job_id:
        params.append(("job_id", job_id))
    statuses = [status] if isinstance(status, str) else list(status or ())
    params.extend(("status", str(s).upper()) for s in statuses)
    if search:
        params.append(("q", search))
    if cursor:
        params.append(("cursor", cursor))
    return params


def _unreachable(url: str, exc: httpx.HTTPError) -> RemoteError:
    return RemoteError(
        f"The runio server at {url} could not be reached ({type(exc).__name__}: {exc}). "
        "Check that it runs (`runio serve APP` or `runio dev APP`) and the URL.",
        status=None,
    )


def _parse(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        return body
    detail = body.get("detail") if isinstance(body, dict) else None
    status = response.status_code
    if status == 422 and isinstance(detail, list):
        payload_errors: dict[str, list[dict[str, Any]]] = {}
        for e in detail:
            loc = list(e.get("loc", []))
            if e.get("type") == "unknown_event":
                raise UnknownEventError(str(e.get("msg")), event_name="")
            if e.get("job_id") is not None:
                payload_errors.setdefault(e["job_id"], []).append(
                    {"loc": tuple(loc[2:]), "msg": e.get("msg"), "type": e.get("type")}
                )
        lines = [
            f"  {'.'.join(str(p) for p in e.get('loc', [])) or '(request)'}: {e.get('msg')}"
            for e in detail
        ]
        message = "The server refused the request; fix these fields:\n" + "\n".join(lines)
        if payload_errors:
            raise InvalidPayloadError(message, errors=payload_errors)
        raise ConfigurationError(message)
    text = detail if isinstance(detail, str) else response.text[:500]
    if status == 404 and "/runs/" in response.request.url.path:
        run_id = response.request.url.path.split("/runs/", 1)[1].split("/")[0]
        raise RunNotFoundError(run_id)
    if status == 409:
        run_id = response.request.url.path.split("/runs/", 1)[-1].split("/")[0]
        raise InvalidRunStateError(text, run_id=run_id, status="")
    if status == 401:
        raise RemoteError(
            f"The server wants a valid API key ({text}); pass api_key= or set {API_KEY_ENV}.",
            status=status,
        )
    raise RemoteError(f"The runio server answered {status}: {text}", status=status)


def _event(data: dict[str, Any]) -> Event:
    return Event(
        id=data["id"],
        app_id="",
        name=data["name"],
        payload=data.get("payload"),
        timestamp=data["timestamp"],
        deliver_at=data.get("deliver_at"),
        run_ids=list(data.get("run_ids", [])),
    )


def _task(data: dict[str, Any]) -> TaskRun:
    return TaskRun(
        id=data["id"],
        run_id=data.get("run_id", ""),
        parent_id=data.get("parent_id"),
        idempotency_key=data["idempotency_key"],
        cache_key=data["cache_key"],
        kind=data["kind"],
        name=data["name"],
        icon=data.get("icon"),
        properties=data.get("properties", []),
        params=data.get("params"),
        style=data.get("style"),
        redact=None,
        status=data["status"],
        output=data.get("output"),
        output_properties=data.get("output_properties", []),
        error=data.get("error"),
        depth=data.get("depth", 0),
        created_at=data["created_at"],
        started_at=data.get("started_at"),
        ended_at=data.get("ended_at"),
        retry_at=data.get("retry_at"),
        wake_at=data.get("wake_at"),
        attempts=[
            Attempt(a["number"], a["status"], a["started_at"], a.get("ended_at"), a.get("error"))
            for a in data.get("attempts", [])
        ],
        children=[_task(c) for c in data.get("children", [])],
    )


def _run(data: dict[str, Any]) -> Run:
    run = Run(
        id=data["id"],
        app_id=data["app_id"],
        job_id=data["job_id"],
        job_version=data["job_version"],
        event_id=data["event"]["id"],
        event_name=data["event"]["name"],
        payload=data.get("payload"),
        status=data["status"],
        output=data.get("output"),
        error=data.get("error"),
        created_at=data["created_at"],
        started_at=data.get("started_at"),
        ended_at=data.get("ended_at"),
        ready_at=data.get("ready_at"),
        execution_count=data["execution_count"],
        is_retry=data["is_retry"],
        replay_of=data.get("replay_of"),
        lease_owner=None,
        tasks=[_task(t) for t in data.get("tasks", [])],
    )
    for t in run.all_tasks():
        t.run_id = run.id
    run.logs = [
        LogEntry(
            run_id=run.id,
            scope="",
            seq=i,
            level=g["level"],
            message=g["message"],
            data=g.get("data"),
            created_at=g["created_at"],
            task_id=g.get("task_id"),
        )
        for i, g in enumerate(data.get("logs", []))
    ]
    return run


def _page(data: dict[str, Any]) -> RunsPage:
    page = RunsPage(_run(r) for r in data["runs"])
    page.next_cursor = data.get("next_cursor")
    return page
