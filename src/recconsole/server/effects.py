"""What a queued webhook changes: the recording's metadata file (only for a file that
exists) and its thumbnail, the room's ``recordingStatus`` (never backwards for one
egress, and following the room's live recordings, not a late event of an old one), and
the release of the recording lock that egress held.

An effect that can never succeed (a body that does not parse, a file name that would
leave RECORDINGS_PATH, a key the store refuses) raises PermanentError: dead-lettered,
never retried. Anything else raised is retried by the durable queue.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Final

from livekit import api
from livekit.protocol.webhook import WebhookEvent

from recconsole.core.errors import EgressUnavailable, RoomNotFound
from recconsole.core.events import EventBus, RecordingSaved, RecordingStatusChanged
from recconsole.core.livekit_server import LiveKitServer, parse_metadata
from recconsole.core.recording_info import RecordingInfo, RecordingNameError
from recconsole.core.recording_limits import StartedRecordings
from recconsole.core.recording_status import (
    RecordingStatus,
    egress_is_active,
    status_from_egress,
)
from recconsole.server.durable_queue import Effect, PermanentError
from recconsole.server.forwarding import FORWARD_KIND, Forwarder
from recconsole.server.locks import (
    EffectClaims,
    EgressLedger,
    LocalEffectClaims,
    RecordingLocks,
)
from recconsole.server.verification import parse_event, room_of
from recconsole.storage.base import KeyRefused, ObjectNotFound
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.thumbnails import Thumbnails

log = logging.getLogger(__name__)


class EffectBusy(Exception):
    """Another process holds this event right now; try again later."""


_LIVE_ORDER: Final = (RecordingStatus.STARTED, RecordingStatus.STARTING, RecordingStatus.STOPPING)


class WebhookEffects:
    """Applies one queued webhook: metadata file, status, lock, thumbnail. Raises to be
    retried.

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
        thumbnails: Thumbnails | None = None,
    ) -> None:
        self.server, self.catalog, self.ledger = server, catalog, ledger
        self.locks, self.events = locks, events
        self.claims: EffectClaims = claims or LocalEffectClaims()
        self.forwarder = forwarder
        self.started = started
        self.thumbnails = thumbnails or Thumbnails(catalog)
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
        saved = await self._save_metadata(egress) if event.event == "egress_ended" else None
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
        if saved is not None:
            # After the status: a moderator waits for that, not for the picture. Before
            # telling the tables, so they show the stored thumbnail, not make their own.
            await self.thumbnails.save(saved.name)
            self.events.publish(RecordingSaved(saved.name, egress.room_name))
        if self.forwarder is not None:
            await self.forwarder.enqueue(effect.event_id, event.event, egress)

    async def _save_metadata(self, egress: api.EgressInfo) -> RecordingInfo | None:
        """The tutorial's metadata file, for a file that is in storage (its row, or None
        when there is no file).

        An egress aborted before it recorded, or failed before uploading, has no file
        (its result has no size): no metadata for a recording that does not exist.
        """
        produced = egress.file_results or egress.segment_results
        if not produced or produced[0].size <= 0:
            log.info("egress %s ended %s with no file: no metadata", egress.egress_id,
                     api.EgressStatus.Name(egress.status))
            if produced and egress.status != api.EgressStatus.EGRESS_COMPLETE:
                await self._remove_empty(egress)
            return None
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
                    return None
            await self.catalog.save_metadata(info)
        except KeyRefused as err:  # the store will never take this name
            raise PermanentError(f"metadata of {egress.egress_id}: {err}") from None
        return info

    async def _remove_empty(self, egress: api.EgressInfo) -> None:
        """An egress that failed before recording anything may still have uploaded an
        empty file (a live stream refused at once, say): remove it, so no recording
        that holds nothing is listed."""
        try:
            info = RecordingInfo.from_egress(egress, self.catalog.recordings_path)
            self.catalog.recording_key(info.name)
        except (ValueError, RecordingNameError):
            return
        try:
            if (await self.catalog.store.head(self.catalog.recording_key(info.name))).size > 0:
                return  # something was written after all: keep it, listed as it is
        except ObjectNotFound:
            return
        await self.catalog.delete(info.name)
        log.info("egress %s failed before recording: its empty file %s removed",
                 egress.egress_id, info.name)

    async def _room_status(
        self, room: str, egress: api.EgressInfo
    ) -> tuple[RecordingStatus, str, list[api.EgressInfo]]:
        """What the room's status is now: recording while any of its recordings is live
        (an old recording's late news never says STOPPED over a new one), else how this
        one ended. Also returns the other live recordings."""
        own = status_from_egress(egress.status)
        if own is RecordingStatus.STARTED:  # nothing outranks recording: no need to ask
            return own, "", []
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
