"""Every ``io.resend`` wrapper through the real SDK against FakeResend, inside real runs: what
it sends, what it returns, the task it records (name, icon, properties, params), and what a
write does after an attempt whose outcome is unknown."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from resend_helpers import API_KEY, OTHER_KEY, World, message
from runio_resend import Resend, ResendClient
from runio_resend.testing import FakeResend

import runio

SENDER = "Acme <hello@acme.dev>"


def props(run: runio.Run, key: str) -> dict[str, str]:
    return {p["label"]: p["text"] for p in run.task(key).properties}


def test_send_email_sends_the_tasks_key_and_records_addresses_and_subject(world: World) -> None:
    async def body(io_resend: Any) -> Any:
        return await io_resend.send_email(
            "welcome",
            from_=SENDER,
            to=["ada@example.com", "grace@example.com"],
            cc="boss@example.com",
            subject="Welcome!",
            html="<p>The whole body</p>",
            tags=[{"name": "kind", "value": "welcome"}],
        )

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    (email,) = world.fake.emails.values()
    assert run.output == {"id": email["id"]}
    assert email["from"] == SENDER and email["html"] == "<p>The whole body</p>"
    assert email["to"] == ["ada@example.com", "grace@example.com"]
    assert email["tags"] == [{"name": "kind", "value": "welcome"}]
    task = run.task("welcome")
    (request,) = world.fake.writes
    assert request.header("Idempotency-Key") == task.idempotency_key
    assert task.name == "Send Email" and task.icon == "resend"
    assert props(run, "welcome") == {
        "From": SENDER,
        "To": "ada@example.com, grace@example.com",
        "Cc": "boss@example.com",
        "Subject": "Welcome!",
    }
    assert all("The whole body" not in p["text"] for p in task.properties)
    assert task.output_properties == [{"label": "Email ID", "text": email["id"]}]


def test_the_job_in_the_integrations_guide_runs(world: World) -> None:
    resend = Resend(api_key=API_KEY, base_url=world.fake.url)

    @world.client.define_job(
        id="welcome",
        trigger=runio.event_trigger(name="new.user"),
        integrations={"resend": resend},
    )
    async def welcome(payload: Any, io: runio.IO) -> None:
        await io.resend.send_email(
            "welcome-email",  # the task's cache key
            to=payload["email"],
            from_="jane@acme.inc",
            subject="Welcome!",
            html="<p>Hi</p>",
        )

    run_id = world.client.send_event("new.user", {"email": "ada@example.com"}).run_ids[0]
    run = world.drive(run_id)
    assert run.status == "COMPLETED", run.error
    (email,) = world.fake.sent_to("ada@example.com")
    assert email["from"] == "jane@acme.inc" and email["subject"] == "Welcome!"


def test_send_batch_sends_every_email_once_with_the_key(world: World) -> None:
    async def body(io_resend: Any) -> Any:
        return await io_resend.send_batch(
            "digest",
            emails=[
                {"from_": SENDER, "to": "ada@example.com", "subject": "Digest", "text": "a"},
                {"from": SENDER, "to": ["grace@example.com"], "subject": "Digest", "text": "b"},
            ],
        )

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert sorted(d["id"] for d in run.output["data"]) == sorted(world.fake.emails)
    assert world.fake.writes[0].header("Idempotency-Key") == run.task("digest").idempotency_key
    assert props(run, "digest") == {
        "Emails": "2",
        "From": SENDER,
        "To": "ada@example.com, grace@example.com",
        "Subject": "Digest",
    }


def test_send_batch_permissive_reports_the_invalid_ones(world: World) -> None:
    async def body(io_resend: Any) -> Any:
        return await io_resend.send_batch(
            "digest",
            emails=[
                {"from_": SENDER, "to": "ada@example.com", "subject": "Digest", "text": "a"},
                {"from_": SENDER, "to": "not-an-address", "subject": "Digest", "text": "b"},
            ],
            batch_validation="permissive",
        )

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert len(run.output["data"]) == 1 and run.output["errors"][0]["index"] == 1
    assert world.fake.writes[0].header("x-batch-validation") == "permissive"


def test_get_update_and_cancel_a_scheduled_email(world: World) -> None:
    seeded = world.fake.add_email(scheduled_at="2027-02-01T09:00:00Z")

    async def body(io_resend: Any) -> Any:
        got = await io_resend.get_email("get", id=seeded["id"])
        moved = await io_resend.update_email(
            "reschedule", id=seeded["id"], scheduled_at="2027-02-02T09:00:00Z"
        )
        canceled = await io_resend.cancel_email("cancel", id=seeded["id"])
        return {"got": got, "moved": moved, "canceled": canceled}

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert (
        run.output["got"]["last_event"] == "scheduled" and "http_headers" not in run.output["got"]
    )
    assert run.output["moved"] == {"object": "email", "id": seeded["id"]}
    assert run.output["canceled"] == {"object": "email", "id": seeded["id"]}
    email = world.fake.emails[seeded["id"]]
    assert email["scheduled_at"] == "2027-02-02T09:00:00Z" and email["last_event"] == "canceled"
    assert props(run, "reschedule") == {
        "Email ID": seeded["id"],
        "Scheduled at": "2027-02-02T09:00:00Z",
    }


def test_a_cancel_whose_answer_was_lost_is_not_refused_on_retry(world: World) -> None:
    seeded = world.fake.add_email(scheduled_at="2027-02-01T09:00:00Z")
    world.fake.drop_after_write(path=r"/emails/.*/cancel")

    async def body(io_resend: Any) -> Any:
        return await io_resend.cancel_email("cancel", id=seeded["id"])

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert run.output == {"object": "email", "id": seeded["id"]}
    assert [a.status for a in run.task("cancel").attempts] == ["ERRORED", "COMPLETED"]
    cancels = [r for r in world.fake.requests if r.path.endswith("/cancel")]
    assert len(cancels) == 1  # the retry looked the email up instead of canceling again


def test_audiences_create_get_list_remove(world: World) -> None:
    async def body(io_resend: Any) -> Any:
        made = await io_resend.create_audience("create", name="Customers")
        got = await io_resend.get_audience("get", id=made["id"])
        listed = await io_resend.list_audiences("list")
        removed = await io_resend.remove_audience("remove", id=made["id"])
        return {"made": made, "got": got, "listed": listed, "removed": removed}

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    out = run.output
    assert out["got"]["name"] == "Customers" and out["got"]["id"] == out["made"]["id"]
    assert [a["id"] for a in out["listed"]["data"]] == [out["made"]["id"]]
    assert out["removed"]["deleted"] is True and world.fake.audiences == {}
    assert props(run, "create") == {"Name": "Customers"}


def test_an_audience_whose_creation_answer_was_lost_is_created_once(world: World) -> None:
    world.fake.drop_after_write(path="/segments")

    async def body(io_resend: Any) -> Any:
        return await io_resend.create_audience("create", name="Customers")

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    (audience,) = world.fake.audiences.values()
    assert run.output["id"] == audience["id"]


def test_contacts_create_get_update_list_remove(world: World) -> None:
    audience = world.fake.add_audience("Customers")

    async def body(io_resend: Any) -> Any:
        made = await io_resend.create_contact(
            "create", email="ada@example.com", first_name="Ada", audience_id=audience["id"]
        )
        await io_resend.update_contact("update", email="ada@example.com", last_name="Lovelace")
        got = await io_resend.get_contact("get", id=made["id"])
        listed = await io_resend.list_contacts("list", audience_id=audience["id"])
        removed = await io_resend.remove_contact("remove", email="ada@example.com")
        return {"made": made, "got": got, "listed": listed, "removed": removed}

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    out = run.output
    assert out["got"]["first_name"] == "Ada" and out["got"]["last_name"] == "Lovelace"
    assert [c["email"] for c in out["listed"]["data"]] == ["ada@example.com"]
    assert out["removed"]["deleted"] is True and world.fake.contacts == {}
    assert props(run, "create") == {"Contact": "ada@example.com", "Audience": audience["id"]}


def test_a_contact_whose_creation_answer_was_lost_is_created_once(world: World) -> None:
    world.fake.drop_after_write(path="/contacts")

    async def body(io_resend: Any) -> Any:
        return await io_resend.create_contact("create", email="ada@example.com")

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    (contact,) = world.fake.contacts.values()
    assert run.output == {"object": "contact", "id": contact["id"]}


def test_removals_whose_answers_were_lost_count_as_done(world: World) -> None:
    contact = world.fake.add_contact("ada@example.com")
    audience = world.fake.add_audience("Customers")
    world.fake.drop_after_write(method="DELETE", times=2)

    async def body(io_resend: Any) -> Any:
        contact_gone = await io_resend.remove_contact("remove-contact", id=contact["id"])
        audience_gone = await io_resend.remove_audience("remove-audience", id=audience["id"])
        return [contact_gone, audience_gone]

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert run.output == [
        {"object": "contact", "id": contact["id"], "deleted": True},
        {"object": "segment", "id": audience["id"], "deleted": True},
    ]
    assert world.fake.contacts == {} and world.fake.audiences == {}
    for key in ("remove-contact", "remove-audience"):
        assert [a.status for a in run.task(key).attempts] == ["ERRORED", "COMPLETED"]
    assert len([r for r in world.fake.requests if r.method == "DELETE"]) == 2  # none repeated


def test_a_contact_wrapper_without_id_or_email_fails_at_once(world: World) -> None:
    async def body(io_resend: Any) -> Any:
        return await io_resend.get_contact("get")

    run = world.run(body)
    assert run.status == "FAILED"
    assert "id=... or email=..." in message(run.error)
    assert world.fake.requests == []


def test_list_domains_pages(world: World) -> None:
    first = world.fake.add_domain("acme.dev")
    second = world.fake.add_domain("mail.acme.dev", status="pending")

    async def body(io_resend: Any) -> Any:
        page = await io_resend.list_domains("page", limit=1)
        rest = await io_resend.list_domains("rest", limit=1, after=page["data"][0]["id"])
        return [page, rest]

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    page, rest = run.output
    assert [d["id"] for d in page["data"]] == [second["id"]] and page["has_more"] is True
    assert [d["id"] for d in rest["data"]] == [first["id"]] and rest["has_more"] is False


def test_run_task_gets_the_sdk_bound_to_the_instance(world: World) -> None:
    async def body(io_resend: Any) -> Any:
        async def send(client: ResendClient, task: runio.Task) -> Any:
            answer = await client.Emails.send_async(
                {"from": SENDER, "to": "ada@example.com", "subject": "Raw", "text": "x"},
                {"idempotency_key": task.idempotency_key},
            )
            return {"id": answer["id"]}

        return await io_resend.run_task("raw", send, name="Send raw")

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert run.output["id"] in world.fake.emails
    assert run.task("raw").icon == "resend"
    assert world.fake.writes[0].header("Idempotency-Key") == run.task("raw").idempotency_key


def test_two_instances_with_different_keys_used_concurrently(world: World) -> None:
    with FakeResend(api_key=OTHER_KEY, clock=world.clock.now) as other_fake:
        us = world.resend
        eu = Resend(id="eu", api_key=OTHER_KEY, base_url=other_fake.url)

        @world.client.define_job(
            id="two-accounts",
            trigger=runio.event_trigger("two"),
            integrations={"resend": us, "resend_eu": eu},
        )
        async def job(payload: Any, io: runio.IO) -> Any:
            sends = []
            for i in range(6):
                ns = io.resend if i % 2 == 0 else io.resend_eu
                sends.append(
                    ns.send_email(
                        f"email-{i}", from_=SENDER, to="ada@example.com", subject=f"#{i}", text="x"
                    )
                )
            return await asyncio.gather(*sends)

        run = world.drive(world.client.send_event("two", {}).run_ids[0])
    assert run.status == "COMPLETED", run.error
    assert [r.header("Authorization") for r in world.fake.requests] == [f"Bearer {API_KEY}"] * 3
    assert [r.header("Authorization") for r in other_fake.requests] == [f"Bearer {OTHER_KEY}"] * 3
    assert sorted(e["subject"] for e in world.fake.emails.values()) == ["#0", "#2", "#4"]
    assert sorted(e["subject"] for e in other_fake.emails.values()) == ["#1", "#3", "#5"]


def test_the_sender_is_given_once(world: World) -> None:
    async def body(io_resend: Any) -> Any:
        return await io_resend.send_email(
            "welcome", from_=SENDER, to="ada@example.com", subject="x", text="x", **{"from": SENDER}
        )

    run = world.run(body)
    assert run.status == "FAILED" and "Give the sender once" in message(run.error)
    assert world.fake.emails == {}


def test_the_typed_form_io_use_calls_the_same_wrapper(world: World) -> None:
    resend = world.resend

    @world.client.define_job(
        id="typed", trigger=runio.event_trigger("typed"), integrations={"mail": resend}
    )
    async def job(payload: Any, io: runio.IO) -> Any:
        by_instance = await io.use(resend).send_email(
            "by-instance", from_=SENDER, to="ada@example.com", subject="One", text="x"
        )
        by_class = await io.use(Resend).get_email("by-class", id=by_instance["id"])
        return by_class["subject"]

    run = world.drive(world.client.send_event("typed", {}).run_ids[0])
    assert run.status == "COMPLETED", run.error
    assert run.output == "One"


def test_scheduled_at_may_be_an_aware_datetime(world: World) -> None:
    when = datetime(2027, 1, 16, 9, 0, tzinfo=UTC)

    async def body(io_resend: Any) -> Any:
        return await io_resend.send_email(
            "later",
            from_=SENDER,
            to="ada@example.com",
            subject="Later",
            text="x",
            scheduled_at=when,
        )

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    email = world.fake.emails[run.output["id"]]
    assert email["scheduled_at"] == "2027-01-16T09:00:00+00:00"
    assert email["last_event"] == "scheduled"


def test_a_naive_scheduled_at_fails_at_once(world: World) -> None:
    async def body(io_resend: Any) -> Any:
        return await io_resend.send_email(
            "later",
            from_=SENDER,
            to="ada@example.com",
            subject="Later",
            text="x",
            scheduled_at=datetime(2027, 1, 16, 9, 0),
        )

    run = world.run(body)
    assert run.status == "FAILED" and "without a timezone" in message(run.error)
    assert world.fake.requests == []


def test_a_sync_run_task_function_uses_the_sync_sdk_with_the_instances_key(world: World) -> None:
    async def body(io_resend: Any) -> Any:
        def send(client: ResendClient, task: runio.Task) -> Any:
            answer = client.Emails.send(
                {"from": SENDER, "to": "ada@example.com", "subject": "Sync", "text": "x"},
                {"idempotency_key": task.idempotency_key},
            )
            return {"id": answer["id"]}

        return await io_resend.run_task("sync", send)

    run = world.run(body)
    assert run.status == "COMPLETED", run.error
    assert world.fake.emails[run.output["id"]]["subject"] == "Sync"
    assert world.fake.writes[0].header("Authorization") == f"Bearer {API_KEY}"
