"""Starting and stopping a room's recording (a RoomComposite egress to an MP4 file).

One recording per room: a per-room lock is held across "is anything recording?"
and "start", so a double click or a click during STARTING never starts two. A
start that does not become ACTIVE within ``start_timeout`` is stopped and marked
FAILED; a room whose metadata says "recording" while no egress is active is set
back to STOPPED by :meth:`Recorder.reconcile`.

Another app (the OpenVidu tutorial server, another console without shared locks)
may start the same room at the same instant. Every file name the console asks
for carries a random tag, so no file is ever overwritten; while its egress starts,
the console looks for such a twin and, if there is one, stops its own (or, between
consoles, the one with the larger egress id) so exactly one recording goes on.

Limits (maximum duration, stop when empty) are stored with the recording in the
started-recordings registry and enforced by :class:`LimitEnforcer`, wherever a
console or listener runs (see :mod:`recconsole.core.recording_limits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from livekit import api

from recconsole.core.egress_requests import (
    PRESETS,
    build_outputs,
    new_tag,
    participant_request,
    room_composite_request,
)
from recconsole.core.errors import (
    AlreadyRecording,
    ConsoleError,
    EgressUnavailable,
    NotRecording,
)
from recconsole.core.events import (
    DuplicateStopped,
    EventBus,
    LimitReached,
    RecordingStatusChanged,
    StatusPolled,
)
from recconsole.core.livekit_server import LiveKitServer, parse_metadata
from recconsole.core.recording_limits import (
    LimitEnforcer,
    MemoryStartedRecordings,
    StartedRecording,
    StartedRecordings,
)
from recconsole.core.recording_options import (
    Advanced,
    BadRecordingOptions,
    Content,
    Layout,
    OutputFormat,
    Preset,
    RecordingOptions,
    parse_choice,
)
from recconsole.core.recording_status import RecordingStatus, egress_is_active, status_from_egress
from recconsole.core.room_locks import LocalRoomLocks, RoomLocks
from recconsole.settings import Settings

log = logging.getLogger(__name__)

# The room metadata key naming the participant that records the room itself (a console
# recording locally, see recconsole.realtime.local_recorder), while it does.
LOCAL_RECORDER_KEY = "localRecorder"

# How long a session just started is believed while the egress list does not show it yet.
SESSION_LISTING_GRACE = 10.0
# The tag after {time} that marks a file template as a console's (see file_output); an
# each-participant session's files share its first six digits.
_CONSOLE_TEMPLATE = re.compile(r"\{time\}-(?:[0-9a-f]{6}){1,2}\.(?:mp4|ogg|m3u8)$")


class RecordingLocks(Protocol):
    """"This room is being recorded", shared by consoles and listeners (see server.locks).

    ``acquire`` gives the new owner's token (None if held); ``bind`` makes the lock
    name the recording it guards; ``release`` with an owner only frees that owner's.
    """

    async def acquire(self, room: str, ttl: float) -> str | None: ...

    async def bind(self, room: str, token: str, egress_id: str) -> bool: ...

    async def release(self, room: str, owner: str | None = None) -> bool: ...


@dataclass(frozen=True)
class StartOptions:
    """Optional limits a moderator sets when starting."""

    max_duration: float | None = None  # seconds, then stop by itself
    stop_when_empty_after: float | None = None  # seconds with nobody but the console left
    recording: RecordingOptions | None = None  # None: the recorder's defaults


Upload = api.S3Upload | api.AzureBlobUpload | None
# An upload block made at each start (S3 keys that may be temporary, renewed since).
UploadSource = Callable[[], Awaitable[Upload]]


class S3KeysLike(Protocol):
    """S3 keys as the storage's credentials hand them out (token: of temporary keys)."""

    @property
    def access_key(self) -> str: ...

    @property
    def secret_key(self) -> str: ...

    @property
    def token(self) -> str: ...


def upload_from_settings(
    settings: Settings, s3_keys: Callable[[], Awaitable[S3KeysLike]] | None = None
) -> Upload | UploadSource:
    """The egress upload block RECORDING_UPLOAD asks for (None: the egress's own storage).

    With ``s3_keys`` (the storage's credentials), an S3 block is made at each start
    with the keys current then, session token included: temporary credentials
    handed to an egress must not have expired before it uploads.
    Azure's block has no endpoint field, so an egress uploads only to real Azure.
    """
    if settings.recording_upload == "s3":
        def s3_block(access_key: str, secret: str, token: str = "") -> api.S3Upload:
            return api.S3Upload(
                access_key=access_key, secret=secret, session_token=token,
                region=settings.aws_region, endpoint=settings.s3_endpoint,
                bucket=settings.s3_bucket, force_path_style=True,
            )

        if s3_keys is None:
            return s3_block(settings.s3_access_key.value, settings.s3_secret_key.value,
                            settings.s3_session_token.value)

        async def fresh_block() -> Upload:
            keys = await s3_keys()
            return s3_block(keys.access_key, keys.secret_key, keys.token)

        return fresh_block
    if settings.recording_upload == "azure":
        return api.AzureBlobUpload(
            account_name=settings.azure_account_name,
            account_key=settings.azure_account_key.value,
            container_name=settings.azure_container_name,
        )
    return None


def options_from_settings(settings: Settings) -> RecordingOptions:
    """The recording options a start uses by default (RECORDING_LAYOUT, _CONTENT, _PRESET,
    _OUTPUT); BadRecordingOptions if they do not go together (OGG with video)."""
    return RecordingOptions(
        layout=parse_choice(Layout, settings.recording_layout, "RECORDING_LAYOUT"),
        content=parse_choice(Content, settings.recording_content, "RECORDING_CONTENT"),
        preset=parse_choice(Preset, settings.recording_preset, "RECORDING_PRESET")
        if settings.recording_preset else None,
        output=parse_choice(OutputFormat, settings.recording_output, "RECORDING_OUTPUT"),
    ).validate()


class Recorder:
    """Starts, stops, watches and reconciles room recordings on one LiveKit server."""

    def __init__(
        self,
        server: LiveKitServer,
        *,
        recordings_path: str = "recordings/",
        upload: Upload | UploadSource = None,
        layout_url: str = "",
        options: RecordingOptions | None = None,
        locks: RoomLocks | None = None,
        recording_locks: RecordingLocks | None = None,
        started: StartedRecordings | None = None,
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
        self.layout_url = layout_url  # a custom recording layout; empty: egress's grid
        self.options = options or RecordingOptions()  # what a start records unless told
        # Each-participant recordings going on: room → (options, session tag, upload).
        self.sessions: dict[str, tuple[RecordingOptions, str, Upload]] = {}
        self._joined: dict[tuple[str, str], set[str]] = {}  # (room, session) → started
        self._session_since: dict[str, float] = {}
        self.locks: RoomLocks = locks or LocalRoomLocks()
        self.recording_locks: RecordingLocks | None = recording_locks
        self.started: StartedRecordings = started or MemoryStartedRecordings()
        self.lock_ttl = lock_ttl
        self.start_timeout = start_timeout
        self.poll_interval = poll_interval
        # How long after the egress settles a webhook may still bring the same news.
        self.webhook_grace = webhook_grace
        self.console_identities = set(console_identities)
        self.events = events or EventBus()
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self.limits = LimitEnforcer(server, self.started, every=poll_interval, clock=clock,
                                    stopped=self._limit_reached)

    def file_output(self, upload: Upload = None) -> api.EncodedFileOutput:
        """The tutorial's MP4 path, uploaded to ``upload`` (else where RECORDING_UPLOAD says).

        ``{time}`` has one-second resolution, so a random tag follows it: two
        recordings of a room started in the same second never get the same name.
        No manifest beside the file (the tutorial asks egress for none either).
        """
        if upload is None and not callable(self.upload):
            upload = self.upload
        return build_outputs(RecordingOptions(), self.recordings_path, upload,
                             new_tag()).file_outputs[0]

    async def active_recording(self, room: str) -> api.EgressInfo | None:
        """The room's recording egress that is starting or active, if any."""
        egresses = await self.server.list_egress(room, active=True)
        return next((e for e in egresses if egress_is_active(e)), None)

    async def start(self, room: str, options: StartOptions = StartOptions()) -> api.EgressInfo:
        """Start recording ``room``; AlreadyRecording if it is, EgressUnavailable if it can't,
        BadRecordingOptions (before asking egress) for options it cannot make.

        With each-participant options, returns the first participant's egress."""
        recording = (options.recording or self.options).validate()
        async with self.locks.hold(room):
            token = None
            if self.recording_locks:
                token = await self.recording_locks.acquire(room, self.lock_ttl)
                if token is None:
                    raise AlreadyRecording(
                        f"The room {room!r} is already being recorded (or a recording is"
                        " starting) by a console sharing this lock.")
            try:
                if await self.recorded_locally(room):
                    raise AlreadyRecording(
                        f"The room {room!r} is already being recorded by a console, on its"
                        " own computer.")
                active = await self.active_recording(room)
                if active is not None:
                    raise AlreadyRecording(
                        f"The room {room!r} is already being recorded by"
                        f" {describe_starter(active)} (egress {active.egress_id}).")
                upload = await self.upload() if callable(self.upload) else self.upload
                infos = await self._request(room, recording, upload)
            except ConsoleError as err:
                if self.recording_locks and token:
                    await self.recording_locks.release(room, token)
                if not isinstance(err, AlreadyRecording | EgressUnavailable
                                  | BadRecordingOptions):
                    # Egress refused the request: the room says so, as egress put it.
                    await self._publish(room, RecordingStatus.FAILED, "", str(err))
                raise
            except BaseException:
                if self.recording_locks and token:
                    await self.recording_locks.release(room, token)
                raise
            info = infos[0]
            if self.recording_locks and token:
                await self.recording_locks.bind(room, token, info.egress_id)
            for each in infos:
                await self._started(room, each, options)
            await self._publish(room, status_from_egress(info.status), info.egress_id, info.error)
        for each in infos:
            self._spawn(self._watch_start(room, each.egress_id))
        return info

    async def _request(self, room: str, recording: RecordingOptions,
                       upload: Upload) -> list[api.EgressInfo]:
        """Ask egress for what ``recording`` says: one room file, or participants' files."""
        if not recording.individual:
            outputs = build_outputs(recording, self.recordings_path, upload, new_tag())
            return [await self.server.start_egress(
                room_composite_request(room, recording, outputs, self.layout_url))]
        session = new_tag()
        if recording.participant:
            present = {p.identity for p in await self.server.list_participants(room)}
            if recording.participant not in present:
                raise BadRecordingOptions(
                    f"{recording.participant!r} is not in the room {room!r}: nobody to record.")
            people = [recording.participant]
        else:
            people = [p.identity for p in await self.server.list_participants(room)
                      if self._recordable(p)]
            if not people:
                raise BadRecordingOptions(
                    f"Nobody in the room {room!r} to record separately (the console and"
                    " other recorders do not count).")
        infos = [await self._start_participant(room, identity, recording, session, upload)
                 for identity in people]
        if recording.each_participant:
            self.sessions[room] = (recording, session, upload)
            self._session_since[room] = self._clock()
        return infos

    async def _start_participant(self, room: str, identity: str, recording: RecordingOptions,
                                 session: str, upload: Upload) -> api.EgressInfo:
        mine = recording.for_participant(identity)
        outputs = build_outputs(mine, self.recordings_path, upload, session + new_tag())
        return await self.server.start_egress(participant_request(room, identity, mine, outputs))

    def _recordable(self, participant: api.ParticipantInfo) -> bool:
        """Someone whose recording means something: not a console, not an egress, not a
        hidden participant (an observer, a console recording on its computer)."""
        return (participant.identity not in self.console_identities
                and participant.kind != api.ParticipantInfo.Kind.EGRESS
                and not participant.identity.startswith("EG_")
                and not participant.permission.hidden)

    async def participant_joined(self, room: str, participant: api.ParticipantInfo,
                                 room_status: str = "") -> api.EgressInfo | None:
        """Someone joined: record them too if the room is being recorded each participant
        separately (None if not, or if they are recorded already).

        The session is this recorder's own, or one another console or the command line
        started, read from the room's live recordings (its files share a session tag), so
        a listener records newcomers of sessions it did not start. ``room_status``: the
        room's recordingStatus as the join's webhook gave its metadata; a room it says is
        not recording, with no session of this recorder, is not asked for its recordings
        (every start says STARTING there first).
        """
        if not self._recordable(participant):
            return None
        if room_status in (RecordingStatus.STOPPED, RecordingStatus.FAILED) and \
                room not in self.sessions:
            return None
        async with self.locks.hold(room):
            live = [e for e in await self.server.list_egress(room, active=True)
                    if egress_is_active(e)]
            session = self._live_session(room, live)
            if session is None:
                return None
            recording, tag, upload = session
            started = self._joined.setdefault((room, tag), set())
            if participant.identity in started or any(
                    e.WhichOneof("request") == "participant"
                    and e.participant.identity == participant.identity for e in live):
                return None
            info = await self._start_participant(room, participant.identity, recording, tag,
                                                 upload)
            started.add(participant.identity)
            await self._started(room, info, StartOptions())
        log.info("recording %s of %r in room %r (each participant)", info.egress_id,
                 participant.identity, room)
        self._spawn(self._watch_start(room, info.egress_id))
        return info

    def _live_session(self, room: str, live: list[api.EgressInfo]
                      ) -> tuple[RecordingOptions, str, Upload] | None:
        """The each-participant session going on in ``room``, if any."""
        tags = {session_of(e): e for e in live if session_of(e)}
        mine = self.sessions.get(room)
        if mine is not None and (mine[1] in tags or self._clock() - self._session_since.get(
                room, 0.0) < SESSION_LISTING_GRACE):
            return mine  # going on (just started: the egress list may not show it yet)
        if mine is not None:
            del self.sessions[room]  # stopped from elsewhere
        if not tags:
            return None
        tag, egress = next(iter(tags.items()))
        upload = None if callable(self.upload) else self.upload
        return options_from_egress(egress), tag, upload

    async def _started(self, room: str, info: api.EgressInfo, options: StartOptions) -> None:
        now = self._clock()
        await self.started.add(StartedRecording(
            egress_id=info.egress_id, room=room, started=now,
            stop_at=now + options.max_duration if options.max_duration else None,
            stop_when_empty_after=options.stop_when_empty_after,
            consoles=tuple(sorted(self.console_identities))))
        log.info("recording %s of room %r: %s", info.egress_id, room,
                 api.EgressStatus.Name(info.status))

    async def stop(self, room: str) -> api.EgressInfo:
        """Stop the room's recording (all files of a participants' session together);
        NotRecording if there is none."""
        async with self.locks.hold(room):
            live = [e for e in await self.server.list_egress(room, active=True)
                    if egress_is_active(e)]
            if not live:
                self.sessions.pop(room, None)
                raise NotRecording(f"The room {room!r} is not being recorded.")
            group = [e for e in live if session_of(e)]
            targets = group if session_of(live[0]) else live[:1]
            self.sessions.pop(room, None)
            stopped = []
            for active in targets:
                try:
                    stopped.append(await self.server.stop_egress(active.egress_id))
                except ConsoleError:
                    if active is targets[0]:
                        raise
                    continue  # it ended by itself meanwhile
                await self.started.finish(active.egress_id)
                # Ending is not recording: the next start may come at once (its egress_ended
                # then finds the lock is another recording's and leaves it).
                await self._release(room, active.egress_id)
            info = stopped[0]
            # An egress stopped while it was still starting may answer STARTING (it ends
            # ABORTED a moment later): the room is told it is stopping, not starting.
            status = (RecordingStatus.STOPPING if egress_is_active(info)
                      else status_from_egress(info.status))
            await self._publish(room, status, info.egress_id, info.error)
        for each in stopped:
            self._spawn(self._watch_stop(room, each.egress_id))
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
        if active is not None or await self.recorded_locally(room):
            return status
        log.info("room %r said %s with no recording running: now STOPPED", room, status.value)
        if self.recording_locks:
            await self.recording_locks.release(room)
        await self._publish(room, RecordingStatus.STOPPED)
        return RecordingStatus.STOPPED

    async def recorded_locally(self, room: str) -> bool:
        """Whether a console in the room says it records the room on its own computer."""
        info = await self.server.get_room(room)
        recorder = parse_metadata(info.metadata).get(LOCAL_RECORDER_KEY) if info else None
        if not isinstance(recorder, str) or not recorder:
            return False
        present = await self.server.list_participants(room)
        return any(p.identity == recorder for p in present)

    async def publish_status(
        self, room: str, status: RecordingStatus, recording_id: str = "", error: str = "",
        more: dict[str, Any] | None = None,
    ) -> None:
        """Set the room's ``recordingStatus`` (and ``more`` keys) and tell subscribers."""
        await self._publish(room, status, recording_id, error, more)

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
        self, room: str, status: RecordingStatus, egress_id: str = "", error: str = "",
        more: dict[str, Any] | None = None,
    ) -> None:
        try:
            await self.server.set_recording_status(room, status, error or None, more)
        except ConsoleError as err:  # the room may be gone; the egress state is what counts
            log.warning("could not set the recording status of %r: %s", room, err)
        self.events.publish(RecordingStatusChanged(room, status, egress_id, error))

    async def _release(self, room: str, egress_id: str) -> None:
        if self.recording_locks:
            await self.recording_locks.release(room, egress_id)

    async def _watch_start(self, room: str, egress_id: str) -> None:
        """Follow a start until ACTIVE: stop a twin started by someone else at the same
        moment, and stop a start that does not become ACTIVE in time."""
        deadline = self._clock() + self.start_timeout
        while True:
            info = await self.server.get_egress(egress_id)
            if info is not None and egress_is_active(info) and await self._yield_to_twin(
                    room, info):
                return
            if info is None or info.status != api.EgressStatus.EGRESS_STARTING:
                if info is not None:
                    await self._settled(room, info)
                return
            if self._clock() >= deadline:
                break
            await asyncio.sleep(self.poll_interval)
        reason = (f"The recording did not start within {self.start_timeout:.0f} s"
                  f" ({info.error or 'no start signal from the egress'}); it was stopped.")
        log.warning("recording %s of room %r stuck in STARTING: stopping it", egress_id, room)
        with contextlib.suppress(ConsoleError):
            await self.server.stop_egress(egress_id)
        await self.started.finish(egress_id)
        await self._release(room, egress_id)
        await self._publish(room, RecordingStatus.FAILED, egress_id, reason)

    async def _yield_to_twin(self, room: str, ours: api.EgressInfo) -> bool:
        """Another recording of the room started beside ours? Stop ours if it should go.

        Another app's recording is always kept (it does not look for twins itself);
        between consoles, the smaller egress id is kept, which every console agrees on.
        """
        if ours.WhichOneof("request") != "room_composite":
            return False  # a participant's file records beside anything
        others = [e for e in await self.server.list_egress(room, active=True)
                  if egress_is_active(e) and e.egress_id != ours.egress_id
                  and e.WhichOneof("request") == "room_composite"]  # a track egress is no twin
        if not others:
            return False
        foreign = [e for e in others if not started_by_console(e)]
        keep = foreign[0] if foreign else min(others, key=lambda e: e.egress_id)
        if not foreign and ours.egress_id < keep.egress_id:
            return False  # ours is the one consoles keep
        who = describe_starter(keep)
        log.warning("room %r: recording %s started beside %s's %s: stopping ours",
                    room, ours.egress_id, who, keep.egress_id)
        with contextlib.suppress(ConsoleError):
            await self.server.stop_egress(ours.egress_id)
        await self.started.finish(ours.egress_id)
        await self._release(room, ours.egress_id)
        self.events.publish(DuplicateStopped(room, ours.egress_id, keep.egress_id, who))
        return True

    async def _watch_stop(self, room: str, egress_id: str) -> None:
        """Follow a stop until the egress has ended, whatever webhooks do (one stopped
        while starting is still STARTING for a moment: that is not an end)."""
        while True:
            await asyncio.sleep(self.poll_interval)
            info = await self.server.get_egress(egress_id)
            if info is None:
                return
            if not egress_is_active(info) and info.status != api.EgressStatus.EGRESS_ENDING:
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
                if not egress_is_active(info) and info.status != api.EgressStatus.EGRESS_ENDING:
                    await self._release(room, info.egress_id)
                await self._publish(room, status, info.egress_id, info.error)
                self.events.publish(StatusPolled(room, info.egress_id, status))
                return
            await asyncio.sleep(self.poll_interval)

    def _limit_reached(self, recording: StartedRecording, why: str, info: api.EgressInfo) -> None:
        """A limit stopped a recording: say so, and follow it to its end."""
        self.events.publish(LimitReached(recording.room, recording.egress_id, why))
        self._spawn(self._publish(recording.room, status_from_egress(info.status),
                                  info.egress_id, info.error))
        self._spawn(self._watch_stop(recording.room, recording.egress_id))


def _templates(egress: api.EgressInfo) -> list[str]:
    request = egress.participant if egress.WhichOneof("request") == "participant" \
        else egress.room_composite
    return ([o.filepath for o in request.file_outputs]
            + [o.playlist_name for o in request.segment_outputs])


def started_by_console(egress: api.EgressInfo) -> bool:
    """Whether a console asked for this egress (its file template carries the console's tag)."""
    return any(_CONSOLE_TEMPLATE.search(t) for t in _templates(egress))


def options_from_egress(egress: api.EgressInfo) -> RecordingOptions:
    """The each-participant options a participant's egress was started with."""
    request = egress.participant
    preset = next((p for p, value in PRESETS.items() if value == request.preset), None) \
        if request.WhichOneof("options") == "preset" else None
    advanced = None
    if request.WhichOneof("options") == "advanced":
        a = request.advanced
        advanced = Advanced(a.width, a.height, int(a.framerate), a.video_bitrate,
                            a.audio_bitrate, a.key_frame_interval)
    return RecordingOptions(
        preset=preset, advanced=advanced, screen_share=request.screen_share,
        output=OutputFormat.HLS if request.segment_outputs else OutputFormat.MP4,
        each_participant=True)


def session_of(egress: api.EgressInfo) -> str:
    """The session tag a console's participant recording shares with the other files of
    its session ("" for anything else)."""
    if egress.WhichOneof("request") != "participant":
        return ""
    for template in _templates(egress):
        if (match := _CONSOLE_TEMPLATE.search(template)) and len(match[0]) > 20:
            return match[0][7:13]
    return ""


def describe_starter(egress: api.EgressInfo) -> str:
    """Who started an egress, as far as its request tells: words for a moderator."""
    return "a recording console" if started_by_console(egress) else "another app"
