"""Room session events as Qt signals (frames go straight to the room view), and the
room view's wishes (which videos are in sight, how big) back to the session."""

from __future__ import annotations

from typing import Any

from livekit import rtc
from PySide6.QtCore import QObject, Signal

from recconsole.realtime.session import RoomSession, SessionEvents, SessionState
from recconsole.ui.audio_output import RoomAudio
from recconsole.ui.room_view import RoomView


class SessionBridge(QObject, SessionEvents):
    """Re-emits what a RoomSession reports, on the GUI thread (qasync runs both there).

    Signals:
        stateChanged(str, str): state and reason.
        participantJoined(str, str), participantLeft(str): identity (and name).
        videoAdded(str, str), videoRemoved(str, str): track sid and identity.
        audioAdded(str, str), audioRemoved(str, str): track sid and identity.
        mutedChanged(str, bool), speakersChanged(list): who is muted / speaking.
        trackMutedChanged(str, str, bool): identity, track sid, muted.
        metadataChanged(dict): the room's metadata.
        dataReceived(str, bytes): topic and payload of a data message.
    """

    stateChanged = Signal(str, str)
    participantJoined = Signal(str, str)
    participantLeft = Signal(str)
    videoAdded = Signal(str, str)
    videoRemoved = Signal(str, str)
    audioAdded = Signal(str, str)
    audioRemoved = Signal(str, str)
    mutedChanged = Signal(str, bool)
    trackMutedChanged = Signal(str, str, bool)
    speakersChanged = Signal(list)
    metadataChanged = Signal(dict)
    dataReceived = Signal(str, bytes)

    adaptive_video = True  # the room view says which videos it shows

    def __init__(self, room_view: RoomView, audio: RoomAudio | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._room_view: RoomView | None = room_view
        self._audio = audio
        self._session: RoomSession | None = None
        room_view.videoShown.connect(self._video_shown)
        room_view.videoHidden.connect(self._video_hidden)

    def session_created(self, session: RoomSession) -> None:
        self._session = session

    def _video_shown(self, track_sid: str, height: int) -> None:
        if self._session is not None:
            self._session.show_video(track_sid, height)

    def _video_hidden(self, track_sid: str) -> None:
        if self._session is not None:
            self._session.hide_video(track_sid)

    def detach(self) -> None:
        """Pass nothing on any more (the room is done; the session may still report)."""
        self._room_view, self._audio, self._session = None, None, None
        for signal in (self.stateChanged, self.participantJoined, self.participantLeft,
                       self.videoAdded, self.videoRemoved, self.audioAdded, self.audioRemoved,
                       self.mutedChanged, self.trackMutedChanged, self.speakersChanged,
                       self.metadataChanged, self.dataReceived):
            signal.disconnect()

    def state_changed(self, state: SessionState, reason: str) -> None:
        self.stateChanged.emit(state.value, reason)

    def participant_joined(self, identity: str, name: str) -> None:
        self.participantJoined.emit(identity, name)

    def participant_left(self, identity: str) -> None:
        self.participantLeft.emit(identity)

    def video_added(self, track_sid: str, identity: str) -> None:
        self.videoAdded.emit(track_sid, identity)

    def video_removed(self, track_sid: str, identity: str) -> None:
        self.videoRemoved.emit(track_sid, identity)

    def video_frame(self, track_sid: str, frame: rtc.VideoFrame) -> None:
        if self._room_view is not None:
            captured = self._session.capture_us.get(track_sid, 0) if self._session else 0
            self._room_view.show_frame(track_sid, frame, captured)  # per frame: no signal

    def audio_added(self, track_sid: str, identity: str) -> None:
        if self._audio is not None:
            self._audio.add_track(track_sid, identity)
        self.audioAdded.emit(track_sid, identity)

    def audio_removed(self, track_sid: str, identity: str) -> None:
        if self._audio is not None:
            self._audio.remove_track(track_sid)
        self.audioRemoved.emit(track_sid, identity)

    def audio_frame(self, track_sid: str, frame: rtc.AudioFrame) -> None:
        if self._audio is not None:
            self._audio.push(track_sid, frame)  # per frame: no signal in between

    def muted_changed(self, identity: str, track_sid: str, muted: bool) -> None:
        self.mutedChanged.emit(identity, muted)
        self.trackMutedChanged.emit(identity, track_sid, muted)

    def speakers_changed(self, identities: list[str]) -> None:
        self.speakersChanged.emit(identities)

    def metadata_changed(self, metadata: dict[str, Any]) -> None:
        self.metadataChanged.emit(metadata)

    def data_received(self, topic: str, payload: bytes, sender: str) -> None:
        self.dataReceived.emit(topic, payload)
