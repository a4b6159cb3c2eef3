"""The JSON API under /api/v1: events, jobs, runs, operations, errors (DESIGN.md §6)."""

from __future__ import annotations

import httpx
import pytest
from server_app import SECRET_CARD
from server_harness import App

pytestmark = pytest.mark.anyio


async def send(http: httpx.AsyncClient, name: str, payload: object, **extra: object) -> dict:
    response = await http.post("/api/v1/events", json={"name": name, "payload": payload, **extra})
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_event_creates_runs_once_per_event_id(app: App, http: httpx.AsyncClient) -> None:
    first = await send(http, "user.created", {"user_id": "u_1"}, id="signup-u_1")
    again = await send(http, "user.created", {"user_id": "u_1"}, id="signup-u_1")

    assert first["id"] == "signup-u_1"
    assert len(first["run_ids"]) == 1
    assert again["run_ids"] == first["run_ids"]
    runs = (await http.get("/api/v1/runs")).json()["runs"]
    assert [r["id"] for r in runs] == first["run_ids"]
    assert runs[0]["status"] == "QUEUED"
    assert runs[0]["event"] == {"id": "signup-u_1", "name": "user.created"}


async def test_a_payload_that_fails_the_schema_gets_its_field_errors(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/api/v1/events", json={"name": "user.created", "payload": {"userid": "u_1"}}
    )

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "payload", "user_id"]
    assert error["job_id"] == "signup"
    assert error["msg"] == "Field required"
    assert (await http.get("/api/v1/runs")).json()["runs"] == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"payload": {}}, ["body", "name"]),
        ({"name": "", "payload": {}}, ["body", "name"]),
        ({"name": "user.created", "payload": {}, "colour": "red"}, ["body", "colour"]),
        ({"name": "user.created", "deliver_at": "tomorrow"}, ["body", "deliver_at"]),
        ({"name": "user.created", "deliver_at": "2030-01-01T00:00:00"}, ["body", "deliver_at"]),
        ({"name": "no.such.event", "payload": {}}, ["body", "name"]),
    ],
)
async def test_bad_events_get_a_422_saying_which_field(
    http: httpx.AsyncClient, body: dict, where: list[str]
) -> None:
    response = await http.post("/api/v1/events", json=body)

    assert response.status_code == 422, response.text
    assert any(e["loc"] == where for e in response.json()["detail"]), response.json()


async def test_a_body_that_is_not_json_is_a_422(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/api/v1/events", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_jobs_are_listed_with_their_triggers(http: httpx.AsyncClient) -> None:
    jobs = {j["id"]: j for j in (await http.get("/api/v1/jobs")).json()["jobs"]}

    assert set(jobs) == {"signup", "charge"}
    assert jobs["signup"]["event_name"] == "user.created"
    assert jobs["signup"]["version"] == "1.2.0"
    assert jobs["signup"]["payload_schema"]["required"] == ["user_id"]


async def test_runs_filter_by_job_status_search_and_time(app: App, http: httpx.AsyncClient) -> None:
    signup = (await send(http, "user.created", {"user_id": "u_1"}, id="evt-a"))["run_ids"][0]
    app.clock.advance(seconds=60)
    charge = (await send(http, "charge.requested", {"amount": 5}, id="evt-b"))["run_ids"][0]
    app.run_worker()  # signup waits, charge fails

    async def ids(**params: object) -> list[str]:
        response = await http.get("/api/v1/runs", params=params)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["runs"]]

    assert await ids() == [charge, signup]
    assert await ids(job_id="signup") == [signup]
    assert await ids(status="FAILED") == [charge]
    assert await ids(status=["FAILED", "WAITING"]) == [charge, signup]
    assert await ids(q=signup) == [signup]
    assert await ids(q="evt-b") == [charge]
    assert await ids(q="charge") == [charge]
    start = app.clock.now() - 30  # between the two events
    assert await ids(since=start) == [charge]
    assert await ids(until=start) == [signup]


async def test_pages_cover_every_run_once_even_with_equal_times(
    app: App, http: httpx.AsyncClient
) -> None:
    sent = {
        (await send(http, "charge.requested", {"amount": i}))["run_ids"][0] for i in range(7)
    }  # the test clock stands still: all seven share one created_at
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await http.get("/api/v1/runs", params=params)).json()
        seen += [r["id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7
    assert set(seen) == sent
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "WzEsMl0"},  # valid base64 JSON, but not [time, id]
        {"status": "SLEEPING"},
        {"limit": 0},
        {"limit": 10_000},
        {"since": "yesterday"},
        {"q": "x" * 500},
    ],
)
async def test_bad_list_parameters_get_a_422(http: httpx.AsyncClient, params: dict) -> None:
    response = await http.get("/api/v1/runs", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


async def test_a_run_has_its_task_tree_attempts_and_logs_redacted(
    app: App, http: httpx.AsyncClient
) -> None:
    run_id = (await send(http, "user.created", {"user_id": "u_7"}))["run_ids"][0]
    app.run_worker()

    response = await http.get(f"/api/v1/runs/{run_id}")
    assert response.status_code == 200
    run = response.json()
    assert run["status"] == "WAITING"
    assert run["execution_count"] == 1
    assert run["payload"] == {"user_id": "u_7"}
    fetch, emails, wait = run["tasks"]
    assert (fetch["name"], fetch["icon"]) == ("Fetch user", "user")
    assert fetch["cache_key"] == "fetch-user"
    assert fetch["properties"] == [{"label": "User ID", "text": "u_7"}]
    assert fetch["output_properties"] == [{"label": "Plan", "text": "pro"}]
    assert fetch["output"] == {"email": "u_7@example.com", "card": {"number": "[redacted]"}}
    assert fetch["params"] == {"user_id": "u_7"}
    assert [a["status"] for a in fetch["attempts"]] == ["COMPLETED"]
    assert [c["cache_key"] for c in emails["children"]] == ["📧", "audit"]
    assert emails["children"][1]["style"] == "minimal"
    assert (wait["kind"], wait["status"]) == ("wait", "WAITING")
    assert [g["message"] for g in run["logs"]] == ["welcoming", "emails sent"]
    assert run["logs"][1]["task_id"] == emails["id"]
    assert SECRET_CARD not in response.text


async def test_cancel_retry_and_replay(app: App, http: httpx.AsyncClient) -> None:
    waiting = (await send(http, "user.created", {"user_id": "u_1"}))["run_ids"][0]
    failed = (await send(http, "charge.requested", {"amount": 5}))["run_ids"][0]
    app.run_worker()

    canceled = await http.post(f"/api/v1/runs/{waiting}/cancel")
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "CANCELED"
    again = await http.post(f"/api/v1/runs/{waiting}/cancel")
    assert again.status_code == 409
    assert "already ended" in again.json()["detail"]

    not_failed = await http.post(f"/api/v1/runs/{canceled.json()['id']}/replay")
    assert not_failed.status_code == 200
    replay = not_failed.json()
    assert replay["replay_of"] == waiting
    assert replay["status"] == "QUEUED"

    failed_run = (await http.get(f"/api/v1/runs/{failed}")).json()
    assert failed_run["status"] == "FAILED"
    assert "card_declined" in failed_run["tasks"][0]["attempts"][0]["error"]["message"]
    app.charge_fails["now"] = False
    retried = await http.post(f"/api/v1/runs/{failed}/retry")
    assert retried.json()["status"] == "QUEUED"
    app.run_worker()
    done = (await http.get(f"/api/v1/runs/{failed}")).json()
    assert done["status"] == "COMPLETED"
    assert done["output"] == "ch_1"
    assert [a["status"] for a in done["tasks"][0]["attempts"]] == ["ERRORED", "COMPLETED"]


async def test_unknown_runs_and_runs_of_other_apps_are_404(
    app: App, app_factory: object, http: httpx.AsyncClient, sqlite_url: str
) -> None:
    import runio

    other = runio.Client("other-app", database_url=sqlite_url, clock=app.clock)

    @other.define_job(id="x", trigger=runio.event_trigger("x"))
    async def x(payload: object, io: runio.IO) -> None:
        return None

    foreign = (await other.send_event_async("x")).run_ids[0]
    await other.close_async()

    for path in (f"/api/v1/runs/{foreign}", "/api/v1/runs/run_nope"):
        response = await http.get(path)
        assert response.status_code == 404
        assert "No run" in response.json()["detail"]
    assert (await http.post(f"/api/v1/runs/{foreign}/cancel")).status_code == 404
    assert (await http.get("/api/v1/runs")).json()["runs"] == []
    weird = await http.get("/api/v1/runs/%00%ff")
    assert weird.status_code in (404, 422)


async def test_the_openapi_description_names_every_operation(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/api/v1/openapi.json")).json()

    assert set(spec["paths"]) == {
        "/api/v1/events",
        "/api/v1/jobs",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}",
        "/api/v1/runs/{run_id}/cancel",
        "/api/v1/runs/{run_id}/retry",
        "/api/v1/runs/{run_id}/replay",
        "/api/v1/webhooks/{integration_id}",
    }
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
