"""Recording a room on this computer without a window (``recconsole record``).

:func:`record_here` joins the room as a hidden participant and records it exactly as
the window's "Record on this computer" does (the room's status, the locks, the
upload, the metadata), until Ctrl-C (SIGINT or SIGTERM), a duration, a lost
connection, or :func:`stop_recording` — from any machine with the API key — asks
it to stop: a data message from the server API, which participants cannot send.
Recordings an earlier run left in the spool are uploaded first.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import Callable

from recconsole.core.errors import ConsoleError, NotRecording, RoomNotFound
from recconsole.core.events import EventBus, LocalRecordingNotice
from recconsole.core.livekit_server import (
    STOP_LOCAL_RECORDING_TOPIC,
    LiveKitServer,
    parse_metadata,
)
from recconsole.core.recorder import LOCAL_RECORDER_KEY, Recorder
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.tokens import mint_token
from recconsole.realtime.local_recorder import LocalRecorder, OutputFormat
from recconsole.realtime.local_recording import FrameTap, track_owner
from recconsole.realtime.session import RoomSession, SessionEvents, SessionState
from recconsole.realtime.spool import Spool, spool_dir
from recconsole.settings import Settings
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.factory import store_from_settings

STOP_WAIT = 120.0  # seconds ``stop_recording`` waits for the recording to be uploaded
Say = Callable[[str], None]


class _Ending(SessionEvents):
    """Sets ``ended`` with the reason when the session should stop recording."""

    def __init__(self, tap: FrameTap) -> None:
        self.tap = tap
        self.ended = asyncio.Event()
        self.why = ""

    def end(self, why: str) -> None:
        if not self.ended.is_set():
            self.why = why
            self.ended.set()

    def state_changed(self, state: SessionState, reason: str) -> None:
        if state is SessionState.DISCONNECTED and reason:
            self.end(f"disconnected from the room ({reason})")

    def data_received(self, topic: str, payload: bytes, sender: str) -> None:
        if topic == STOP_LOCAL_RECORDING_TOPIC and not sender:  # from the server API only
            self.end("asked to stop (recconsole record stop)")


async def record_here(
    settings: Settings, room: str, duration: float | None, say: Say,
    output: OutputFormat | None = None, *, each_participant: bool = False,
) -> str | None:
    """Record until told to stop; the recording's key in the store (None: not uploaded,
    it waits in the spool for the next run). ``each_participant``: each participant's
    own file too, beside the room's."""
    events = EventBus()
    events.subscribe(LocalRecordingNotice, lambda e: say(e.message))
    server = LiveKitServer(settings.livekit_url, settings.livekit_api_key,
                           settings.livekit_api_secret.value, app_name=settings.app_name)
    store = store_from_settings(settings)
    recorder = Recorder(server, recordings_path=settings.recordings_path, events=events)
    catalog = RecordingsCatalog(store, settings.recordings_path)
    local = LocalRecorder(recorder, catalog, Spool(spool_dir()),
                          output=output or OutputFormat())
    session: RoomSession | None = None
    try:
        await local.recover()
        await server.ensure_room(room)
        identity = f"recorder-{uuid.uuid4().hex[:6]}"
        token = mint_token(settings.livekit_api_key, settings.livekit_api_secret.value, room,
                           identity, "Recorder", observer=True)
        ending = _Ending(FrameTap())
        session = RoomSession(settings.livekit_url, token, ending, audio=True)
        ending.tap = FrameTap(owner_of=track_owner(session.room))
        await session.connect()
        session.attach_tap(ending.tap)
        spooled = await local.start(room, await session.room.sid, ending.tap, identity,
                                    each_participant=each_participant)
        say(f"recording {room!r} on this computer ({spooled.id}); Ctrl-C or"
             f" `recconsole record stop {room}` stops it")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, ending.end, "interrupted")
        if duration:
            loop.call_later(duration, ending.end, f"{duration:g} s recorded")
        await ending.ended.wait()
        stats = local.stats(room)
        say(f"stopping: {ending.why}")
        info = await local.stop(room)
        if stats is not None:
            say(f"{stats.elapsed:.1f} s recorded, {stats.frames} frames,"
                 f" {stats.dropped_frames} dropped")
        return catalog.recording_key(info.name) if info is not None else None
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().remove_signal_handler(sig)
        if session is not None:
            with contextlib.suppress(NotRecording):
                await local.stop_all("the recorder is closing")
            await session.disconnect()
        await local.aclose()
        await recorder.aclose()
        await store.aclose()
        await server.aclose()


async def stop_local_recording(settings: Settings, room: str, say: Say) -> int | None:
    """Ask the console recording ``room`` on its computer to stop; wait for the upload.

    Returns the exit code (0 stopped, 1 failed), or None when no console records the
    room on its computer (an egress recording is stopped another way).
    """
    async with LiveKitServer(settings.livekit_url, settings.livekit_api_key,
                             settings.livekit_api_secret.value,
                             app_name=settings.app_name) as server:
        info = await server.get_room(room)
        if info is None:
            raise RoomNotFound(f"The room {room!r} does not exist.")
        recorder_identity = parse_metadata(info.metadata).get(LOCAL_RECORDER_KEY)
        if not isinstance(recorder_identity, str) or not recorder_identity:
            return None
        await server.send_to(room, recorder_identity, STOP_LOCAL_RECORDING_TOPIC)
        say(f"asked {recorder_identity} to stop recording {room!r}; waiting for the upload")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_WAIT
        status = await server.recording_status(room)
        while status is not None and status.busy:  # the room's metadata tells no one
            if loop.time() > deadline:
                raise ConsoleError(f"The recording of {room!r} has not ended after"
                                   f" {STOP_WAIT:.0f} s.")
            await asyncio.sleep(0.5)
            status = await server.recording_status(room)
        say(f"the recording is {status.value if status else 'gone with the room'}")
        return 0 if status is not RecordingStatus.FAILED else 1
