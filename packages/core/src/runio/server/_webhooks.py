"""``POST /api/v1/webhooks/{integration_id}``: vendors' deliveries become runio events.

The integration instance is the one the app's jobs name in their webhook triggers
(``stripe.on_event(...)``); its ``verify_webhook`` checks the vendor's signature with its signing
secret. A verified delivery is stored as the event ``"<id>:<type>"`` with the id
``"<id>:<delivery id>"`` (a redelivery creates nothing), then acknowledged. No API key: the
signature is the credential. Refusals are 4xx and store nothing; a signed body the integration
cannot read is a 400, never a 5xx; the database being unreachable is a 503, so the vendor
delivers again later.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from .._client import Client
from ..errors import (
    ConfigurationError,
    IntegrationSettingError,
    InvalidPayloadError,
    StoreError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from ..integrations import Integration, WebhookDelivery, WebhookReply, WebhookRequest
from ..integrations._webhooks import event_id, event_name, webhook_sources
from ._models import ErrorOut

log = logging.getLogger("runio.server.webhooks")

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

IntegrationId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9_.:-]{1,200}$",
        description="The id of the integration instance the app's triggers name (e.g. stripe)",
    ),
]


def webhook_integrations(client: Client) -> dict[str, Integration[Any]]:
    """The integration instances whose webhooks reach the app, by id (``webhook_sources``)."""
    return webhook_sources(list(client.jobs.values()))


def warn_unconfigured(client: Client) -> None:
    """Log, at start, each webhook endpoint that will answer 503 for lack of its secret."""
    for integration_id, integration in webhook_integrations(client).items():
        name = type(integration).webhook_secret_setting
        try:
            integration.require_setting(name)
        except ConfigurationError as exc:
            log.warning(
                "webhooks of %s (%s) cannot be verified until its signing secret is set: %s",
                integration.name,
                integration_id,
                exc,
            )


def _answer(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


@router.post(
    "/webhooks/{integration_id}",
    summary="Receive a vendor's webhook delivery",
    responses={
        200: {"description": "Stored (or a redelivery of a stored event, or a handshake)"},
        400: {"model": ErrorOut, "description": "A signed body that is not the vendor's event"},
        401: {"model": ErrorOut, "description": "Missing, wrong or stale signature"},
        404: {"model": ErrorOut, "description": "No trigger of this app names the integration"},
        413: {"model": ErrorOut, "description": "The event is larger than the app accepts"},
        422: {"model": ErrorOut, "description": "The event fails a listening job's schema"},
        503: {"model": ErrorOut, "description": "The database or the signing secret is missing"},
    },
)
async def receive_webhook(integration_id: IntegrationId, request: Request) -> JSONResponse:
    """Verify a delivery's signature, store it as an event (starting the jobs whose triggers
    match) and acknowledge it. Redeliveries of a stored event create nothing."""
    client: Client = request.app.state.client
    integrations = webhook_integrations(client)
    integration = integrations.get(integration_id)
    if integration is None:
        known = ", ".join(sorted(integrations)) or "none"
        return _answer(
            404,
            f"No job of app {client.id!r} is triggered by webhooks of an integration with id "
            f"{integration_id!r} or declares it (integrations with webhooks: {known}).",
        )
    body = await request.body()
    if len(body) > client.max_payload_size:
        return _answer(
            413,
            f"The delivery is {len(body):,} bytes, more than the {client.max_payload_size:,}-byte "
            "limit of an event; raise it with runio.Client(max_payload_size=...).",
        )
    delivery_request = WebhookRequest(
        headers=dict(request.headers),
        body=body,
        received_at=client.clock.now(),
        url=str(request.url),
    )
    what = f"{integration.name} webhook ({integration_id})"
    try:
        verified = integration.verify_webhook(delivery_request)
    except WebhookSignatureError as exc:
        log.warning("%s refused: %s", what, exc)
        return _answer(401, f"Refused: {exc}")
    except WebhookPayloadError as exc:
        log.warning("%s refused: %s", what, exc)
        return _answer(400, f"Refused: {exc}")
    except IntegrationSettingError as exc:
        log.error("%s cannot be verified: %s", what, exc)
        return _answer(503, f"This endpoint is not configured yet: {exc}")
    except Exception as exc:  # a body the integration's reader chokes on is the sender's fault
        log.warning("%s could not be read: %s: %s", what, type(exc).__name__, exc)
        return _answer(400, f"Refused: the delivery could not be read ({type(exc).__name__}).")
    if isinstance(verified, WebhookReply):
        return JSONResponse(verified.body, status_code=verified.status)
    return await _store(client, integration_id, verified, what)


async def _store(
    client: Client, integration_id: str, delivery: WebhookDelivery, what: str
) -> JSONResponse:
    name = event_name(integration_id, delivery.type)
    listening = [job for job in client.jobs.values() if job.trigger.name == name]
    matched = any(job.trigger.matches(delivery.payload) for job in listening)
    if not matched:
        store = await client._ready()
        if not await store.has_event_waits(client.id, name):
            why = "their filters leave it out" if listening else "no job listens to it"
            log.info("%s: %s %s ignored: %s", what, delivery.type, delivery.id, why)
            detail = (
                f"No trigger of app {client.id!r} listening to {name!r} matches this event "
                "(their filters leave it out), and no run waits for it."
                if listening
                else f"No job of app {client.id!r} listens to {name!r}, and no run waits for it."
            )
            return JSONResponse({"stored": False, "detail": detail})
    try:
        event = await client.send_event_async(
            name, delivery.payload, id=event_id(integration_id, delivery.id)
        )
    except InvalidPayloadError as exc:
        log.warning("%s: %s %s refused: %s", what, delivery.type, delivery.id, exc)
        return _answer(422, str(exc))
    except StoreError:
        raise  # 503: the vendor delivers again later
    except ConfigurationError as exc:  # not storable (too large once decoded, bad text)
        log.warning("%s: %s %s refused: %s", what, delivery.type, delivery.id, exc)
        return _answer(400, str(exc))
    log.info("%s: %s %s stored as %s", what, delivery.type, delivery.id, event.id)
    return JSONResponse({"stored": True, "event_id": event.id, "run_ids": list(event.run_ids)})
