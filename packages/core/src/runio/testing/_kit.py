"""The testing kit for job authors: ``JobTester`` runs an app's own jobs (its module-level
``Client``, jobs registered once at import) on a test database and a ``TestClock``, and
``task_statuses`` / ``assert_task`` assert over a run's task tree.

The ``runio_app`` fixture (``_pytest_plugin``) builds a ``JobTester`` and puts the client back
as it was after the test. This module runs jobs through the real worker and store; it fakes
nothing of runio.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .. import _json
from .. import server as http_server
from .._client import Client
from .._ids import new_id
from .._job import Job
from .._records import Event, NewRun, Run, RunStatus, TaskRun
from .._schedules import ScheduleTrigger
from ..errors import ConfigurationError, InvalidPayloadError, UnknownJobError
from ._clock import TestClock

if TYPE_CHECKING:
    import httpx

_UNSET: Any = object()


class JobTester:
    """An app's client pointed at a test database and a ``TestClock``.

    ``run_job`` starts one run of a job and runs the worker until nothing is ready (the run
    completed, failed, or reached a wait or a retry delay); ``advance`` moves the clock and
    runs the worker again, so waits, retry delays and schedules that came due fire.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, client: Client, clock: TestClock) -> None:
        self.client = client
        self.clock = clock

    # -- starting runs ---------------------------------------------------------------------------
    def run_job(self, job: Job[Any, Any] | str, payload: Any = None) -> Run:
        """Start a run of ``job`` (the function ``define_job`` returned, or its id) with
        ``payload`` and run the worker until nothing is ready; return the run.

        The payload is checked as an event's would be (the job's schema, and its trigger's
        filter). For a scheduled job, ``payload=None`` means the tick at the clock's time.
        Only this job gets a run, whichever other jobs listen for the same event.
        """
        found = self._job(job)
        if payload is None and isinstance(found.trigger, ScheduleTrigger):
            payload = found.trigger.payload(self.clock.now())
        if isinstance(payload, BaseModel):
            payload = payload.model_dump(mode="json")
        try:
            payload = _json.decode(_json.encode(payload))
        except _json.NotJsonError as exc:
            raise ConfigurationError(
                f"run_job({found.id!r}): the payload cannot be stored as JSON: {exc}."
            ) from None
        errors = found.payload_errors(payload)
        if errors is not None:
            fields = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(payload)'}: {e['msg']}" for e in errors
            )
            raise InvalidPayloadError(
                f"run_job({found.id!r}): the payload does not match the job's schema, so no run "
                f"was started: {fields}.",
                errors={found.id: errors},
            )
        if not found.trigger.matches(payload):
            raise ConfigurationError(
                f"run_job({found.id!r}): the payload does not match the trigger's filter "
                f"{found.trigger.filter!r}, so an event with it would start no run of this job. "
                "Give a payload the filter accepts."
            )
        run_id = new_id("run")
        now = self.clock.now()
        event = Event(
            id=new_id("evt"),
            app_id=self.client.id,
            name=found.trigger.name,
            payload=payload,
            timestamp=now,
            deliver_at=None,
        )

        async def store_it() -> None:
            store = await self.client._ready()
            await store.create_event(event, [NewRun(run_id, found.id, found.version, now)], now)

        self.client._run_sync(store_it())
        self.work()
        return self.client.get_run(run_id)

    def send_event(self, name: str, payload: Any = None, **options: Any) -> Event:
        """``client.send_event``, then run the worker until nothing is ready."""
        event = self.client.send_event(name, payload, **options)
        self.work()
        return event

    def deliver_webhook(
        self, integration_id: str, body: bytes, headers: Mapping[str, str]
    ) -> httpx.Response:
        """Post a webhook delivery to the app's endpoint (``POST /api/v1/webhooks/<id>``, the
        server's own handler, served in memory), then run the worker until nothing is ready;
        return the answer. Sign it as the vendor would (its package's fake can), or not, to test
        refusals."""

        import httpx  # only tests of webhook triggers need it

        async def post() -> httpx.Response:
            transport = httpx.ASGITransport(app=http_server.create_app(self.client))
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                return await http.post(
                    f"/api/v1/webhooks/{integration_id}",
                    content=body,
                    headers={"Content-Type": "application/json", **headers},
                )

        answer = self.client._run_sync(post())
        self.work()
        return answer

    # -- time and the worker -------------------------------------------------------------------
    def work(self) -> None:
        """Run a worker until no run is ready (schedules that came due fire first)."""
        self.client.run_worker(until_idle=True)

    def advance(
        self, seconds: float = 0.0, *, minutes: float = 0.0, hours: float = 0.0, days: float = 0.0
    ) -> None:
        """Move the clock forward, then run the worker: waits, retry delays, delayed events
        and schedule ticks that came due run now."""
        self.clock.advance(seconds, minutes=minutes, hours=hours, days=days)
        self.work()

    def run_until_finished(self, run: Run | str, *, max_steps: int = 100) -> Run:
        """Move the clock to each of the run's wake-ups (waits, retry delays) until it has
        finished; return it. Fails when it is still going after ``max_steps`` wake-ups."""
        run_id = run if isinstance(run, str) else run.id
        for _ in range(max_steps):
            current = self.client.get_run(run_id)
            if RunStatus(current.status).finished:
                return current
            if current.ready_at is not None and current.ready_at > self.clock.now():
                self.advance(current.ready_at - self.clock.now())
            else:
                self.work()
        raise AssertionError(
            f"run {run_id} had not finished after {max_steps} wake-ups: it is "
            f"{self.client.get_run(run_id).status}. Raise max_steps for a run that waits more."
        )

    # -- reading -------------------------------------------------------------------------------
    def get_run(self, run: Run | str) -> Run:
        """The run as stored now (with its task tree and logs)."""
        return self.client.get_run(run if isinstance(run, str) else run.id)

    def runs(
        self, job: Job[Any, Any] | str | None = None, *, status: str | None = None
    ) -> list[Run]:
        """The app's runs, oldest first (of ``job`` only, with ``status`` only, if given),
        each with its task tree."""
        job_id = None if job is None else self._job(job).id
        found = self.client.list_runs(job_id=job_id, status=status, limit=10_000)
        return [self.client.get_run(r.id) for r in reversed(found)]

    def _job(self, job: Job[Any, Any] | str) -> Job[Any, Any]:
        job_id = job if isinstance(job, str) else getattr(job, "id", None)
        found = self.client.jobs.get(job_id) if isinstance(job_id, str) else None
        if found is None or (isinstance(job, Job) and found is not job):
            known = ", ".join(sorted(self.client.jobs)) or "none"
            raise UnknownJobError(
                f"App {self.client.id!r} has no job {job!r} (its jobs: {known}); pass the "
                "function define_job returned, or its id.",
                job_id=str(job_id),
            )
        return found


def _key_text(cache_key: Any) -> str:
    if isinstance(cache_key, list | tuple):
        return ":".join(str(part) for part in cache_key)
    return str(cache_key)


def task_statuses(run: Run) -> dict[str, str]:
    """Every task of the run (waits included) by its path of cache keys, with its status, in
    creation order: ``{"fetch-user": "COMPLETED", "batch": "COMPLETED", "batch/item-1":
    "COMPLETED"}``. A cache key given as a sequence is written with ``:`` between its parts."""
    out: dict[str, str] = {}

    def walk(tasks: Sequence[TaskRun], prefix: str) -> None:
        for task in tasks:
            path = prefix + _key_text(task.cache_key)
            out[path] = task.status
            walk(task.children, path + "/")

    walk(run.tasks, "")
    return out


def assert_task(
    run: Run,
    *cache_key_path: Any,
    status: str | None = None,
    output: Any = _UNSET,
    attempts: int | None = None,
    where: Callable[[TaskRun], bool] | None = None,
) -> TaskRun:
    """Find the task reached by following ``cache_key_path`` down the run's tree and check it:
    its ``status``, its ``output`` (as stored, JSON), how many ``attempts`` it took, and any
    ``where(task)`` check. Returns the task. On a mismatch the AssertionError shows the run's
    whole task tree."""
    if not cache_key_path:
        raise ConfigurationError("assert_task needs the cache key of the task to check.")
    problems: list[str] = []
    task: TaskRun | None = None
    try:
        task = run.task(*cache_key_path)
    except KeyError:
        problems.append("no such task")
    if task is not None:
        if status is not None and task.status != status:
            problems.append(f"status is {task.status}, expected {status}")
        if output is not _UNSET and task.output != output:
            problems.append(f"output is {task.output!r}, expected {output!r}")
        if attempts is not None and len(task.attempts) != attempts:
            problems.append(f"it took {len(task.attempts)} attempt(s), expected {attempts}")
        if where is not None and not where(task):
            problems.append("the where= check returned False")
    if problems:
        path = "/".join(_key_text(k) for k in cache_key_path)
        tree = "\n".join(f"  {p}: {s}" for p, s in task_statuses(run).items()) or "  (no tasks)"
        raise AssertionError(
            f"task {path!r} of run {run.id} ({run.status}): {'; '.join(problems)}.\n"
            f"The run's tasks:\n{tree}"
        )
    assert task is not None
    return task
