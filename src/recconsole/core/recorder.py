"""Starting and stopping a room's recording (a RoomComposite egress to an MP4 file).

One recording per room: a per-room lock is held across "is anything recording?"
and "start", so a double click or a click during STARTING never starts two. A
start that does not become ACTIVE within ``start_timeout`` is stopped and marked
FAILED; a room whose metadata says "recording" while no egress is active is set
back to STOPPED by :meth:`Recorder.reconcile`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from livekit import api

from recconsole.core.errors import (
    AlreadyRecording,
    ConsoleError,
    EgressUnavailable,
    NotRecording,
)
from recconsole.core.events import EventBus, RecordingStatusChanged, StatusPolled
from recconsole.core.livekit_server import LiveKitServer, parse_metadata
from recconsole.core.recording_status import RecordingStatus, egress_is_active, status_from_egress
from recconsole.settings import Settings

log = logging.getLogger(__name__)

FILE_TEMPLATE = "{room_name}-{room_id}-{time}.mp4"


class RecordingLocks(Protocol):
    """"This room is being recorded", shared by consoles and listeners (see server.locks)."""

    async def acquire(self, room: str, ttl: float) -> bool: ...

    async def release(self, room: str) -> None: ...


class RoomLocks(Protocol):
    """Mutual exclusion per room, in one process or shared between processes."""

    def hold(self, room: str) -> AbstractAsyncContextManager[None]: ...


class LocalRoomLocks:
    """Per-room asyncio locks for one process."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, room: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(room, asyncio.Lock())
        self._users[room] = self._users.get(room, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[room] -= 1
            if not self._users[room]:  # forget idle rooms
                del self._users[room], self._locks[room]


@dataclass(frozen=True)
class StartOptions:
    """Optional limits a moderator sets when starting."""

    max_duration: float | None = None  # seconds, then stop by itself
    stop_when_empty_after: float | None = None  # seconds with nobody but the console left


Upload = api.S3Upload | api.AzureBlobUpload | None


def upload_from_settings(settings: Settings) -> Upload:
    """The egress upload block RECORDING_UPLOAD asks for (None: the egress's own storage).

    Azure's block has no endpoint field, so an egress uploads only to real Azure.
    """
    if settings.recording_upload == "s3":
        return api.S3Upload(
            access_key=settings.s3_access_key.value, secret=settings.s3_secret_key.value,
            region=settings.aws_region, endpoint=settings.s3_endpoint,
            bucket=settings.s3_bucket, force_path_style=True,
        )
    if settings.recording_upload == "azure":
        return api.AzureBlobUpload(
            account_name=settings.azure_account_name,
            account_key=settings.azure_account_key.value,
            container_name=settings.azure_container_name,
        )
    return None


class Recorder:
    """Starts, stops, watches and reconciles room recordings on one LiveKit server."""

    def __init__(
        self,
        server: LiveKitServer,
        *,
        recordings_path: str = "recordings/",
        upload: Upload = None,
        locks: RoomLocks | None = None,
        recording_locks: RecordingLocks | None = None,
        lock_ttl: float = 12 * 3600,
        start_timeout: float = 20.0,
        poll_interval: float = 1.0,
        webhook_grace: float = 5.0,
        console_identities: Iterable[str] = (),
        events: EventBus | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.server = server
        self.recordings_path = recordings_path
        self.upload = upload
        self.locks: RoomLocks = locks or LocalRoomLocks()
        self.recording_locks: RecordingLocks | None = recording_locks
        self.lock_ttl = lock_ttl
        self.start_timeout = start_timeout
        self.poll_interval = poll_interval
        # How long after the egress settles a webhook may still bring the same news.
        self.webhook_grace = webhook_grace
        self.console_identities = set(console_identities)
        self.events = events or EventBus()
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def file_output(self) -> api.EncodedFileOutput:
        """The tutorial's MP4 path, uploaded where RECORDING_UPLOAD says."""
        output = api.EncodedFileOutput(
            file_type=api.EncodedFileType.MP4, filepath=self.recordings_path + FILE_TEMPLATE
        )
        if isinstance(self.upload, api.S3Upload):
            output.s3.CopyFrom(self.upload)
        elif isinstance(self.upload, api.AzureBlobUpload):
            output.azure.CopyFrom(self.upload)
        return output

    async def active_recording(self, room: str) -> api.EgressInfo | None:
        """The room's recording egress that is starting or active, if any."""
        egresses = await self.server.list_egress(room, active=True)
        return next((e for e in egresses if egress_is_active(e)), None)

    async def start(self, room: str, options: StartOptions = StartOptions()) -> api.EgressInfo:
        """Start recording ``room``; AlreadyRecording if it is, EgressUnavailable if it can't."""
        async with self.locks.hold(room):
            busy = AlreadyRecording(f"The room {room!r} is already being recorded.")
            if self.recording_locks and not await self.recording_locks.acquire(
                room, self.lock_ttl
            ):
                raise busy
            try:
                if await self.active_recording(room) is not None:
                    raise busy
                info = await self.server.start_room_composite(room, self.file_output())
            except BaseException:
                if self.recording_locks:
                    await self.recording_locks.release(room)
                raise
            log.info("recording %s of room %s: %s", info.egress_id, room,
                     api.EgressStatus.Name(info.status))
            await self._publish(room, status_from_egress(info.status), info.egress_id, info.error)
        self._spawn(self._watch_start(room, info.egress_id))
        if options.max_duration or options.stop_when_empty_after:
            self._spawn(self._auto_stop(room, info.egress_id, options))
        return info

    async def stop(self, room: str) -> api.EgressInfo:
        """Stop the room's recording; NotRecording if there is none."""
        async with self.locks.hold(room):
            active = await self.active_recording(room)
            if active is None:
                raise NotRecording(f"The room {room!r} is not being recorded.")
            info = await self.server.stop_egress(active.egress_id)
            await self._publish(room, status_from_egress(info.status), info.egress_id, info.error)
        self._spawn(self._watch_stop(room, info.egress_id))
        return info

    async def reconcile(self, room: str) -> RecordingStatus | None:
        """Set a room that says "recording" with no egress running back to STOPPED.

        Returns the status the room is left with (None when the room does not exist).
        """
        status = await self.server.recording_status(room)
        if status is None or not status.busy:
            return status
        try:
            active = await self.active_recording(room)
        except EgressUnavailable:
            active = None  # no egress service: nothing can be recording
        if active is not None:
            return status
        log.info("room %s said %s with no recording running: now STOPPED", room, status.value)
        if self.recording_locks:
            await self.recording_locks.release(room)
        await self._publish(room, RecordingStatus.STOPPED)
        return RecordingStatus.STOPPED

    async def reconcile_all(self) -> dict[str, RecordingStatus | None]:
        """Reconcile every room this app created; returns the rooms that changed."""
        changed: dict[str, RecordingStatus | None] = {}
        for room in await self.server.list_rooms():
            if not self.server.created_by_app(room):
                continue
            before = parse_metadata(room.metadata).get("recordingStatus")
            after = await self.reconcile(room.name)
            if after is not None and after.value != before:
                changed[room.name] = after
        return changed

    async def idle(self) -> None:
        """Wait until no start or stop is being watched any more."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def aclose(self) -> None:
        """Stop watching (recordings themselves go on)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- background watchers --------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._watcher_done)

    def _watcher_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("recording watcher failed: %s", task.exception())

    async def _publish(
        self, room: str, status: RecordingStatus, egress_id: str = "", error: str = ""
    ) -> None:
        try:
            await self.server.set_recording_status(room, status, error or None)
        except ConsoleError as err:  # the room may be gone; the egress state is what counts
            log.warning("could not set the recording status of %s: %s", room, err)
        self.events.publish(RecordingStatusChanged(room, status, egress_id, error))

    async def _watch_start(self, room: str, egress_id: str) -> None:
        """Stop a start that does not become ACTIVE in time (egress stuck in STARTING)."""
        deadline = self._clock() + self.start_timeout
        while True:
            info = await self.server.get_egress(egress_id)
            if info is None or info.status != api.EgressStatus.EGRESS_STARTING:
                if info is not None:
                    await self._settled(room, info)
                return
            if self._clock() >= deadline:
                break
            await asyncio.sleep(self.poll_interval)
        reason = (f"The recording did not start within {self.start_timeout:.0f} s"
                  f" ({info.error or 'no start signal from the egress'}); it was stopped.")
        log.warning("recording %s of room %s stuck in STARTING: stopping it", egress_id, room)
        with contextlib.suppress(ConsoleError):
            await self.server.stop_egress(egress_id)
        await self._publish(room, RecordingStatus.FAILED, egress_id, reason)

    async def _watch_stop(self, room: str, egress_id: str) -> None:
        """Follow a stop until the egress has ended, whatever webhooks do."""
        while True:
            await asyncio.sleep(self.poll_interval)
            info = await self.server.get_egress(egress_id)
            if info is None:
                return
            if info.status not in (api.EgressStatus.EGRESS_ACTIVE, api.EgressStatus.EGRESS_ENDING):
                await self._settled(room, info)
                return

    async def _settled(self, room: str, info: api.EgressInfo) -> None:
        """The polled egress reached a state: publish it unless a webhook does.

        LiveKit sends its webhook after the egress changed, so the webhook may reach
        the room a moment after the poll saw the change: it gets ``webhook_grace``
        seconds before the console says webhooks are not arriving.
        """
        status = status_from_egress(info.status)
        deadline = self._clock() + self.webhook_grace
        while await self.server.recording_status(room) is not status:
            if self._clock() >= deadline:
                await self._publish(room, status, info.egress_id, info.error)
                self.events.publish(StatusPolled(room, info.egress_id, status))
                return
            await asyncio.sleep(self.poll_interval)

    async def _auto_stop(self, room: str, egress_id: str, options: StartOptions) -> None:
        """Stop after the maximum duration, or once the room has been empty long enough."""
        started = self._clock()
        empty_since: float | None = None
        while True:
            await asyncio.sleep(self.poll_interval)
            info = await self.server.get_egress(egress_id)
            if info is None or not egress_is_active(info):
                return
            now = self._clock()
            why = None
            if options.max_duration and now - started >= options.max_duration:
                why = f"maximum duration of {options.max_duration:.0f} s reached"
            elif options.stop_when_empty_after:
                people = await self.server.list_participants(room)
                if any(self._counts(p) for p in people):
                    empty_since = None
                else:
                    empty_since = empty_since or now
                    if now - empty_since >= options.stop_when_empty_after:
                        why = "everyone left the room"
            if why:
                log.info("stopping recording %s of room %s: %s", egress_id, room, why)
                info = await self.server.stop_egress(egress_id)
                await self._publish(room, status_from_egress(info.status), egress_id, info.error)
                await self._watch_stop(room, egress_id)
                return

    def _counts(self, participant: api.ParticipantInfo) -> bool:
        """Someone the room is being recorded for (not a console, egress or hidden observer)."""
        if participant.identity in self.console_identities:
            return False
        if participant.kind == api.ParticipantInfo.Kind.EGRESS:
            return False
        return not participant.permission.hidden
