"""The shop's jobs, on one module-level client, as runio's README writes it."""

from __future__ import annotations

from pydantic import BaseModel

import runio

from .services import outbox, payments

client = runio.Client(id="shop")

PRICES = {"apple": 120, "pear": 90, "fig": 300}
CHARGE_RETRY = runio.RetryOptions(limit=3, factor=2, min_timeout=30, randomize=False)


class OrderPlaced(BaseModel):
    order_id: str
    email: str
    items: list[str]


@client.define_job(
    id="fulfil-order", trigger=runio.event_trigger("order.placed", schema=OrderPlaced)
)
async def fulfil_order(order: OrderPlaced, io: runio.IO) -> dict[str, object]:
    async def reserve_all(task: runio.Task) -> list[str]:
        return [
            await io.run_task(("reserve", item), lambda t, item=item: f"reserved {item}")
            for item in order.items
        ]

    await io.run_task("reserve-items", reserve_all)
    total = sum(PRICES[item] for item in order.items)
    charge = await io.run_task(
        "charge",
        lambda task: payments.charge(task.idempotency_key, total),
        retry=CHARGE_RETRY,
    )
    await io.wait("cooling-off", 24 * 60 * 60)
    await io.run_task("follow-up", lambda task: outbox.send(order.email, "How was your order?"))
    return {"order_id": order.order_id, "charged": charge["cents"]}


@client.define_job(id="notify-sales", trigger=runio.event_trigger("order.placed"))
async def notify_sales(payload: dict[str, object], io: runio.IO) -> None:
    await io.run_task("notify", lambda task: outbox.send("sales@shop.example", "New order"))


@client.define_job(
    id="nightly-digest", trigger=runio.cron_trigger("0 2 * * *", timezone="Europe/Paris")
)
async def nightly_digest(tick: runio.ScheduledTick, io: runio.IO) -> str:
    day = tick.scheduled_at.date().isoformat()
    await io.run_task(
        "send-digest", lambda task: outbox.send("owner@shop.example", f"Digest {day}")
    )
    return day
