"""The app the server tests serve: a job with a task tree (icons, properties, redaction,
subtasks, a minimal task, logs, a wait) and a job that fails until told otherwise."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

import runio
from runio.errors import NonRetryableError

SECRET_CARD = "4242424242424242"


class Signup(BaseModel):
    user_id: str


class Charge(BaseModel):
    amount: int


def define_jobs(client: runio.Client, charge_fails: dict[str, bool]) -> None:
    """``charge_fails["now"]`` decides whether the charge task fails (flip it to retry)."""

    @client.define_job(
        id="signup",
        name="Welcome a new user",
        version="1.2.0",
        trigger=runio.event_trigger(name="user.created", schema=Signup),
    )
    async def signup(payload: Signup, io: runio.IO) -> dict[str, Any]:
        io.logger.info("welcoming", user_id=payload.user_id)

        def fetch(task: runio.Task) -> dict[str, Any]:
            task.output_properties.append(runio.Property("Plan", "pro"))
            return {"email": f"{payload.user_id}@example.com", "card": {"number": SECRET_CARD}}

        user = await io.run_task(
            "fetch-user",
            fetch,
            name="Fetch user",
            icon="user",
            properties=[runio.Property("User ID", payload.user_id)],
            params={"user_id": payload.user_id},
            redact=["card.number"],
        )

        async def send_emails(task: runio.Task) -> int:
            await io.run_task("📧", lambda t: "sent", name="Welcome email", icon="email")
            await io.run_task("audit", lambda t: None, name="Audit", style="minimal")
            io.logger.info("emails sent")
            return 2

        await io.run_task("emails", send_emails, name="Send emails")
        await io.wait("cool-off", 3600)
        return {"email": user["email"]}

    @client.define_job(
        id="charge",
        name="Charge a card",
        trigger=runio.event_trigger(name="charge.requested", schema=Charge),
    )
    async def charge(payload: Charge, io: runio.IO) -> str:
        def attempt(task: runio.Task) -> str:
            if charge_fails["now"]:
                raise NonRetryableError("card_declined: the bank said no")
            return "ch_1"

        return await io.run_task("charge", attempt, name="Charge", icon="stripe")
