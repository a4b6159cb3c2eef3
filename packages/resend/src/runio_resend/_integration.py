"""The Resend integration: settings, the SDK client, error rules, and the task wrappers.

Each wrapper is one task of the run (``io.resend.send_email("welcome", to=..., ...)``) that
returns Resend's JSON. ``send_email`` and ``send_batch`` carry the task's idempotency key, so a
retry after a crash, a dropped connection or a 500 sends the email once; the other writes are
repeated safely (updates, removals) or look for their earlier result first (creations). The
SDK has no retries of its own; runio's durable retries, driven by ``Resend.classify_error``
(``_errors.decide``), are the only retry layer. The API key lives in memory only, in this
instance's ``ResendClient``.

This module imports the ``resend`` SDK; runio's core never does.
"""

from __future__ import annotations

import datetime as dt
import difflib
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, get_args

import resend as resend_sdk
from pydantic import BaseModel

import runio
from runio.errors import (
    ConfigurationError,
    IntegrationSettingError,
    JobDefinitionError,
    NonRetryableError,
)
from runio.integrations import (
    WebhookDelivery,
    WebhookRegistration,
    WebhookReply,
    WebhookRequest,
    WebhookTrigger,
)

from ._client import DEFAULT_API_BASE, ResendClient
from ._errors import ResendAPIError, decide, from_sdk
from ._webhooks import (
    EmailBouncedEvent,
    EmailClickedEvent,
    EmailEvent,
    email_filter,
    read_delivery,
    signing_key,
)

_CREATED_MARGIN = 60.0  # seconds of clock skew allowed between runio and Resend


# -- properties -----------------------------------------------------------------------------------


def _joined(value: Any, limit: int = 5) -> str | None:
    """``"a@x.com"`` or ``["a@x.com", "b@x.com"]`` as one line (the first ``limit``)."""
    if value is None or value == "" or value == []:
        return None
    items = [str(v) for v in (value if isinstance(value, list | tuple) else [value])]
    text = ", ".join(items[:limit])
    return f"{text} (+{len(items) - limit} more)" if len(items) > limit else text


def _props(*pairs: tuple[str, Any]) -> list[runio.Property]:
    """Properties from (label, value) pairs; a pair whose value is None is left out."""
    return [runio.Property(label, str(value)) for label, value in pairs if value is not None]


def _email_props(p: Mapping[str, Any]) -> list[runio.Property]:
    return _props(
        ("From", p.get("from_")),
        ("To", _joined(p.get("to"))),
        ("Cc", _joined(p.get("cc"))),
        ("Bcc", _joined(p.get("bcc"))),
        ("Subject", p.get("subject")),
        ("Scheduled at", p.get("scheduled_at")),
    )


def _batch_props(p: Mapping[str, Any]) -> list[runio.Property]:
    emails = [e for e in p.get("emails") or [] if isinstance(e, Mapping)]
    senders = sorted({str(e.get("from_") or e.get("from")) for e in emails if e})
    recipients: list[str] = []
    subjects: list[str] = []
    for email in emails:
        to = email.get("to")
        recipients += [str(t) for t in (to if isinstance(to, list | tuple) else [to]) if t]
        if email.get("subject") and str(email["subject"]) not in subjects:
            subjects.append(str(email["subject"]))
    return _props(
        ("Emails", len(emails)),
        ("From", _joined(senders)),
        ("To", _joined(recipients)),
        ("Subject", _joined(subjects, limit=3)),
    )


def _contact_props(p: Mapping[str, Any]) -> list[runio.Property]:
    return _props(
        ("Contact", p.get("email") or p.get("id")),
        ("Audience", p.get("audience_id")),
        ("Segment", p.get("segment_id")),
    )


# -- answers --------------------------------------------------------------------------------------


def as_json(value: Any) -> Any:
    """An SDK answer as plain JSON: the SDK's dicts without the ``http_headers`` it adds."""
    if isinstance(value, Mapping):
        return {str(k): as_json(v) for k, v in value.items() if k != "http_headers"}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return value


def _email_params(
    from_: str | None, to: Any, subject: Any, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """Resend's send parameters: ``from_`` becomes ``from``; given-but-None values are left
    out (Resend refuses ``null`` for most fields)."""
    if from_ is not None and extra.get("from") is not None:
        raise NonRetryableError("Give the sender once: from_=... (not both from_ and from).")
    params: dict[str, Any] = {"from": from_ if from_ is not None else extra.get("from")}
    params.update({"to": to, "subject": subject})
    params.update({k: v for k, v in extra.items() if k not in ("from", "from_")})
    scheduled_at = params.get("scheduled_at")
    if isinstance(scheduled_at, dt.datetime):
        if scheduled_at.tzinfo is None:
            raise NonRetryableError(
                "scheduled_at is a datetime without a timezone: give an aware one "
                "(datetime(..., tzinfo=timezone.utc)) or an ISO 8601 string."
            )
        params["scheduled_at"] = scheduled_at.isoformat()
    return {k: v for k, v in params.items() if v is not None}


def _batch_email(email: Mapping[str, Any], index: int) -> dict[str, Any]:
    if not isinstance(email, Mapping):
        raise NonRetryableError(
            f"send_batch: emails[{index}] is a {type(email).__name__}; each email must be a "
            "dict of send_email's parameters (from_, to, subject, html...)."
        )
    extra = dict(email)
    return _email_params(
        extra.pop("from_", None), extra.pop("to", None), extra.pop("subject", None), extra
    )


def _created_at(text: Any) -> float | None:
    """Resend's ``created_at`` (``2023-04-03 22:13:42.674981+00``) as epoch seconds."""
    if not isinstance(text, str):
        return None
    value = text.strip().replace(" ", "T", 1)
    if value.endswith("+00"):
        value += ":00"
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


EVENT_TYPES: tuple[str, ...] = tuple(get_args(resend_sdk.WebhookEvent))
"""The event types Resend's webhooks send (as the installed SDK lists them)."""

WEBHOOK_HELP = (
    "In Resend's dashboard open Webhooks > Add Webhook, paste the endpoint URL, tick the events "
    "your jobs listen to and save; then copy the webhook's signing secret (whsec_...) into "
    "RESEND_WEBHOOK_SECRET (or Resend(webhook_secret=...)) where the server runs. Or let runio "
    "create it through Resend's API: runio webhooks APP --register BASE_URL (then set the "
    "secret it prints)."
)


def _event_type(event_type: Any, where: str) -> str:
    """``event_type`` when Resend sends such events; else a ``JobDefinitionError`` naming the
    closest ones."""
    if isinstance(event_type, str) and event_type in EVENT_TYPES:
        return event_type
    close = difflib.get_close_matches(str(event_type), EVENT_TYPES, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise JobDefinitionError(
        f"{where}: Resend sends no {event_type!r} events.{hint} Its event types: "
        f"{', '.join(t for t in EVENT_TYPES if not t.startswith('inbox.'))}, and inbox.*. (A "
        "newer type than this resend SDK knows needs a newer SDK: pip install -U resend.)"
    )


def _page_params(limit: int | None, after: str | None, before: str | None) -> dict[str, Any] | None:
    params = {k: v for k, v in (("limit", limit), ("after", after), ("before", before)) if v}
    return params or None


class Resend(runio.Integration[ResendClient]):
    """Resend: ``await io.resend.send_email("welcome", from_="hi@acme.dev", to=..., ...)``.

    Settings (each an argument, else its environment variable): ``api_key``
    (``RESEND_API_KEY``, required, secret), ``base_url`` (``RESEND_API_BASE``, default
    ``https://api.resend.com``; point it at ``runio_resend.testing.FakeResend`` in tests) and
    ``timeout`` (seconds per request, default 30). Each instance has its own key and
    connections: two instances with different keys work side by side in one worker.

    Exactly once: ``send_email`` and ``send_batch`` send the task's idempotency key, which
    Resend remembers for 24 hours, so a retry after a crash, a timeout or a 500 does not send
    the email again. Resend's errors: a 429 ``rate_limit_exceeded`` is retried at
    ``retry-after``; a daily or monthly quota is not a short-term limit and fails (or is retried
    when Resend says when it resets); no answer is retried with the same key; 400, 401, 403,
    404 and 422 fail at once with Resend's message.
    """

    namespace = "resend"
    name = "Resend"
    icon = "resend"
    package = "runio-resend"
    idempotency = "key"
    sdk_loggers = ("resend", "httpx")

    api_key: str = runio.setting(env="RESEND_API_KEY", help="Resend API key (re_...)")
    base_url: str = runio.setting(
        env="RESEND_API_BASE",
        default=DEFAULT_API_BASE,
        secret=False,
        help="API base URL (a FakeResend's url in tests)",
    )
    timeout: float = runio.setting(default=30.0, secret=False, help="seconds per request")
    webhook_secret: str | None = runio.setting(
        env="RESEND_WEBHOOK_SECRET",
        required=False,
        help="signing secret of the webhook endpoint (whsec_...), for triggers",
    )

    webhook_help = WEBHOOK_HELP

    # -- the SDK client ------------------------------------------------------------------------
    def create_client(self) -> ResendClient:
        """The SDK bound to this instance's key and base URL (its own connections, closed by
        the kit through ``ResendClient.aclose``)."""
        return ResendClient(self.api_key, base_url=self.base_url, timeout=float(self.timeout))

    # -- errors --------------------------------------------------------------------------------
    def classify_error(self, error: Exception, task: runio.Task) -> runio.ErrorDecision | None:
        """Resend's rules (see ``runio_resend._errors.decide``)."""
        decision = decide(error, now=time.time())
        if decision is None:
            return None
        if decision.action == "fail":
            return runio.ErrorDecision.fail()
        if decision.wait is not None:
            return runio.ErrorDecision.retry_at(decision.wait)
        return runio.ErrorDecision.retry()

    def translate_error(self, error: Exception, task: runio.Task) -> Exception:
        """An answer becomes a ``ResendAPIError`` (``ResendIdempotencyError``,
        ``ResendQuotaError``) with Resend's status, name and message; no answer a
        ``ResendConnectionError``."""
        return from_sdk(error, now=time.time(), cache_key=task.cache_key, run_id=task.run_id)

    # -- webhooks ------------------------------------------------------------------------------
    def verify_webhook(self, request: WebhookRequest) -> WebhookDelivery | WebhookReply:
        """A Resend event from a delivery Svix signed with ``webhook_secret``: its id is the
        ``svix-id`` (the same on Svix's retries), its type the event's ``type``, its payload the
        event (``{"type", "created_at", "data"}``). A missing, wrong or stale (more than five
        minutes from ``request.received_at``) signature is a ``WebhookSignatureError``; a signed
        body that is not a Resend event a ``WebhookPayloadError``."""
        secret = self.require_setting("webhook_secret")
        try:
            verifier = signing_key(secret)
        except ValueError as exc:
            raise IntegrationSettingError(
                f"Resend's webhook_secret ({self.id}, RESEND_WEBHOOK_SECRET) is unusable: {exc}. "
                "Copy the signing secret from the webhook's page in Resend's dashboard.",
                integration=self.id,
                setting="webhook_secret",
                env="RESEND_WEBHOOK_SECRET",
            ) from None
        return read_delivery(request, verifier)

    def register_webhook(self, url: str, events: Sequence[str]) -> WebhookRegistration:
        """Create a Resend webhook sending ``events`` to ``url`` (``POST /webhooks``), or, when
        one already sends to ``url``, set its events and enable it (so registering twice makes
        no second endpoint, which would deliver every event twice). The registration carries
        the webhook's signing secret: set it as ``RESEND_WEBHOOK_SECRET``."""
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"Resend.register_webhook needs the endpoint's http(s) URL, got {url!r}."
            )
        wanted = [_event_type(e, "Resend.register_webhook") for e in events]
        if not wanted:
            raise ConfigurationError(
                "Resend.register_webhook needs at least one event type (e.g. 'email.delivered')."
            )
        wanted = list(dict.fromkeys(wanted))
        with ResendClient(self.api_key, base_url=self.base_url, timeout=float(self.timeout)) as sdk:
            try:
                existing = _webhook_sending_to(sdk, url)
                if existing is None:
                    made = as_json(sdk.Webhooks.create({"endpoint": url, "events": wanted}))
                    webhook_id, secret = str(made["id"]), made.get("signing_secret")
                else:
                    webhook_id = str(existing["id"])
                    sdk.Webhooks.update(
                        {"webhook_id": webhook_id, "events": wanted, "status": "enabled"}
                    )
                    secret = as_json(sdk.Webhooks.get(webhook_id)).get("signing_secret")
            except resend_sdk.exceptions.ResendError as exc:
                raise from_sdk(exc, now=time.time()) from exc
        return WebhookRegistration(
            id=webhook_id,
            url=url,
            events=tuple(wanted),
            secret=secret if isinstance(secret, str) else None,
        )

    def on_event(
        self,
        event_type: str,
        *,
        schema: type[BaseModel] | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> WebhookTrigger:
        """A job trigger for Resend's ``event_type`` events (``"email.delivered"``,
        ``"contact.created"``...; see ``EVENT_TYPES``) delivered to this instance's webhook
        endpoint. ``schema`` parses the event for the job (``EmailEvent``, ``ContactEvent``...;
        the raw event stays in ``ctx.event.payload``); ``filter`` matches the raw event, e.g.
        ``{"data": {"tags": {"kind": ["welcome"]}}}``."""
        event_type = _event_type(event_type, "Resend.on_event")
        return self.webhook_trigger(event_type, schema=schema, filter=filter)

    def _on_email(
        self,
        event_type: str,
        schema: type[EmailEvent],
        tags: Mapping[str, str] | None,
        filter: Mapping[str, Any] | None,
        where: str,
    ) -> WebhookTrigger:
        spec = email_filter(f"Resend.{where}", tags=tags, filter=filter)
        return self.webhook_trigger(event_type, schema=schema, filter=spec)

    def on_email_sent(
        self, *, tags: Mapping[str, str] | None = None, filter: Mapping[str, Any] | None = None
    ) -> WebhookTrigger:
        """Runs the job for each email Resend accepted (``email.sent``), with an ``EmailEvent``;
        ``tags={"kind": "welcome"}`` only for emails carrying those tags."""
        return self._on_email("email.sent", EmailEvent, tags, filter, "on_email_sent")

    def on_email_delivered(
        self, *, tags: Mapping[str, str] | None = None, filter: Mapping[str, Any] | None = None
    ) -> WebhookTrigger:
        """Runs the job for each email the recipient's server accepted (``email.delivered``),
        with an ``EmailEvent``; ``tags=`` as in ``on_email_sent``."""
        return self._on_email("email.delivered", EmailEvent, tags, filter, "on_email_delivered")

    def on_email_bounced(
        self, *, tags: Mapping[str, str] | None = None, filter: Mapping[str, Any] | None = None
    ) -> WebhookTrigger:
        """Runs the job for each email the recipient's server refused (``email.bounced``), with
        an ``EmailBouncedEvent`` (``payload.data.bounce``: type, sub-type, message)."""
        return self._on_email("email.bounced", EmailBouncedEvent, tags, filter, "on_email_bounced")

    def on_email_complained(
        self, *, tags: Mapping[str, str] | None = None, filter: Mapping[str, Any] | None = None
    ) -> WebhookTrigger:
        """Runs the job for each email its recipient marked as spam (``email.complained``), with
        an ``EmailEvent``."""
        return self._on_email("email.complained", EmailEvent, tags, filter, "on_email_complained")

    def on_email_opened(
        self, *, tags: Mapping[str, str] | None = None, filter: Mapping[str, Any] | None = None
    ) -> WebhookTrigger:
        """Runs the job each time a recipient opens an email (``email.opened``; the domain's
        open tracking must be on), with an ``EmailEvent``."""
        return self._on_email("email.opened", EmailEvent, tags, filter, "on_email_opened")

    def on_email_clicked(
        self, *, tags: Mapping[str, str] | None = None, filter: Mapping[str, Any] | None = None
    ) -> WebhookTrigger:
        """Runs the job each time a recipient clicks a link of an email (``email.clicked``;
        click tracking must be on), with an ``EmailClickedEvent`` (``payload.data.click.link``)."""
        return self._on_email("email.clicked", EmailClickedEvent, tags, filter, "on_email_clicked")

    # -- emails --------------------------------------------------------------------------------
    @runio.integration_task(name="Send Email", effect="write", properties=_email_props)
    async def send_email(
        self,
        client: ResendClient,
        task: runio.Task,
        /,
        *,
        from_: str,
        to: str | list[str],
        subject: str,
        html: str | None = None,
        text: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Send an email (``POST /emails``): ``from_`` (Resend's ``from``), ``to`` (an
        address or up to 50), ``subject``, ``html`` and/or ``text``, and Resend's other
        parameters (``cc``, ``bcc``, ``reply_to``, ``scheduled_at`` (ISO 8601 or an aware
        ``datetime``), ``tags``, ``headers``,
        ``attachments``, ``template``...). Sent with the task's idempotency key. Returns
        ``{"id": ...}``."""
        body = _email_params(from_, to, subject, {"html": html, "text": text, **params})
        sent = as_json(
            await client.Emails.send_async(body, {"idempotency_key": self.idempotency_key(task)})
        )
        task.output_properties.append(runio.Property("Email ID", str(sent.get("id"))))
        return sent  # type: ignore[no-any-return]

    @runio.integration_task(
        name="Send Batch",
        effect="write",
        properties=_batch_props,
    )
    async def send_batch(
        self,
        client: ResendClient,
        task: runio.Task,
        /,
        *,
        emails: list[dict[str, Any]],
        batch_validation: str | None = None,
    ) -> dict[str, Any]:
        """Send up to 100 emails in one request (``POST /emails/batch``): each a dict of
        ``send_email``'s parameters (``from_`` or ``from``; no ``scheduled_at`` or
        ``attachments`` in a batch). ``batch_validation="permissive"`` sends the valid ones and
        lists the others in ``errors``. Sent with the task's idempotency key. Returns
        ``{"data": [{"id": ...}, ...]}``."""
        body = [_batch_email(email, i) for i, email in enumerate(emails)]
        options: dict[str, Any] = {"idempotency_key": self.idempotency_key(task)}
        if batch_validation is not None:
            options["batch_validation"] = batch_validation
        return as_json(await client.Batch.send_async(body, options))  # type: ignore[no-any-return]

    @runio.integration_task(
        name="Get Email", effect="read", properties=lambda p: _props(("Email ID", p.get("id")))
    )
    async def get_email(
        self, client: ResendClient, task: runio.Task, /, *, id: str
    ) -> dict[str, Any]:
        """Retrieve email ``id`` (``GET /emails/{id}``): recipients, subject, bodies,
        ``last_event`` (``sent``, ``delivered``, ``scheduled``, ``canceled``...)."""
        return as_json(await client.Emails.get_async(id))  # type: ignore[no-any-return]

    @runio.integration_task(
        name="Update Email",
        effect="idempotent",
        properties=lambda p: _props(
            ("Email ID", p.get("id")), ("Scheduled at", p.get("scheduled_at"))
        ),
    )
    async def update_email(
        self, client: ResendClient, task: runio.Task, /, *, id: str, scheduled_at: str
    ) -> dict[str, Any]:
        """Reschedule scheduled email ``id`` (``PATCH /emails/{id}``) to ``scheduled_at``
        (ISO 8601). Returns ``{"object": "email", "id": ...}``."""
        return as_json(  # type: ignore[no-any-return]
            await client.Emails.update_async({"id": id, "scheduled_at": scheduled_at})
        )

    @runio.integration_task(
        name="Cancel Email",
        effect="idempotent",
        properties=lambda p: _props(("Email ID", p.get("id"))),
    )
    async def cancel_email(
        self, client: ResendClient, task: runio.Task, /, *, id: str
    ) -> dict[str, Any]:
        """Cancel scheduled email ``id`` (``POST /emails/{id}/cancel``). Returns
        ``{"object": "email", "id": ...}``. After an attempt of unknown outcome the email is
        looked up first, so one that is already canceled is not refused."""
        return as_json(await client.Emails.cancel_async(id))  # type: ignore[no-any-return]

    @cancel_email.find_previous
    async def _find_canceled_email(
        self, client: ResendClient, task: runio.Task, /, *, id: str
    ) -> dict[str, Any] | None:
        email = as_json(await client.Emails.get_async(id))
        return {"object": "email", "id": id} if email.get("last_event") == "canceled" else None

    # -- audiences -----------------------------------------------------------------------------
    # Resend now calls audiences "segments" (same ids); the SDK's Audiences methods forward to
    # Segments with a DeprecationWarning, so these call Segments directly.
    @runio.integration_task(
        name="Create Audience",
        effect="idempotent",
        properties=lambda p: _props(("Name", p.get("name"))),
    )
    async def create_audience(
        self, client: ResendClient, task: runio.Task, /, *, name: str
    ) -> dict[str, Any]:
        """Create an audience (a segment) named ``name``. Returns ``{"object", "id",
        "name"}``. Resend takes no idempotency key here: after an attempt of unknown outcome the
        audience that attempt created is looked up (``find_previous``) before creating one, so
        repeating the task is safe."""
        made = as_json(await client.Segments.create_async({"name": name}))
        task.output_properties.append(runio.Property("Audience ID", str(made.get("id"))))
        return made  # type: ignore[no-any-return]

    @create_audience.find_previous
    async def _find_created_audience(
        self, client: ResendClient, task: runio.Task, /, *, name: str
    ) -> dict[str, Any] | None:
        """An audience named ``name`` created since the task's first attempt started."""
        if task.started_at is None:
            return None
        since = task.started_at - _CREATED_MARGIN
        listed = as_json(await client.Segments.list_async())
        for audience in listed.get("data") or []:
            created = _created_at(audience.get("created_at"))
            if audience.get("name") == name and created is not None and created >= since:
                return {"object": "segment", "id": audience["id"], "name": name}
        return None

    @runio.integration_task(
        name="Get Audience", effect="read", properties=lambda p: _props(("Audience", p.get("id")))
    )
    async def get_audience(
        self, client: ResendClient, task: runio.Task, /, *, id: str
    ) -> dict[str, Any]:
        """Retrieve audience (segment) ``id``: ``{"object", "id", "name", "created_at"}``."""
        return as_json(await client.Segments.get_async(id))  # type: ignore[no-any-return]

    @runio.integration_task(
        name="Remove Audience",
        effect="idempotent",
        properties=lambda p: _props(("Audience", p.get("id"))),
    )
    async def remove_audience(
        self, client: ResendClient, task: runio.Task, /, *, id: str
    ) -> dict[str, Any]:
        """Delete audience (segment) ``id``. Returns ``{"object", "id", "deleted": true}``;
        after an attempt of unknown outcome an audience that is already gone counts as
        removed."""
        return as_json(await client.Segments.remove_async(id))  # type: ignore[no-any-return]

    @remove_audience.find_previous
    async def _find_removed_audience(
        self, client: ResendClient, task: runio.Task, /, *, id: str
    ) -> dict[str, Any] | None:
        return await _gone(client.Segments.get_async(id), {"object": "segment", "id": id})

    @runio.integration_task(
        name="List Audiences",
        effect="read",
        properties=lambda p: _props(("Limit", p.get("limit"))),
    )
    async def list_audiences(
        self,
        client: ResendClient,
        task: runio.Task,
        /,
        *,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> dict[str, Any]:
        """List audiences (segments), newest first: all of them, or a page of ``limit``
        (1-100) ``after``/``before`` an id. Returns ``{"object": "list", "data", "has_more"}``."""
        return as_json(  # type: ignore[no-any-return]
            await client.Segments.list_async(_page_params(limit, after, before))
        )

    # -- contacts ------------------------------------------------------------------------------
    @runio.integration_task(name="Create Contact", effect="idempotent", properties=_contact_props)
    async def create_contact(
        self,
        client: ResendClient,
        task: runio.Task,
        /,
        *,
        email: str,
        audience_id: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        unsubscribed: bool | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Create a contact: global, or in audience ``audience_id``; Resend's other parameters
        (``properties``, ``segments``, ``topics``) pass through. Returns ``{"object":
        "contact", "id"}``. Resend takes no idempotency key here: after an attempt of unknown
        outcome the contact is looked up by email (``find_previous``) before creating it, so
        repeating the task is safe."""
        fields = {
            "email": email,
            "audience_id": audience_id,
            "first_name": first_name,
            "last_name": last_name,
            "unsubscribed": unsubscribed,
            **params,
        }
        made = as_json(
            await client.Contacts.create_async({k: v for k, v in fields.items() if v is not None})
        )
        task.output_properties.append(runio.Property("Contact ID", str(made.get("id"))))
        return made  # type: ignore[no-any-return]

    @create_contact.find_previous
    async def _find_created_contact(
        self,
        client: ResendClient,
        task: runio.Task,
        /,
        *,
        email: str,
        audience_id: str | None = None,
        **params: Any,
    ) -> dict[str, Any] | None:
        """The contact with this email (in ``audience_id``), if it exists: a contact's email is
        unique, so it is the one the interrupted attempt created."""
        try:
            found = as_json(await client.Contacts.get_async(audience_id=audience_id, email=email))
        except Exception as exc:
            if _not_found(exc):
                return None
            raise
        return {"object": "contact", "id": found["id"]}

    @runio.integration_task(name="Get Contact", effect="read", properties=_contact_props)
    async def get_contact(
        self,
        client: ResendClient,
        task: runio.Task,
        /,
        *,
        id: str | None = None,
        email: str | None = None,
        audience_id: str | None = None,
    ) -> dict[str, Any]:
        """Retrieve a contact by ``id`` or ``email`` (global, or in ``audience_id``)."""
        _identify(id, email)
        return as_json(  # type: ignore[no-any-return]
            await client.Contacts.get_async(audience_id=audience_id, id=id, email=email)
        )

    @runio.integration_task(name="Update Contact", effect="idempotent", properties=_contact_props)
    async def update_contact(
        self,
        client: ResendClient,
        task: runio.Task,
        /,
        *,
        id: str | None = None,
        email: str | None = None,
        audience_id: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """Update a contact found by ``id`` or ``email``: ``first_name``, ``last_name``,
        ``unsubscribed``, ``properties``. Returns ``{"object": "contact", "id"}``."""
        _identify(id, email)
        fields = {"id": id, "email": email, "audience_id": audience_id, **params}
        return as_json(  # type: ignore[no-any-return]
            await client.Contacts.update_async({k: v for k, v in fields.items() if v is not None})
        )

    @runio.integration_task(name="Remove Contact", effect="idempotent", properties=_contact_props)
    async def remove_contact(
        self,
        client: ResendClient,
        task: runio.Task,
        /,
        *,
        id: str | None = None,
        email: str | None = None,
        audience_id: str | None = None,
    ) -> dict[str, Any]:
        """Delete a contact found by ``id`` or ``email`` (from ``audience_id`` only, when
        given). Returns ``{"object": "contact", "id", "deleted": true}``; after an attempt of
        unknown outcome a contact that is already gone counts as removed."""
        _identify(id, email)
        return as_json(  # type: ignore[no-any-return]
            await client.Contacts.remove_async(audience_id=audience_id, id=id, email=email)
        )

    @remove_contact.find_previous
    async def _find_removed_contact(
        self,
        client: ResendClient,
        task: runio.Task,
        /,
        *,
        id: str | None = None,
        email: str | None = None,
        audience_id: str | None = None,
    ) -> dict[str, Any] | None:
        _identify(id, email)
        lookup = client.Contacts.get_async(audience_id=audience_id, id=id, email=email)
        return await _gone(lookup, {"object": "contact", "id": id or email})

    @runio.integration_task(name="List Contacts", effect="read", properties=_contact_props)
    async def list_contacts(
        self,
        client: ResendClient,
        task: runio.Task,
        /,
        *,
        audience_id: str | None = None,
        segment_id: str | None = None,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> dict[str, Any]:
        """List contacts, newest first: all, those of ``audience_id`` or of ``segment_id``;
        all of them, or a page of ``limit`` (1-100) ``after``/``before`` an id. Returns
        ``{"object": "list", "data", "has_more"}``."""
        return as_json(  # type: ignore[no-any-return]
            await client.Contacts.list_async(
                audience_id=audience_id,
                params=_page_params(limit, after, before),
                segment_id=segment_id,
            )
        )

    # -- domains -------------------------------------------------------------------------------
    @runio.integration_task(
        name="List Domains", effect="read", properties=lambda p: _props(("Limit", p.get("limit")))
    )
    async def list_domains(
        self,
        client: ResendClient,
        task: runio.Task,
        /,
        *,
        limit: int | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> dict[str, Any]:
        """List the account's domains, newest first (name, status, region, capabilities).
        Returns ``{"object": "list", "data", "has_more"}``."""
        return as_json(  # type: ignore[no-any-return]
            await client.Domains.list_async(_page_params(limit, after, before))
        )


def _webhook_sending_to(sdk: ResendClient, url: str) -> dict[str, Any] | None:
    """The account's webhook whose endpoint is ``url``, looked for page by page."""
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = as_json(sdk.Webhooks.list(params))
        webhooks = page.get("data") or []
        found = next((w for w in webhooks if w.get("endpoint") == url), None)
        if found is not None or not page.get("has_more") or not webhooks:
            return found
        params = {"limit": 100, "after": webhooks[-1]["id"]}


async def _gone(lookup: Awaitable[Any], removed: dict[str, Any]) -> dict[str, Any] | None:
    """``removed`` (with ``deleted: true``) when ``lookup`` finds nothing: the interrupted
    attempt removed it; None when the object is still there (remove it now)."""
    try:
        await lookup
    except Exception as exc:
        if _not_found(exc):
            return {**removed, "deleted": True}
        raise
    return None


def _identify(id: str | None, email: str | None) -> None:
    if id is None and email is None:
        raise NonRetryableError(
            "A contact wrapper needs the contact's id=... or email=...; neither was given."
        )


def _not_found(error: BaseException) -> bool:
    translated = from_sdk(error, now=time.time())
    return isinstance(translated, ResendAPIError) and translated.status == 404
