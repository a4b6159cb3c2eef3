"""The example app: the jobs of the Tasks documentation, in Python.

Run a worker for it with ``runio dev examples/app.py:client``; ``examples/demo.py`` runs every
job end to end and prints their task trees.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from pydantic import BaseModel

import runio

client = runio.Client(id="examples")


# -- 1. A new user signs up: a cached fetch, a three-hour wait, a task with name, properties, icon.
class NewUser(BaseModel):
    user_id: str


async def load_user(user_id: str) -> dict[str, Any]:
    base = os.environ.get("USER_API_URL", "http://127.0.0.1:8765")
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        response = await http.get(f"/users/{user_id}")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]


@client.define_job(
    id="new-user",
    name="Run when a new user signs up",
    version="1.0.0",
    trigger=runio.event_trigger(name="new.user", schema=NewUser),
)
async def new_user(payload: NewUser, io: runio.IO, ctx: runio.RunContext) -> dict[str, Any]:
    # Cached: on every replay after the wait, this returns the stored user without a request.
    user = await io.run_task("fetch-user", lambda task: load_user(payload.user_id))
    io.logger.info("Fetched the new user", email=user["email"])

    await io.wait("wait", 60 * 60 * 3)  # durable: no memory or worker slot held for 3 hours

    async def long_running_code(task: runio.Task) -> dict[str, Any]:
        task.output_properties.append(runio.Property("Plan", user["plan"]))
        return {"onboarded": user["id"], "plan": user["plan"]}

    return await io.run_task(
        "my-task",
        long_running_code,
        name="My Task",
        properties=[runio.Property("User ID", payload.user_id)],
        icon="user",
    )


# -- 2. A flaky task that succeeds on its third attempt, with durable retry delays.
@client.define_job(id="flaky", name="Flaky task", trigger=runio.event_trigger(name="flaky"))
async def flaky(payload: dict[str, Any], io: runio.IO, ctx: runio.RunContext) -> str:
    def sometimes_fails(task: runio.Task) -> str:
        if task.attempt < 3:
            raise ConnectionError(f"upstream unavailable (attempt {task.attempt})")
        return f"succeeded on attempt {task.attempt}"

    return await io.run_task(
        "flaky-call",
        sometimes_fails,
        name="Call a flaky service",
        retry=runio.RetryOptions(limit=5, factor=2, min_timeout=2, max_timeout=30),
    )


# -- 3. Subtasks: the same child cache key under two parents is two different tasks.
@client.define_job(id="subtasks", name="Nested subtasks", trigger=runio.event_trigger("subtasks"))
async def subtasks(payload: dict[str, Any], io: runio.IO, ctx: runio.RunContext) -> list[Any]:
    async def parent(task: runio.Task) -> dict[str, Any]:
        # "child-1" is reused under each parent: keys are scoped to their parent task.
        first = await io.run_task("child-1", lambda t: {"parent": task.cache_key, "n": 1})
        second = await io.run_task(
            "child-2", lambda t: {"parent": task.cache_key, "n": 2, "key": t.idempotency_key[:8]}
        )
        return {"children": [first, second]}

    return [
        await io.run_task("parent-1", parent, name="Parent 1", icon="folder"),
        await io.run_task("parent-2", parent, name="Parent 2", icon="folder"),
    ]


# -- 4. Cache keys are any unicode, or sequences of JSON scalars.
@client.define_job(id="emoji-keys", name="Emoji cache keys", trigger=runio.event_trigger("emoji"))
def emoji_keys(payload: dict[str, Any], io: runio.SyncIO, ctx: runio.RunContext) -> list[Any]:
    # A plain `def` job: it runs in a thread and gets a blocking io.
    mail = io.run_task("📧", lambda task: {"sent": True}, name="Send mail")
    salute = io.run_task("🫡", lambda task: "salute", name="Salute")
    batch = io.run_task(["batch", 1, True], lambda task: task.cache_key, name="Sequence key")
    return [mail, salute, batch]
