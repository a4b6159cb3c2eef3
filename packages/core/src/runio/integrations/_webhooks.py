"""What an integration's webhooks are made of: the request a vendor sends, the delivery read from
it once its signature checks out, the reply to a handshake, a registration, and ``WebhookTrigger``
(the job trigger an integration's ``on_...`` methods build).

A verified delivery becomes a runio event named ``"<integration id>:<vendor event type>"`` (e.g.
``"stripe:invoice.paid"``) whose id is ``"<integration id>:<vendor delivery id>"`` and whose
payload is the vendor's event as sent, so a redelivery of the same event creates no second run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .._triggers import EventTrigger, check_filter, job_text
from ..errors import JobDefinitionError

if TYPE_CHECKING:
    from ._base import Integration


@dataclass(frozen=True, kw_only=True)
class WebhookRequest:
    """A delivery as it reached the endpoint, before anything is trusted."""

    headers: Mapping[str, str]
    """The request's headers; ``header(name)`` reads one whatever its case."""
    body: bytes
    """The raw body: signatures are computed over these exact bytes."""
    received_at: float
    """When it arrived, in Unix seconds on the client's clock: compare signature timestamps
    with this (not ``time.time()``), so tests can move time with a ``TestClock``."""
    url: str = ""
    """The URL it was sent to."""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True, kw_only=True)
class WebhookDelivery:
    """A verified delivery of one vendor event."""

    id: str
    """The vendor's id of the event or delivery, the same on every redelivery (Stripe's
    ``evt_...``, ``X-GitHub-Delivery``, Slack's ``event_id``, ``svix-id``)."""
    type: str
    """The vendor's event type, as its webhook settings name it (``invoice.paid``, ``issues``,
    ``app_mention``, ``email.delivered``)."""
    payload: Any
    """The vendor's event, JSON-decoded, as sent: what jobs receive and ``ctx.event.payload``."""


@dataclass(frozen=True, kw_only=True)
class WebhookReply:
    """A verified request that is not an event (a URL check, a ping): answered with ``body``
    (JSON) and ``status``; nothing is stored."""

    body: Any = None
    status: int = 200


@dataclass(frozen=True, kw_only=True)
class WebhookRegistration:
    """An endpoint registered with the vendor by ``Integration.register_webhook``."""

    id: str
    """The vendor's id of the endpoint (or hook)."""
    url: str
    events: tuple[str, ...]
    secret: str | None = None
    """The signing secret, when the vendor made it (Stripe shows it once, at creation)."""


@dataclass(frozen=True, kw_only=True)
class WebhookTrigger(EventTrigger):
    """Runs the job for each verified delivery of ``event_type`` from ``integration``'s vendor
    (whose payload matches ``filter``). Built by an integration's ``webhook_trigger`` (its
    ``on_...`` methods), never directly."""

    integration: Integration[Any] = field(compare=False, repr=False)
    event_type: str

    def describe(self) -> str:
        return f"{self.integration.name} webhook {self.event_type!r} ({self.integration.id})"

    def stored_info(self) -> dict[str, Any]:
        return {
            "webhook": {
                "integration": self.integration.id,
                "vendor": self.integration.name,
                "event_type": self.event_type,
            }
        }


def event_name(integration_id: str, event_type: str) -> str:
    """The runio event a verified delivery of ``event_type`` becomes."""
    return f"{integration_id}:{event_type}"


def event_id(integration_id: str, delivery_id: str) -> str:
    """The runio event id of a delivery: stable across the vendor's redeliveries."""
    return f"{integration_id}:{delivery_id}"


def make_trigger(
    integration: Integration[Any],
    event_type: str,
    *,
    schema: type[BaseModel] | None,
    filter: Mapping[str, Any] | None,
) -> WebhookTrigger:
    where = f"{type(integration).__name__}.webhook_trigger"
    if not isinstance(event_type, str) or not event_type.strip():
        raise JobDefinitionError(
            f"{where} needs the vendor's event type, e.g. 'invoice.paid'; got {event_type!r}."
        )
    job_text(event_type, f"{where}: the event type")
    if schema is not None and not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise JobDefinitionError(
            f"{where}(schema=...) must be a pydantic BaseModel subclass, got {schema!r}."
        )
    name = event_name(integration.id, event_type)
    if filter is not None:
        check_filter(filter, path=name)
    return WebhookTrigger(
        name=name, schema=schema, filter=filter, integration=integration, event_type=event_type
    )


def webhook_triggers(jobs: Sequence[Any]) -> dict[str, list[tuple[Any, WebhookTrigger]]]:
    """The jobs started by webhooks, by integration id: ``{id: [(job, trigger), ...]}``."""
    out: dict[str, list[tuple[Any, WebhookTrigger]]] = {}
    for job in jobs:
        trigger = getattr(job, "trigger", None)
        if isinstance(trigger, WebhookTrigger):
            out.setdefault(trigger.integration.id, []).append((job, trigger))
    return out


def webhook_sources(jobs: Sequence[Any]) -> dict[str, Integration[Any]]:
    """The integration instances whose webhooks reach an app with these jobs, by id: those of
    the jobs' webhook triggers, then those the jobs declare (``integrations=``) that verify
    webhooks, whose events runs can wait for (``io.wait_for_event``)."""
    found = {
        integration_id: pairs[0][1].integration
        for integration_id, pairs in webhook_triggers(jobs).items()
    }
    for job in jobs:
        for instance in getattr(job, "integrations", {}).values():
            if offers_webhooks(instance) and instance.id not in found:
                found[instance.id] = instance
    return found


def offers_webhooks(integration: Integration[Any]) -> bool:
    """Whether the integration's class implements ``verify_webhook``."""
    return bool(type(integration).__runio_spec__.offers_webhooks)  # type: ignore[attr-defined]
