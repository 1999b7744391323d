"""A joined room, through the LiveKit Python realtime SDK, without Qt.

:class:`RoomSession` connects, follows participants and tracks, and hands every
remote video frame to :meth:`SessionEvents.video_frame` as the SDK's I420 frame.
Each video stream keeps only its newest frame (a ring of one): frames that come
faster than they are taken are dropped, never queued. Remote audio comes to
:meth:`SessionEvents.audio_frame` as 48 kHz mono 16-bit frames (when the session
is made with ``audio=True``). The window adapts the callbacks to Qt signals;
tests and benchmarks use them directly. A recording made on this computer gets
the same frames through :meth:`RoomSession.attach_tap`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from enum import StrEnum
from typing import Any

from livekit import rtc

from recconsole.core.errors import ConsoleError, CredentialsRejected, ServerUnreachable
from recconsole.core.livekit_server import parse_metadata, ws_url
from recconsole.core.redaction import redact
from recconsole.realtime.audio import CHANNELS as AUDIO_CHANNELS
from recconsole.realtime.audio import SAMPLE_RATE as AUDIO_RATE
from recconsole.realtime.local_recording import FrameTap
from recconsole.realtime.local_tracks import LocalAudio, LocalVideo

log = logging.getLogger(__name__)


class SessionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"


class SessionEvents:
    """What a session reports; override what you need (every default does nothing)."""

    def state_changed(self, state: SessionState, reason: str) -> None: ...

    def participant_joined(self, identity: str, name: str) -> None: ...

    def participant_left(self, identity: str) -> None: ...

    def video_added(self, track_sid: str, identity: str) -> None: ...

    def video_removed(self, track_sid: str, identity: str) -> None: ...

    def video_frame(self, track_sid: str, frame: rtc.VideoFrame) -> None: ...

    def audio_added(self, track_sid: str, identity: str) -> None: ...

    def audio_removed(self, track_sid: str, identity: str) -> None: ...

    def audio_frame(self, track_sid: str, frame: rtc.AudioFrame) -> None: ...

    def muted_changed(self, identity: str, track_sid: str, muted: bool) -> None: ...

    def speakers_changed(self, identities: list[str]) -> None: ...

    def metadata_changed(self, metadata: dict[str, Any]) -> None: ...

    def data_received(self, topic: str, payload: bytes, sender: str) -> None: ...


def _reason_name(reason: object) -> str:
    try:
        return rtc.DisconnectReason.Name(reason)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return str(reason)


def _connect_error(url: str, err: Exception) -> ConsoleError:
    text = str(err)
    if "401" in text or "Unauthorized" in text:
        return CredentialsRejected(
            "The server rejected the access token: credentials rejected by the server.")
    return ServerUnreachable(f"Cannot join through {url}: {redact(text)[:200]}")


class RoomSession:
    """One room joined with a token; reports through ``events``."""

    def __init__(self, url: str, token: str, events: SessionEvents, audio: bool = False) -> None:
        self.url = ws_url(url)
        self.audio = audio
        self._token = token
        self.events = events
        self.room = rtc.Room()
        self.state = SessionState.DISCONNECTED
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._tracks: dict[str, tuple[rtc.TrackKind.ValueType, str]] = {}  # sid → kind, who
        self.tap: FrameTap | None = None
        self._wire()

    def _set_state(self, state: SessionState, reason: str = "") -> None:
        self.state = state
        self.events.state_changed(state, reason)

    def _wire(self) -> None:
        room, events = self.room, self.events
        room.on("participant_connected", self._on_participant_connected)
        room.on("participant_disconnected", lambda p: events.participant_left(p.identity))
        room.on("track_subscribed", self._on_track_subscribed)
        room.on("track_unsubscribed", self._on_track_unsubscribed)
        room.on("track_muted", lambda p, pub: events.muted_changed(p.identity, pub.sid, True))
        room.on("track_unmuted", lambda p, pub: events.muted_changed(p.identity, pub.sid, False))
        room.on("active_speakers_changed",
                lambda speakers: events.speakers_changed([s.identity for s in speakers]))
        room.on("room_metadata_changed",
                lambda _old, new: events.metadata_changed(parse_metadata(new)))
        room.on("data_received", lambda packet: events.data_received(
            packet.topic or "", bytes(packet.data),
            packet.participant.identity if packet.participant else ""))
        room.on("reconnecting", lambda: self._set_state(SessionState.RECONNECTING))
        room.on("reconnected", lambda: self._set_state(SessionState.CONNECTED))
        room.on("disconnected", self._on_disconnected)

    def _on_participant_connected(self, participant: rtc.RemoteParticipant) -> None:
        name = participant.name or participant.identity
        if self.tap is not None:
            self.tap.participant_joined(participant.identity, name)
        self.events.participant_joined(participant.identity, name)

    def attach_tap(self, tap: FrameTap) -> None:
        """Hand ``tap`` every frame from now on, as well as to the events (a recording)."""
        for identity, name in self.participants.items():
            tap.participant_joined(identity, name)
        for sid, (kind, identity) in self._tracks.items():
            if kind == rtc.TrackKind.KIND_VIDEO:
                tap.video_added(sid, identity)
            else:
                tap.audio_added(sid)
        self.tap = tap

    def detach_tap(self) -> None:
        self.tap = None

    def _on_disconnected(self, reason: object) -> None:
        if self.state is not SessionState.DISCONNECTED:  # not after a disconnect() of ours
            self._set_state(SessionState.DISCONNECTED, _reason_name(reason))

    async def connect(self, timeout: float = 15.0) -> None:
        """Join; raises CredentialsRejected or ServerUnreachable with a readable reason."""
        self._set_state(SessionState.CONNECTING)
        try:
            async with asyncio.timeout(timeout):
                await self.room.connect(self.url, self._token,
                                        rtc.RoomOptions(auto_subscribe=True))
        except TimeoutError:
            error: ConsoleError = ServerUnreachable(
                f"Cannot join through {self.url}: no answer within {timeout:.0f} s")
        except rtc.ConnectError as err:
            error = _connect_error(self.url, err)
        else:
            self._set_state(SessionState.CONNECTED)
            for participant in self.room.remote_participants.values():
                self.events.participant_joined(participant.identity,
                                               participant.name or participant.identity)
            self.events.metadata_changed(parse_metadata(self.room.metadata))
            return
        self._set_state(SessionState.DISCONNECTED, str(error))
        raise error

    async def publish_camera(self, width: int, height: int) -> LocalVideo:
        """Publish a camera track of about this size; push frames to what is returned."""
        source = rtc.VideoSource(width, height)
        track = rtc.LocalVideoTrack.create_video_track("camera", source)
        publication = await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA))
        return LocalVideo(source, publication.sid)

    async def publish_microphone(self) -> LocalAudio:
        """Publish a microphone track; push 48 kHz mono 16-bit PCM to what is returned."""
        source = rtc.AudioSource(AUDIO_RATE, AUDIO_CHANNELS)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
        publication = await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
        return LocalAudio(source, publication.sid)

    async def unpublish(self, local: LocalVideo | LocalAudio) -> None:
        """Stop sending a published track and remove it from the room."""
        await local.aclose()
        if self.room.isconnected():
            await self.room.local_participant.unpublish_track(local.sid)

    async def disconnect(self) -> None:
        for task in self._pumps.values():
            task.cancel()
        for task in list(self._pumps.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pumps.clear()
        await self.room.disconnect()
        if self.state is not SessionState.DISCONNECTED:  # the SDK's event may come later
            self._set_state(SessionState.DISCONNECTED)

    @property
    def participants(self) -> dict[str, str]:
        """Remote participants: identity → display name."""
        return {p.identity: p.name or p.identity for p in self.room.remote_participants.values()}

    def _on_track_subscribed(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        tap, sid = self.tap, publication.sid
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            if tap is not None:
                tap.video_added(sid, participant.identity)
            self.events.video_added(sid, participant.identity)
            pump = self._pump(sid, track)
        elif track.kind == rtc.TrackKind.KIND_AUDIO and self.audio:
            if tap is not None:
                tap.audio_added(sid)
            self.events.audio_added(sid, participant.identity)
            pump = self._pump_audio(sid, track)
        else:
            return
        self._tracks[sid] = (track.kind, participant.identity)
        self._pumps[publication.sid] = asyncio.ensure_future(pump)

    def _on_track_unsubscribed(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        pump = self._pumps.pop(publication.sid, None)
        if pump is None:
            return
        pump.cancel()
        self._tracks.pop(publication.sid, None)
        tap = self.tap
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            if tap is not None:
                tap.audio_removed(publication.sid)
            self.events.audio_removed(publication.sid, participant.identity)
        else:
            if tap is not None:
                tap.video_removed(publication.sid)
            self.events.video_removed(publication.sid, participant.identity)

    async def _pump(self, track_sid: str, track: rtc.Track) -> None:
        # capacity=1: only the newest frame waits; late ones are dropped by the SDK.
        stream = rtc.VideoStream(track, capacity=1, format=rtc.VideoBufferType.I420)
        try:
            async for event in stream:
                self.events.video_frame(track_sid, event.frame)
                if self.tap is not None:
                    self.tap.video_frame(track_sid, event.frame)
        finally:
            await stream.aclose()

    async def _pump_audio(self, track_sid: str, track: rtc.Track) -> None:
        # Half a second of 10 ms frames at most; beyond that the oldest are dropped.
        stream = rtc.AudioStream(track, sample_rate=AUDIO_RATE, num_channels=AUDIO_CHANNELS,
                                 capacity=50)
        try:
            async for event in stream:
                self.events.audio_frame(track_sid, event.frame)
                if self.tap is not None:
                    self.tap.audio_frame(track_sid, event.frame)
        finally:
            await stream.aclose()
