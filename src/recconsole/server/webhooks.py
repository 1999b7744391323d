"""``POST /livekit/webhook``: what happens when LiveKit reports an event.

1. The body (at most ``MAX_BODY`` bytes, else 413) is verified against the
   ``Authorization`` JWT and its SHA-256 claim with the API secret before anything
   else is read from it (401 otherwise, nothing done).
2. It is parsed (400 if malformed) and shown to the app (event log).
3. Events that change state — egress_started / egress_updated / egress_ended /
   room_finished — are written to the durable queue and only then acknowledged
   (200). Others are acknowledged and ignored.
4. :class:`WebhookEffects` applies queued effects: room ``recordingStatus``
   (never backwards for one egress), the recording's metadata file, and the
   release of the room's recording lock.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from google.protobuf.json_format import Parse, ParseError
from livekit import api
from livekit.protocol.webhook import WebhookEvent

from recconsole.core.errors import RoomNotFound
from recconsole.core.events import EventBus, RecordingStatusChanged
from recconsole.core.livekit_server import LiveKitServer, parse_metadata
from recconsole.core.recording_info import RecordingInfo
from recconsole.core.recording_status import status_from_egress
from recconsole.server.durable_queue import DurableQueue, Effect
from recconsole.server.forwarding import FORWARD_KIND, Forwarder
from recconsole.server.locks import (
    EffectClaims,
    EgressLedger,
    LocalEffectClaims,
    RecordingLocks,
)
from recconsole.storage.catalog import RecordingsCatalog

log = logging.getLogger(__name__)

MAX_BODY: Final = 1024 * 1024
ACTED_ON: Final = frozenset({"egress_started", "egress_updated", "egress_ended", "room_finished"})


@dataclass(frozen=True)
class WebhookReceived:
    """A verified webhook, for the event log (no secrets, no URLs)."""

    event: str
    room: str
    egress_id: str = ""
    detail: str = ""


@dataclass(frozen=True)
class RecordingSaved:
    """A recording's metadata file was written: recordings lists should refresh."""

    name: str
    room: str


class EffectBusy(Exception):
    """Another process holds this event right now; try again later."""


class Unauthorized(Exception):
    """The webhook is not signed with our API key and secret."""


class WebhookVerifier:
    """Checks LiveKit's signature: a JWT from our key whose ``sha256`` claim is the body's.

    The same two checks as livekit-api's WebhookReceiver (its TokenVerifier, then
    the body hash), done on the raw bytes so that a signed body which is not even
    UTF-8 is told apart (400) from an unsigned one (401).
    """

    def __init__(self, api_key: str, api_secret: str) -> None:
        self._tokens = api.TokenVerifier(api_key, api_secret)

    def verify(self, body: bytes, authorization: str) -> None:
        if not authorization:
            raise Unauthorized("no Authorization header")
        try:
            claims = self._tokens.verify(authorization.removeprefix("Bearer ").strip())
        except Exception as err:  # noqa: BLE001 - PyJWT and livekit-api raise many kinds
            raise Unauthorized(f"bad token ({type(err).__name__})") from None
        if not claims.sha256:
            raise Unauthorized("token without a body hash")
        try:
            expected = base64.b64decode(claims.sha256, validate=True)
        except ValueError:
            raise Unauthorized("unreadable body hash") from None
        if not hmac.compare_digest(hashlib.sha256(body).digest(), expected):
            raise Unauthorized("body does not match its signature")


def parse_event(body: bytes) -> WebhookEvent:
    """The event of a verified body; ValueError when it is not one."""
    try:
        return Parse(body.decode("utf-8"), WebhookEvent(), ignore_unknown_fields=True)
    except (ParseError, UnicodeDecodeError, RecursionError) as err:
        raise ValueError(f"malformed webhook: {str(err)[:200]}") from None


def room_of(event: WebhookEvent) -> str:
    return event.room.name or event.egress_info.room_name or event.ingress_info.room_name


def event_key(event: WebhookEvent, body: bytes) -> str:
    """The event's id, or the body's hash when a sender gives none."""
    return event.id or "sha256:" + hashlib.sha256(body).hexdigest()


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
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return web.Response(status=413, text="webhook too large")
    try:
        listener.verifier.verify(body, request.headers.get("Authorization", ""))
    except Unauthorized as err:
        log.warning("refused a webhook from %s: %s", request.remote, err)
        return web.Response(status=401, text="invalid signature")
    try:
        event = parse_event(body)
    except ValueError as err:
        log.warning("refused a signed but malformed webhook: %s", err)
        return web.Response(status=400, text="malformed webhook")
    room = room_of(event)
    log.info("webhook %s room=%s egress=%s", event.event or "?", room or "-",
             event.egress_info.egress_id or "-")
    listener.events.publish(WebhookReceived(event.event, room, event.egress_info.egress_id,
                                            _detail(event)))
    if event.event not in ACTED_ON or not room:
        return web.Response(text="ignored")
    await listener.queue.put(event_key(event, body), room, event.event, body)
    return web.Response(text="ok")


def _detail(event: WebhookEvent) -> str:
    if event.egress_info.egress_id:
        return api.EgressStatus.Name(event.egress_info.status)
    if event.participant.identity:
        return event.participant.identity
    return ""


def add_webhook_routes(app: web.Application) -> None:
    app.router.add_post("/livekit/webhook", receive_webhook)


class WebhookEffects:
    """Applies one queued webhook: status, metadata file, lock. Raises to be retried."""

    def __init__(
        self,
        server: LiveKitServer,
        catalog: RecordingsCatalog,
        ledger: EgressLedger,
        locks: RecordingLocks,
        events: EventBus,
        claims: EffectClaims | None = None,
        forwarder: Forwarder | None = None,
    ) -> None:
        self.server, self.catalog, self.ledger = server, catalog, ledger
        self.locks, self.events = locks, events
        self.claims: EffectClaims = claims or LocalEffectClaims()
        self.forwarder = forwarder
        self._ours: dict[str, bool] = {}  # room name -> created by this app

    async def __call__(self, effect: Effect) -> None:
        if effect.kind == FORWARD_KIND:
            if self.forwarder is not None:
                await self.forwarder.deliver(effect)
            return
        claim = await self.claims.claim(effect.event_id)
        if claim == "done":
            log.info("skipped %s room=%s: applied by another listener", effect.kind, effect.room)
            return
        if claim == "busy":
            raise EffectBusy("another listener is applying this event")
        try:
            await self._apply(effect)
        except BaseException:
            await self.claims.abandon(effect.event_id)
            raise
        await self.claims.finish(effect.event_id)
        log.info("applied %s room=%s", effect.kind, effect.room)

    async def _apply(self, effect: Effect) -> None:
        event = parse_event(effect.body)
        if not await self._is_ours(event):
            return
        room = effect.room
        if event.event == "room_finished":
            await self.locks.release(room)
            return
        egress = event.egress_info
        if event.event == "egress_ended" and egress.file_results:
            info = RecordingInfo.from_egress(egress)
            await self.catalog.save_metadata(info)
            self.events.publish(RecordingSaved(info.name, room))
        if await self.ledger.advance(egress.egress_id, egress.updated_at or egress.started_at):
            status = status_from_egress(egress.status)
            with contextlib.suppress(RoomNotFound):  # a room that is gone has no metadata
                await self.server.set_recording_status(room, status, egress.error or None)
            self.events.publish(RecordingStatusChanged(room, status, egress.egress_id,
                                                       egress.error))
        if event.event == "egress_ended":
            await self.locks.release(room)
        if self.forwarder is not None:
            await self.forwarder.enqueue(effect.event_id, event.event, egress)

    async def _is_ours(self, event: WebhookEvent) -> bool:
        """Created by this app? The event's room metadata, else the room itself."""
        name = room_of(event)
        if event.room.metadata:
            self._ours[name] = parse_metadata(event.room.metadata).get(
                "createdBy") == self.server.app_name
        elif name not in self._ours:
            room = await self.server.get_room(name)
            if room is None:
                log.info("webhook for room %s, which is gone and unknown: ignored", name)
                return False
            self._ours[name] = self.server.created_by_app(room)
        return self._ours[name]
