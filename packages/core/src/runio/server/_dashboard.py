"""The dashboard: server-rendered pages (Jinja2) with a little JavaScript on top.

Pages work without JavaScript: filters are GET forms, cancel / retry / replay go through a
confirmation page with a POST form. The script (``static/dashboard.js``) adds live updates of a
run page (it polls ``/runs/<id>/live`` and swaps the fragment, keeping what was expanded) and of
the newest page of runs (``/runs?...&fragment=table``), ticking durations, and confirmation
dialogs in place of the confirmation page.

What a page shows comes from the API's models (``_models``), so redaction is applied once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from .._client import Client
from .._records import RunStatus
from .._render import duration
from ._api import RUN_ID_PATTERN, app_run, operate, page_of, run_query
from ._models import LogOut, RunDetail, TaskOut
from ._security import SESSION_COOKIE, SESSION_SECONDS, Guard

router = APIRouter(include_in_schema=False)
_RUN_ID = re.compile(RUN_ID_PATTERN)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

_ICONS = {
    "clock": "⏱",
    "bell": "🔔",
    "user": "👤",
    "email": "📧",
    "mail": "✉",
    "stripe": "💳",
    "slack": "💬",
    "github": "🐙",
    "resend": "✉",
    "event": "📨",
    "random": "🎲",
    "log": "📝",
    "database": "🗄",
    "http": "🌐",
    "check": "✔",
}
_KIND_ICONS = {"wait": "⏱", "event_wait": "🔔", "event": "📨", "store": "🗄", "random": "🎲"}
OPERATIONS = {
    "cancel": ("Cancel run", "The run stops at its next task boundary (a waiting run at once)."),
    "retry": ("Retry run", "Completed tasks are reused; errored tasks are attempted again."),
    "replay": ("Replay run", "A new run of the same job starts for the same event."),
}


def _icon(task: TaskOut) -> str:
    icon = task.icon or ""
    if icon in _ICONS:
        return _ICONS[icon]
    if icon and len(icon) <= 4 and not icon.isascii():
        return icon  # an emoji
    return _KIND_ICONS.get(task.kind, "◆")


def _key(cache_key: Any) -> str:
    return cache_key if isinstance(cache_key, str) else json.dumps(cache_key, ensure_ascii=False)


def _time(value: float | None) -> str:
    if value is None:
        return "-"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _safe_url(url: Any) -> str | None:
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


templates.env.filters.update(
    icon=_icon,
    key=_key,
    time=_time,
    pretty=_pretty,
    safe_url=_safe_url,
)
templates.env.globals.update(duration=duration, OPERATIONS=OPERATIONS, statuses=list(RunStatus))


def _client(request: Request) -> Client:
    client: Client = request.app.state.client
    return client


def _guard(request: Request) -> Guard:
    guard: Guard = request.app.state.guard
    return guard


async def _page(
    request: Request, name: str, context: Mapping[str, Any], status_code: int = 200
) -> HTMLResponse:
    guard = _guard(request)
    base = {
        "app_id": _client(request).id,
        "csrf": guard.csrf_token(request),
        "logged_in": SESSION_COOKIE in request.cookies,
        "now": _client(request).clock.now(),
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


async def _login_needed(request: Request) -> Response | None:
    if await _guard(request).session_principal(request) is not None:
        return None
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the dashboard's forms are small)."""
    body = await request.body()
    if len(body) > 64 * 1024:
        raise HTTPException(413, "Form too large.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "The form is not UTF-8.") from None
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _local(target: str | None, default: str) -> str:
    """Only paths on this server are redirect targets (no open redirects)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


_TITLES = {404: "Not found", 403: "Refused", 409: "Not possible now"}


async def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    title = _TITLES.get(status_code, "Something is wrong with this request")
    context = {"status_code": status_code, "title": title, "message": message}
    return await _page(request, "error.html", context, status_code=status_code)


# -- login -------------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    return await _page(request, "login.html", {"next": _local(next, "/runs"), "error": None})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await _form(request)
    target = _local(form.get("next"), "/runs")
    cookie = await _guard(request).login(form.get("credential", ""))
    if cookie is None:
        return await _page(
            request,
            "login.html",
            {"next": target, "error": "That is not an active API key or the password."},
            status_code=401,
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await _form(request)
    if not _guard(request).csrf_ok(request, form.get("csrf")):
        raise HTTPException(403, "The form expired; reload the page and try again.")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# -- pages -------------------------------------------------------------------------------------
@router.get("/")
async def home() -> Response:
    return RedirectResponse("/runs", status_code=303)


@router.get("/jobs", response_class=HTMLResponse)
async def jobs_page(request: Request) -> Response:
    if (redirect := await _login_needed(request)) is not None:
        return redirect
    client = _client(request)
    jobs = await (await client._ready()).list_jobs(client.id)
    recent = {}
    for job in jobs:
        query = run_query(
            client,
            job_id=job.job_id,
            status=None,
            since=None,
            until=None,
            q=None,
            limit=5,
            cursor=None,
        )
        recent[job.job_id] = page_of(await (await client._ready()).find_runs(query), 5).runs
    return await _page(request, "jobs.html", {"jobs": jobs, "recent": recent})


@router.get("/runs", response_class=HTMLResponse)
async def runs_page(request: Request) -> Response:
    if (redirect := await _login_needed(request)) is not None:
        return redirect
    client = _client(request)
    params = request.query_params
    # an unknown status in a hand-edited URL filters nothing
    known = {s.value for s in RunStatus}
    statuses = [RunStatus(v.upper()) for v in params.getlist("status") if v.upper() in known]
    q = params.get("q", "").strip()[:200] or None
    job = params.get("job", "").strip()[:200] or None
    cursor = params.get("cursor") or None
    try:
        query = run_query(
            client,
            job_id=job,
            status=statuses,
            since=None,
            until=None,
            q=q,
            limit=25,
            cursor=cursor,
        )
    except HTTPException:
        query = run_query(
            client,
            job_id=job,
            status=statuses,
            since=None,
            until=None,
            q=q,
            limit=25,
            cursor=None,
        )
    page = page_of(await (await client._ready()).find_runs(query), 25)
    filters: list[tuple[str, str]] = [("status", s.value) for s in statuses]
    if q:
        filters.append(("q", q))
    if job:
        filters.append(("job", job))
    next_url = (
        f"/runs?{urlencode([*filters, ('cursor', page.next_cursor)])}"
        if (page.next_cursor)
        else None
    )
    jobs = await (await client._ready()).list_jobs(client.id)
    # The newest page refreshes itself (new runs, status changes); older pages stay still.
    live_url = None if cursor else f"/runs?{urlencode([*filters, ('fragment', 'table')])}"
    return await _page(
        request,
        "_runs_table.html" if params.get("fragment") == "table" else "runs.html",
        {
            "live_url": live_url,
            "poll_ms": int(request.app.state.poll_interval * 1000),
            "page": page,
            "selected": {s.value for s in statuses},
            "q": q or "",
            "job": job or "",
            "jobs": jobs,
            "next_url": next_url,
            "first_url": f"/runs?{urlencode(filters)}" if cursor else None,
        },
    )


def _run_context(request: Request, detail: RunDetail) -> dict[str, Any]:
    logs: dict[str | None, list[LogOut]] = {}
    for entry in detail.logs:
        logs.setdefault(entry.task_id, []).append(entry)
    finished = RunStatus(detail.status).finished
    return {
        "run": detail,
        "logs": logs,
        "finished": finished,
        "now": _client(request).clock.now(),
        "poll_ms": int(request.app.state.poll_interval * 1000),
    }


async def _run_detail(request: Request, run_id: str) -> RunDetail:
    if not _RUN_ID.fullmatch(run_id):
        raise HTTPException(404, f"No run {run_id!r} here: run ids look like run_0661….")
    return RunDetail.of(await app_run(_client(request), run_id))


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(request: Request, run_id: str, done: str | None = None) -> Response:
    if (redirect := await _login_needed(request)) is not None:
        return redirect
    detail = await _run_detail(request, run_id)
    context = _run_context(request, detail)
    context["done"] = done if done in ("cancel", "retry", "replay") else None
    return await _page(request, "run.html", context)


@router.get("/runs/{run_id}/live", response_class=HTMLResponse)
async def run_live(request: Request, run_id: str) -> Response:
    """The live part of a run page, polled by the page's script."""
    if await _guard(request).session_principal(request) is None:
        return HTMLResponse("Log in again.", status_code=401)
    detail = await _run_detail(request, run_id)
    return await _page(request, "_run_live.html", _run_context(request, detail))


@router.get("/runs/{run_id}/{operation}", response_class=HTMLResponse)
async def confirm_page(request: Request, run_id: str, operation: str) -> Response:
    if operation not in OPERATIONS:
        raise HTTPException(404, "No such page.")
    if (redirect := await _login_needed(request)) is not None:
        return redirect
    detail = await _run_detail(request, run_id)
    return await _page(request, "confirm.html", {"run": detail, "operation": operation})


@router.post("/runs/{run_id}/{operation}")
async def run_operation(request: Request, run_id: str, operation: str) -> Response:
    if operation not in OPERATIONS:
        raise HTTPException(404, "No such page.")
    if await _guard(request).session_principal(request) is None:
        return RedirectResponse("/login", status_code=303)
    form = await _form(request)
    if not _guard(request).csrf_ok(request, form.get("csrf")):
        raise HTTPException(403, "The form expired; reload the page and try again.")
    client = _client(request)
    try:
        run = await operate(client, run_id, operation)
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        detail = await _run_detail(request, run_id)
        context = {"run": detail, "operation": operation, "error": exc.detail}
        return await _page(request, "confirm.html", context, status_code=409)
    return RedirectResponse(f"/runs/{quote(run.id)}?done={operation}", status_code=303)


@router.get("/healthz", include_in_schema=False)
async def health() -> Response:
    return Response("ok", media_type="text/plain")
