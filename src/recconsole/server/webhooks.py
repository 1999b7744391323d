"""``POST /livekit/webhook``: what happens when LiveKit reports an event.

1. The body (at most ``MAX_BODY`` bytes, else 413) is verified against the
   ``Authorization`` JWT and its SHA-256 claim with the API secret before anything
   else is read from it (401 otherwise, nothing done).
2. It is parsed (400 if malformed) and shown to the app (event log).
3. Events that change state — egress_started / egress_updated / egress_ended /
   room_finished — are written to the durable queue and only then acknowledged
   (200). Others are acknowledged and ignored.
4. :class:`WebhookEffects` applies queued effects: the recording's metadata file
   (only for a file that exists), the room's ``recordingStatus`` (never backwards
   for one egress, and following the room's live recordings, not a late event of
   an old one), and the release of the recording lock that egress held.
   An effect that can never succeed (a body that does not parse, a file name that
   would leave RECORDINGS_PATH) raises PermanentError: dead-lettered, never retried.
"""

from __future__ import annotations

import asyncio
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

from recconsole.core.errors import EgressUnavailable, RoomNotFound
from recconsole.core.events import (
    EventBus,
    RecordingSaved,
    RecordingStatusChanged,
    WebhookReceived,
)
from recconsole.core.livekit_server import LiveKitServer, parse_metadata
from recconsole.core.recording_info import RecordingInfo, RecordingNameError
from recconsole.core.recording_limits import StartedRecordings
from recconsole.core.recording_status import (
    RecordingStatus,
    egress_is_active,
    status_from_egress,
)
from recconsole.server.durable_queue import DurableQueue, Effect, PermanentError
from recconsole.server.forwarding import FORWARD_KIND, Forwarder
from recconsole.server.locks import (
    EffectClaims,
    EgressLedger,
    LocalEffectClaims,
    RecordingLocks,
)
from recconsole.storage.base import KeyRefused, ObjectNotFound
from recconsole.storage.catalog import RecordingsCatalog

log = logging.getLogger(__name__)

MAX_BODY: Final = 1024 * 1024
BODY_TIMEOUT: Final = 10.0  # a sender slower than this gets 408, not a socket held forever
ACTED_ON: Final = frozenset({"egress_started", "egress_updated", "egress_ended", "room_finished"})


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
        event = parse_event(body)
    except ValueError as err:
        log.warning("refused a signed but malformed webhook: %s", err)
        return web.Response(status=400, text="malformed webhook")
    room = room_of(event)
    log.info("webhook %s room=%r egress=%s", event.event or "?", room or "-",
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


_LIVE_ORDER: Final = (RecordingStatus.STARTED, RecordingStatus.STARTING, RecordingStatus.STOPPING)


class WebhookEffects:
    """Applies one queued webhook: metadata file, status, lock. Raises to be retried.

    Acts on rooms this app created, and on recordings a console of this app
    started (``started``) whoever created their room.
    """

    def __init__(
        self,
        server: LiveKitServer,
        catalog: RecordingsCatalog,
        ledger: EgressLedger,
        locks: RecordingLocks,
        events: EventBus,
        claims: EffectClaims | None = None,
        forwarder: Forwarder | None = None,
        started: StartedRecordings | None = None,
    ) -> None:
        self.server, self.catalog, self.ledger = server, catalog, ledger
        self.locks, self.events = locks, events
        self.claims: EffectClaims = claims or LocalEffectClaims()
        self.forwarder = forwarder
        self.started = started
        self._ours: dict[str, bool] = {}  # room name -> created by this app

    async def __call__(self, effect: Effect) -> None:
        if effect.kind == FORWARD_KIND:
            if self.forwarder is not None:
                await self.forwarder.deliver(effect)
            return
        claim = await self.claims.claim(effect.event_id)
        if claim == "done":
            log.info("skipped %s room=%r: applied by another listener", effect.kind, effect.room)
            return
        if claim == "busy":
            raise EffectBusy("another listener is applying this event")
        try:
            await self._apply(effect)
        except BaseException:
            await self.claims.abandon(effect.event_id)
            raise
        await self.claims.finish(effect.event_id)
        log.info("applied %s room=%r", effect.kind, effect.room)

    async def _apply(self, effect: Effect) -> None:
        try:
            event = parse_event(effect.body)
        except ValueError as err:
            raise PermanentError(str(err)) from None
        room = effect.room
        if event.event == "room_finished":
            await self.locks.release(room)  # the room is gone: nothing records it any more
            return
        egress = event.egress_info
        if not await self._is_ours(event):
            return
        if event.event == "egress_ended":
            await self._save_metadata(egress)
        live: list[api.EgressInfo] = []
        if await self.ledger.advance(egress.egress_id, egress.updated_at or egress.started_at):
            status, error, live = await self._room_status(room, egress)
            with contextlib.suppress(RoomNotFound):  # a room that is gone has no metadata
                await self.server.set_recording_status(room, status, error or None)
            self.events.publish(RecordingStatusChanged(room, status, egress.egress_id, error))
        if event.event == "egress_ended":
            await self._release(room, egress, live)
            if self.started is not None:
                await self.started.finish(egress.egress_id)
        if self.forwarder is not None:
            await self.forwarder.enqueue(effect.event_id, event.event, egress)

    async def _save_metadata(self, egress: api.EgressInfo) -> None:
        """The tutorial's metadata file, for a file that is in storage.

        An egress aborted before it recorded, or failed before uploading, has no file
        (its result has no size): no metadata for a recording that does not exist.
        """
        if not egress.file_results or egress.file_results[0].size <= 0:
            log.info("egress %s ended %s with no file: no metadata", egress.egress_id,
                     api.EgressStatus.Name(egress.status))
            return
        info = RecordingInfo.from_egress(egress, self.catalog.recordings_path)
        try:
            key = self.catalog.recording_key(info.name)
        except RecordingNameError as err:
            raise PermanentError(f"recording of egress {egress.egress_id}: {err}") from None
        try:
            if egress.status != api.EgressStatus.EGRESS_COMPLETE:
                try:
                    await self.catalog.store.head(key)
                except ObjectNotFound:
                    log.info("egress %s ended %s and its file is not in storage: no metadata",
                             egress.egress_id, api.EgressStatus.Name(egress.status))
                    return
            await self.catalog.save_metadata(info)
        except KeyRefused as err:  # the store will never take this name
            raise PermanentError(f"metadata of {egress.egress_id}: {err}") from None
        self.events.publish(RecordingSaved(info.name, egress.room_name))

    async def _room_status(
        self, room: str, egress: api.EgressInfo
    ) -> tuple[RecordingStatus, str, list[api.EgressInfo]]:
        """What the room's status is now: recording while any of its recordings is live
        (an old recording's late news never says STOPPED over a new one), else how this
        one ended. Also returns the other live recordings."""
        own = status_from_egress(egress.status)
        try:
            listed = await self.server.list_egress(room, active=True)
        except EgressUnavailable:
            listed = []
        live = [e for e in listed if e.egress_id != egress.egress_id
                and (egress_is_active(e) or e.status == api.EgressStatus.EGRESS_ENDING)]
        statuses = {status_from_egress(e.status) for e in live}
        if own.busy:
            statuses.add(own)
        for status in _LIVE_ORDER:
            if status in statuses:
                return status, "", live
        return own, egress.error if own is RecordingStatus.FAILED else "", live

    async def _release(self, room: str, egress: api.EgressInfo, live: list[api.EgressInfo]) -> None:
        """Free the room's lock if this recording held it, or if it names a recording
        that is no longer live (a start in progress keeps it)."""
        if await self.locks.release(room, egress.egress_id):
            return
        owner = await self.locks.owner(room)
        if owner is None or ":" in owner:  # free, or a start's token: not ours to free
            return
        if all(e.egress_id != owner for e in live):
            await self.locks.release(room, owner)

    async def _is_ours(self, event: WebhookEvent) -> bool:
        """Created by this app (the event's room metadata, else the room itself), or a
        recording a console of this app started."""
        name = room_of(event)
        if self.started is not None and event.egress_info.egress_id and await self.started.get(
                event.egress_info.egress_id) is not None:
            return True
        if event.room.metadata:
            self._ours[name] = parse_metadata(event.room.metadata).get(
                "createdBy") == self.server.app_name
        elif name not in self._ours:
            room = await self.server.get_room(name)
            if room is None:
                log.info("webhook for room %r, which is gone and unknown: ignored", name)
                return False
            self._ours[name] = self.server.created_by_app(room)
        return self._ours[name]
