"""Recording a room on this computer with the same outcome as an egress recording.

The room's ``recordingStatus`` goes STARTING → STARTED → STOPPING → STOPPED (or
FAILED) under the same per-room lock and "this room is being recorded" lock as
an egress recording (:class:`~recconsole.core.recorder.Recorder`'s), and the same
events are published. While it records, the room metadata names the recording
participant (``localRecorder``), so other consoles see the room is recorded and
do not reset its status. On stop the spooled file is finished and uploaded to
the recordings store at the tutorial's path, with the tutorial's metadata file
(id ``LOCAL_…``, ``recordedBy: "console"``). A recording that could not be
uploaded stays in the spool; :meth:`LocalRecorder.recover` uploads it later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from recconsole.core.egress_requests import new_tag
from recconsole.core.errors import AlreadyRecording, ConsoleError, NotRecording
from recconsole.core.events import LocalRecordingNotice, RecordingSaved
from recconsole.core.recorder import LOCAL_RECORDER_KEY, Recorder
from recconsole.core.recording_info import RecordingInfo
from recconsole.core.recording_status import RecordingStatus
from recconsole.realtime.local_recording import (
    FrameTap,
    LocalRecording,
    ParticipantFiles,
    RecordingStats,
)
from recconsole.realtime.spool import Spool, SpooledRecording, upload
from recconsole.storage.base import StoreError
from recconsole.storage.catalog import RecordingsCatalog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputFormat:
    """The recorded picture: size and rate."""

    width: int = 1280
    height: int = 720
    fps: int = 30


@dataclass
class _Running:
    spooled: SpooledRecording
    recording: LocalRecording
    token: str | None  # of the "being recorded" lock
    limit: asyncio.TimerHandle | None = None
    empty_watch: asyncio.Task[None] | None = None
    # Each participant's own files (each participant too), as they begin.
    participants: list[SpooledRecording] = field(default_factory=list)


class LocalRecorder:
    """Starts and stops recordings made on this computer (one per room)."""

    def __init__(self, recorder: Recorder, catalog: RecordingsCatalog, spool: Spool, *,
                 output: OutputFormat = OutputFormat(), upload_attempts: int = 5,
                 retry_delay: float = 2.0) -> None:
        self.recorder = recorder
        self.catalog = catalog
        self.spool = spool
        self.output = output
        self.upload_attempts = upload_attempts
        self.retry_delay = retry_delay
        self.events = recorder.events
        self._running: dict[str, _Running] = {}
        self._tasks: set[asyncio.Task[object]] = set()

    def is_recording(self, room: str) -> bool:
        return room in self._running

    def stats(self, room: str) -> RecordingStats | None:
        running = self._running.get(room)
        return running.recording.stats if running else None

    async def start(self, room: str, room_id: str, tap: FrameTap, identity: str,
                    max_duration: float | None = None, *,
                    stop_when_empty_after: float | None = None,
                    occupied: Callable[[], bool] | None = None,
                    each_participant: bool = False) -> SpooledRecording:
        """Record ``room`` (joined as ``identity``, frames through ``tap``).

        Stops by itself after ``max_duration`` s, and after ``stop_when_empty_after`` s
        in which ``occupied()`` (anyone else in the room?) stayed False. With
        ``each_participant``, each participant's camera and sound also go into a file
        of their own, named and described as egress's each-participant files (one
        session), uploaded with the room's file.
        AlreadyRecording if anything records it; the status is STARTED on return.
        """
        recorder = self.recorder
        async with recorder.locks.hold(room):
            token = None
            if recorder.recording_locks:
                token = await recorder.recording_locks.acquire(room, recorder.lock_ttl)
                if token is None:
                    raise AlreadyRecording(f"The room {room!r} is already being recorded (or"
                                           " a recording is starting) by a console.")
            try:
                running = await self._begin(room, room_id, tap, identity, token,
                                            each_participant)
            except BaseException:
                if recorder.recording_locks and token:
                    await recorder.recording_locks.release(room, token)
                raise
        if max_duration:
            loop = asyncio.get_running_loop()
            running.limit = loop.call_later(max_duration, self._spawn_stop, room,
                                            "its maximum duration was reached")
        if stop_when_empty_after is not None and occupied is not None:
            running.empty_watch = asyncio.ensure_future(
                self._stop_when_empty(room, stop_when_empty_after, occupied))
        return running.spooled

    async def _begin(self, room: str, room_id: str, tap: FrameTap, identity: str,
                     token: str | None, each_participant: bool) -> _Running:
        recorder = self.recorder
        status = await recorder.server.recording_status(room)
        if room in self._running or (status is not None and status.busy and (
                await recorder.recorded_locally(room) or await _egress_active(recorder, room))):
            raise AlreadyRecording(f"The room {room!r} is already being recorded.")
        spooled = await asyncio.to_thread(self.spool.new, room, room_id, datetime.now(UTC))
        mark = {LOCAL_RECORDER_KEY: identity}
        await recorder.publish_status(room, RecordingStatus.STARTING, spooled.id, more=mark)
        loop = asyncio.get_running_loop()

        def failed(why: str) -> None:  # on the worker thread
            loop.call_soon_threadsafe(self._spawn_stop, room, why)

        own_files: list[SpooledRecording] = []
        participants = None
        if each_participant:
            session = new_tag()

            def new_file(who: str) -> Path:  # on the worker thread
                entry = self.spool.new(
                    room, room_id, datetime.now(UTC), tag=f"{session}{new_tag()}",
                    extra={"kind": "participant", "participant": who,
                           "session": f"{room_id}-{session}"})
                own_files.append(entry)
                return entry.video

            tap.keep_voices()
            participants = ParticipantFiles(tap, new_file, self.output.fps)
        recording = LocalRecording(tap, spooled.video, width=self.output.width,
                                   height=self.output.height, fps=self.output.fps,
                                   failed=failed, participants=participants)
        try:
            await asyncio.to_thread(recording.start)
        except Exception as err:
            await asyncio.to_thread(Spool.forget, spooled)
            reason = f"The recording could not start on this computer: {err}"
            await recorder.publish_status(room, RecordingStatus.FAILED, spooled.id, reason,
                                          more={LOCAL_RECORDER_KEY: None})
            raise ConsoleError(reason) from err
        if recorder.recording_locks and token:
            await recorder.recording_locks.bind(room, token, spooled.id)
        running = _Running(spooled, recording, token, participants=own_files)
        self._running[room] = running
        log.info("recording %s of room %r on this computer into %s", spooled.id, room,
                 spooled.video)
        await recorder.publish_status(room, RecordingStatus.STARTED, spooled.id, more=mark)
        return running

    async def stop(self, room: str, why: str = "") -> RecordingInfo | None:
        """Stop, finish and upload; the recording's info, or None if it stays spooled.

        NotRecording if this console does not record ``room``.
        """
        recorder = self.recorder
        async with recorder.locks.hold(room):
            running = self._running.pop(room, None)
            if running is None:
                raise NotRecording(f"This console is not recording {room!r}.")
            if running.limit is not None:
                running.limit.cancel()
            if running.empty_watch is not None:
                running.empty_watch.cancel()
            spooled = running.spooled
            running.recording.request_stop()  # the file ends now, not once STOPPING is out
            await recorder.publish_status(room, RecordingStatus.STOPPING, spooled.id)
            stats = await asyncio.to_thread(running.recording.stop)
            if recorder.recording_locks:
                await recorder.recording_locks.release(room, spooled.id)
            error = running.recording.error
            if why:
                self.events.publish(LocalRecordingNotice(room, f"recording stopped: {why}"))
            info, kept = await self._upload(spooled)
            if running.recording.participants is not None:
                for error in running.recording.participants.errors:
                    self.events.publish(LocalRecordingNotice(room, error))
            for own in list(running.participants):
                if (await asyncio.to_thread(own.video.exists)
                        or await asyncio.to_thread(own.journal.exists)):
                    _own_info, own_kept = await self._upload(own)
                    kept = kept or own_kept
            end = {LOCAL_RECORDER_KEY: None}
            if kept or error:
                await recorder.publish_status(room, RecordingStatus.FAILED, spooled.id,
                                              error or kept, more=end)
            else:
                await recorder.publish_status(room, RecordingStatus.STOPPED, spooled.id,
                                              more=end)
        log.info("recording %s of room %r: %.1f s, %d frames, %d dropped", spooled.id, room,
                 stats.elapsed, stats.frames, stats.dropped_frames)
        return info

    async def _upload(self, spooled: SpooledRecording) -> tuple[RecordingInfo | None, str]:
        """Upload; (info, "") or (None, why it stays on this computer)."""
        try:
            info = await upload(self.catalog, spooled, attempts=self.upload_attempts,
                                delay=self.retry_delay)
        except (StoreError, ValueError) as err:
            kept = (f"The recording could not be uploaded ({err}); it is kept in"
                    f" {spooled.folder} and uploaded at the next start.")
            if isinstance(err, ValueError):
                kept = f"The recording holds nothing playable ({err}); left in {spooled.folder}."
            self.events.publish(LocalRecordingNotice(spooled.room, kept))
            return None, kept
        self.events.publish(RecordingSaved(info.name, info.room_name))
        self.events.publish(LocalRecordingNotice(
            spooled.room, f"recording {info.name} uploaded ({info.duration:.1f} s,"
            f" {info.size / 1e6:.1f} MB)"))
        return info, ""

    async def recover(self) -> list[RecordingInfo]:
        """Upload what earlier runs left in the spool (a crash, storage down)."""
        busy = {r.spooled.id for r in self._running.values()} | {
            own.id for r in self._running.values() for own in r.participants}
        uploaded = []
        for spooled in await asyncio.to_thread(self.spool.pending, busy):
            self.events.publish(LocalRecordingNotice(
                spooled.room, f"found {spooled.name} on this computer, not uploaded yet:"
                " finishing and uploading it"))
            info, _kept = await self._upload(spooled)
            if info is not None:
                uploaded.append(info)
        return uploaded

    async def stop_all(self, why: str = "") -> None:
        """Stop every recording (the console leaves or quits)."""
        for room in list(self._running):
            with contextlib.suppress(NotRecording):
                await self.stop(room, why)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _stop_when_empty(self, room: str, grace: float,
                               occupied: Callable[[], bool]) -> None:
        """Stop once nobody else has been in the room for ``grace`` seconds."""
        loop = asyncio.get_running_loop()
        empty_since: float | None = None
        while room in self._running:
            if occupied():
                empty_since = None
            elif empty_since is None:
                empty_since = loop.time()
            elif loop.time() - empty_since >= grace:
                self._spawn_stop(room, f"everyone had left for {grace:g} s")
                return
            await asyncio.sleep(min(1.0, grace / 4))

    def _spawn_stop(self, room: str, why: str) -> None:
        """Stop from a timer or the worker thread's failure (on the loop)."""
        if room not in self._running:
            return
        task: asyncio.Task[object] = asyncio.ensure_future(self._stop_quietly(room, why))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stop_quietly(self, room: str, why: str) -> None:
        try:
            await self.stop(room, why)
        except NotRecording:
            return
        except ConsoleError as err:
            self.events.publish(LocalRecordingNotice(room, str(err)))


async def _egress_active(recorder: Recorder, room: str) -> bool:
    try:
        return await recorder.active_recording(room) is not None
    except ConsoleError:  # no egress service: no egress recording either
        return False
