"""``POST /livekit/webhook``: what happens when LiveKit reports an event.

Read top to bottom in three files:

1. here, the route: the body (at most ``MAX_BODY`` bytes, else 413; within
   ``BODY_TIMEOUT``, else 408) is verified before anything else is read from it
   (:mod:`recconsole.server.verification`; 401 otherwise, nothing done), looked at (400
   if it is not an event) and shown to the app (event log);
2. events that change state — egress_started / egress_updated / egress_ended /
   room_finished — are written to the durable queue and only then acknowledged (200);
   others are acknowledged and ignored;
3. :mod:`recconsole.server.effects` applies the queued ones.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from livekit import api

from recconsole.core.events import EventBus, WebhookReceived
from recconsole.core.livekit_server import parse_metadata
from recconsole.server.durable_queue import DurableQueue
from recconsole.server.verification import (
    Peek,
    Unauthorized,
    WebhookVerifier,
    event_key,
    peek_event,
)

log = logging.getLogger(__name__)

MAX_BODY: Final = 1024 * 1024
BODY_TIMEOUT: Final = 10.0  # a sender slower than this gets 408, not a socket held forever
ACTED_ON: Final = frozenset({"egress_started", "egress_updated", "egress_ended", "room_finished"})


@dataclass
class Listener:
    """What the webhook route needs: how to verify, where to queue, whom to tell."""

    verifier: WebhookVerifier
    queue: DurableQueue
    events: EventBus


LISTENER: Final = web.AppKey("listener", Listener)


async def receive_webhook(request: web.Request) -> web.Response:
    listener = request.app[LISTENER]
    if request.content_length is not None and request.content_length > MAX_BODY:
        return web.Response(status=413, text="webhook too large")
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return web.Response(status=413, text="webhook too large")
    except TimeoutError:
        log.warning("gave up on a webhook from %s: its body took over %g s",
                    request.remote, BODY_TIMEOUT)
        return web.Response(status=408, text="request body too slow")
    try:
        listener.verifier.verify(body, request.headers.get("Authorization", ""))
    except Unauthorized as err:
        log.warning("refused a webhook from %s: %s", request.remote, err)
        return web.Response(status=401, text="invalid signature")
    try:
        event = peek_event(body)
    except ValueError as err:
        log.warning("refused a signed but malformed webhook: %s", err)
        return web.Response(status=400, text="malformed webhook")
    room = event.room
    listener.events.publish(WebhookReceived(event.event, room, event.egress_id,
                                            _detail(event), _room_status(event)))
    # One log line per event: here for one nothing is done about, when applied (or given
    # up) for the others.
    acted_on = event.event in ACTED_ON and room
    (log.debug if acted_on else log.info)(
        "webhook %s room=%r egress=%s%s", event.event or "?", room or "-",
        event.egress_id or "-", "" if acted_on else ": nothing to do")
    if not acted_on:
        return web.Response(text="ignored")
    await listener.queue.put(event_key(event.id, body), room, event.event, body)
    return web.Response(text="ok")


def _room_status(event: Peek) -> str:
    """What the event's room metadata says of its recording (someone joining: is a
    recording going on that should take them in?)."""
    if event.event != "participant_joined" or not event.room_metadata:
        return ""
    status = parse_metadata(event.room_metadata).get("recordingStatus")
    return status if isinstance(status, str) else ""


def _detail(event: Peek) -> str:
    if event.egress_id:
        return event.egress_status or api.EgressStatus.Name(0)
    return event.participant


def add_webhook_routes(app: web.Application) -> None:
    app.router.add_post("/livekit/webhook", receive_webhook)
