"""A joined room, through the LiveKit Python realtime SDK, without Qt.

:class:`RoomSession` connects, follows participants and tracks, and hands every
remote video frame to :meth:`SessionEvents.video_frame` as the SDK's I420 frame.
Each video stream keeps only its newest frame (a ring of one): frames that come
faster than they are taken are dropped, never queued. Remote audio comes to
:meth:`SessionEvents.audio_frame` as 48 kHz mono 16-bit frames (when the session
is made with ``audio=True``). The window adapts the callbacks to Qt signals;
tests and benchmarks use them directly. A recording made on this computer gets
the same frames through :meth:`RoomSession.attach_tap`.

Adaptive video (as LiveKit's browser SDK's adaptiveStream): whoever shows the
videos tells the session, per track, :meth:`RoomSession.show_video` with the height
it is drawn at, or :meth:`RoomSession.hide_video` when it is out of sight. A shown
video is received in the simulcast layer that fits that height (the Python SDK lets
a subscriber choose a layer, low, medium or high, not send its size); a hidden one
is unsubscribed, so that neither the server nor this process spends anything on it,
and subscribed again when shown: its tile stays. Events made with
``adaptive_video = True`` (the window's) receive no video until told to show it;
others receive every video, as before. While a recording taps the session, every
video is received, in full.
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
from recconsole.realtime.sdk_log import summarise_overflows

log = logging.getLogger(__name__)


class SessionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"


# The layers the LiveKit SDKs publish for a source at least 540 pixels high (smaller
# sources get no smaller layers: the Python SDK's lower layer of a 640x360 source is
# 640x360 too, at a lower bitrate), lowest first; the top layer is the source itself.
_LAYERS = ((180, rtc.VideoQuality.VIDEO_QUALITY_LOW),
           (360, rtc.VideoQuality.VIDEO_QUALITY_MEDIUM))
_LAYERED_FROM = 540


def quality_for(height: int, source_height: int) -> rtc.VideoQuality.ValueType:
    """The simulcast layer to receive to draw a ``source_height`` video ``height`` pixels
    high: the smallest one at least that high (0, or an unknown source: the full one)."""
    if height > 0 and source_height >= _LAYERED_FROM:
        for layer_height, quality in _LAYERS:
            if height <= layer_height:
                return quality
    return rtc.VideoQuality.VIDEO_QUALITY_HIGH


class SessionEvents:
    """What a session reports; override what you need (every default does nothing).

    ``adaptive_video``: True when whoever handles these events says which videos to
    receive (:meth:`RoomSession.show_video`); a video is then announced as soon as it
    is published and received only once shown.
    """

    adaptive_video = False

    def session_created(self, session: RoomSession) -> None: ...

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
        # Adaptive video: every video publication announced, and what is asked of it.
        self._videos: dict[str, tuple[rtc.RemoteTrackPublication, str]] = {}  # sid → pub, who
        self._shown: dict[str, int] = {}  # sid → the height it is drawn at (0: unknown)
        self._hidden: set[str] = set()
        self._subscribed: dict[str, bool] = {}  # sid → what the SDK was last asked
        self._quality: dict[str, rtc.VideoQuality.ValueType] = {}  # sid → layer asked for
        self.capture_us: dict[str, int] = {}  # sid → the newest frame's capture time, if sent
        self._overflows = summarise_overflows()
        self._wire()
        events.session_created(self)

    def _set_state(self, state: SessionState, reason: str = "") -> None:
        self.state = state
        self.events.state_changed(state, reason)

    def _wire(self) -> None:
        room, events = self.room, self.events
        room.on("participant_connected", self._on_participant_connected)
        room.on("participant_disconnected", self._on_participant_disconnected)
        room.on("track_published", self._on_track_published)
        room.on("track_subscribed", self._on_track_subscribed)
        room.on("track_unsubscribed", self._on_track_unsubscribed)
        room.on("track_unpublished", self._on_track_unpublished)
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

    def _on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        for sid in [sid for sid, (_, who) in self._videos.items()
                    if who == participant.identity]:
            self._forget_video(sid)
        self.events.participant_left(participant.identity)

    def attach_tap(self, tap: FrameTap) -> None:
        """Hand ``tap`` every frame from now on, as well as to the events (a recording).

        Every video is received, in full, while a tap is attached.
        """
        for identity, name in self.participants.items():
            tap.participant_joined(identity, name)
        for sid, (kind, identity) in self._tracks.items():
            if kind == rtc.TrackKind.KIND_VIDEO:
                tap.video_added(sid, identity)
            else:
                tap.audio_added(sid)
        self.tap = tap
        for sid in self._videos:
            self._apply(sid)

    def detach_tap(self) -> None:
        self.tap = None
        for sid in self._videos:
            self._apply(sid)

    # --- adaptive video -------------------------------------------------------------

    def show_video(self, track_sid: str, height: int = 0) -> None:
        """Receive this video, in the layer that fits ``height`` pixels (0: the full one)."""
        self._hidden.discard(track_sid)
        self._shown[track_sid] = max(0, height)
        if track_sid in self._videos:
            self._apply(track_sid)

    def hide_video(self, track_sid: str) -> None:
        """Stop receiving this video (unsubscribe) until it is shown again."""
        self._hidden.add(track_sid)
        if track_sid in self._videos:
            self._apply(track_sid)

    def receiving(self, track_sid: str) -> bool:
        """Whether this video is asked for (subscribed or being subscribed)."""
        return self._subscribed.get(track_sid, False)

    def requested_quality(self, track_sid: str) -> rtc.VideoQuality.ValueType | None:
        """The simulcast layer last asked for (None: none asked, the server's choice)."""
        return self._quality.get(track_sid)

    def _wanted(self, sid: str) -> tuple[bool, rtc.VideoQuality.ValueType]:
        """Whether to receive a video now, and in which layer."""
        if self.tap is not None:
            return True, rtc.VideoQuality.VIDEO_QUALITY_HIGH
        if sid in self._hidden:
            return False, rtc.VideoQuality.VIDEO_QUALITY_HIGH
        if sid not in self._shown:
            return not self.events.adaptive_video, rtc.VideoQuality.VIDEO_QUALITY_HIGH
        publication, _ = self._videos[sid]
        return True, quality_for(self._shown[sid], publication.height)

    def _apply(self, sid: str) -> None:
        """Ask the SDK for what is wanted of a video, when it differs from what it has."""
        if self.state is SessionState.DISCONNECTED:
            return  # the room is gone: nothing to ask
        publication, _ = self._videos[sid]
        subscribe, quality = self._wanted(sid)
        if self._subscribed.get(sid) != subscribe:
            self._subscribed[sid] = subscribe
            publication.set_subscribed(subscribe)
            if not subscribe:
                self._quality.pop(sid, None)
        if subscribe and publication.simulcasted and self._quality.get(sid) != quality:
            self._quality[sid] = quality
            publication.set_video_quality(quality)

    def _announce_video(self, publication: rtc.RemoteTrackPublication, identity: str,
                        subscribed: bool) -> None:
        sid = publication.sid
        if sid in self._videos:
            return
        self._videos[sid] = (publication, identity)
        self._subscribed[sid] = subscribed
        self._tracks[sid] = (rtc.TrackKind.KIND_VIDEO, identity)
        if self.tap is not None:
            self.tap.video_added(sid, identity)
        self.events.video_added(sid, identity)
        self._apply(sid)

    def _forget_video(self, sid: str) -> None:
        entry = self._videos.pop(sid, None)
        pump = self._pumps.pop(sid, None)
        if pump is not None:
            pump.cancel()
        for state in (self._shown, self._subscribed, self._quality, self.capture_us):
            state.pop(sid, None)
        self._hidden.discard(sid)
        self._tracks.pop(sid, None)
        if entry is None:
            return
        if self.tap is not None:
            self.tap.video_removed(sid)
        self.events.video_removed(sid, entry[1])

    def _on_track_published(self, publication: rtc.RemoteTrackPublication,
                            participant: rtc.RemoteParticipant) -> None:
        if self.events.adaptive_video:
            self._announce_publication(publication, participant)

    def _announce_publication(self, publication: rtc.RemoteTrackPublication,
                              participant: rtc.RemoteParticipant) -> None:
        """Adaptive video: announce a video, subscribe sound (nothing is automatic)."""
        if publication.kind == rtc.TrackKind.KIND_VIDEO:
            self._announce_video(publication, participant.identity, subscribed=False)
        elif publication.kind == rtc.TrackKind.KIND_AUDIO and self.audio:
            publication.set_subscribed(True)

    def _on_track_unpublished(self, publication: rtc.RemoteTrackPublication,
                              participant: rtc.RemoteParticipant) -> None:
        if publication.sid in self._videos:
            self._forget_video(publication.sid)

    def _on_disconnected(self, reason: object) -> None:
        if self.state is not SessionState.DISCONNECTED:  # not after a disconnect() of ours
            self._set_state(SessionState.DISCONNECTED, _reason_name(reason))

    async def connect(self, timeout: float = 15.0) -> None:
        """Join; raises CredentialsRejected or ServerUnreachable with a readable reason."""
        self._set_state(SessionState.CONNECTING)
        try:
            async with asyncio.timeout(timeout):
                await self.room.connect(self.url, self._token, rtc.RoomOptions(
                    auto_subscribe=not self.events.adaptive_video))
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
                if self.events.adaptive_video:
                    for publication in list(participant.track_publications.values()):
                        self._announce_publication(publication, participant)
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
        self._overflows.flush(log)
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
            self._quality.pop(sid, None)  # a new subscription: say the layer again
            if sid in self._videos:
                self._apply(sid)
            else:
                self._announce_video(publication, participant.identity, subscribed=True)
            if not self._subscribed.get(sid) or sid in self._pumps:
                return  # hidden meanwhile: its unsubscription is on the way
            pump = self._pump(sid, track)
        elif track.kind == rtc.TrackKind.KIND_AUDIO and self.audio:
            if tap is not None:
                tap.audio_added(sid)
            self.events.audio_added(sid, participant.identity)
            pump = self._pump_audio(sid, track)
            self._tracks[sid] = (track.kind, participant.identity)
        else:
            return
        self._pumps[sid] = asyncio.ensure_future(pump)

    def _on_track_unsubscribed(
        self, track: rtc.Track, publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        sid = publication.sid
        pump = self._pumps.pop(sid, None)
        if pump is not None:
            pump.cancel()
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            if sid in self._videos and self._subscribed.get(sid):
                self._forget_video(sid)  # not asked for: the track went away
            return
        if pump is None:
            return
        self._tracks.pop(sid, None)
        if self.tap is not None:
            self.tap.audio_removed(sid)
        self.events.audio_removed(sid, participant.identity)

    async def _pump(self, track_sid: str, track: rtc.Track) -> None:
        # capacity=1: only the newest frame waits; late ones are dropped by the SDK.
        stream = rtc.VideoStream(track, capacity=1, format=rtc.VideoBufferType.I420)
        try:
            async for event in stream:
                if event.metadata is not None and event.metadata.user_timestamp:
                    self.capture_us[track_sid] = event.metadata.user_timestamp
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
