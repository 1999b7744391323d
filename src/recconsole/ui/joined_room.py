"""One joined room: what happens when the console joins, is in, records and leaves a room.

A :class:`JoinedRoom` is made by the main window for each room it joins. It owns the
room's connection (a RoomSession), its tiles and people (RoomView), its sound
(RoomAudio), the moderator's own camera and microphone (LocalMedia), recording
control (the Record button with its options, badge, clock and countdown, and the
recordings made on this computer) and the room's recordings table. The window only
places its :attr:`page` (the record bar over the tiles and the recordings), one per
room joined, and hears what it reports through signals.

Joining, in order (:meth:`join`): the room is made if missing (with this app's
metadata), a token is minted (or fetched from the application server), the session
connects with the room's sound, this console's identity is noted (so it is never
offered or recorded as a participant), and the room's recording status is reconciled
with the egresses really running. Then :attr:`joined` is emitted.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from livekit import api
from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from recconsole.core.errors import EgressUnavailable, NotRecording
from recconsole.core.events import DuplicateStopped, RecordingSaved, StatusPolled
from recconsole.core.livekit_server import RECORDING_DELETED_TOPIC
from recconsole.core.recorder import StartOptions
from recconsole.core.recording_limits import LimitEnforcer
from recconsole.core.recording_options import BadRecordingOptions
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.rooms import RoomControl, Source
from recconsole.core.tokens import fetch_token, mint_token
from recconsole.realtime.session import RoomSession, SessionState
from recconsole.realtime.spool import SpooledRecording
from recconsole.ui.audio_output import RoomAudio
from recconsole.ui.local_media import LocalMedia
from recconsole.ui.local_recording_controls import LocalRecordingControls
from recconsole.ui.recording_options_panel import RecordingOptionsButton
from recconsole.ui.recordings_page import RecordingsPage
from recconsole.ui.room_view import RoomView
from recconsole.ui.services import ConsoleServices
from recconsole.ui.session_bridge import SessionBridge
from recconsole.ui.tasks import AsyncRunner

STOP_WHEN_EMPTY_AFTER = 30.0  # seconds with nobody left before the recording stops
# The SDK's disconnect reasons, in words.
_DISCONNECT_REASONS = {
    "UNKNOWN_REASON": "",
    "CLIENT_INITIATED": "you left the room",
    "DUPLICATE_IDENTITY": "someone joined with the same identity",
    "SERVER_SHUTDOWN": "the LiveKit server shut down",
    "PARTICIPANT_REMOVED": "you were removed from the room",
    "ROOM_DELETED": "the room was closed",
    "ROOM_CLOSED": "the room was closed",
    "STATE_MISMATCH": "the server lost track of this connection",
    "JOIN_FAILURE": "the room could not be joined",
    "MIGRATION": "the room moved to another server",
    "SIGNAL_CLOSE": "the connection to the server closed",
    "CONNECTION_TIMEOUT": "the connection timed out",
    "MEDIA_FAILURE": "sound and video could not get through",
}
_BADGE = {
    RecordingStatus.STOPPED: ("Not recording", "#5a6375"),
    RecordingStatus.STARTING: ("Starting…", "#b7791f"),
    RecordingStatus.STARTED: ("Recording", "#c53030"),
    RecordingStatus.STOPPING: ("Stopping…", "#b7791f"),
    RecordingStatus.FAILED: ("Failed", "#9b2c2c"),
}
UrlFor = Callable[[str], Coroutine[Any, Any, str]]


class JoinedRoom(QObject):
    """A room the console joins: its session, media, sound, recording and recordings.

    Signals:
        joined(): connected; the room's name is the server's (:attr:`room_name`).
        joinFailed(str): the join did not succeed, with the reason.
        left(): the console left the room or was disconnected; the room is done.
        failed(str): an error for the moderator (the window shows it until dismissed).
        message(str, int): a passing message and for how long (ms).
        logged(str): a line for the event log.
        connectionChanged(str): the connection's state, in words.
        recordingDeleted(str): a recording of this room was deleted elsewhere.
        soundSwitched(bool): the room's sound was turned on or off on this console.
        statusChanged(RecordingStatus): the room's recording status changed.
    """

    joined = Signal()
    joinFailed = Signal(str)
    left = Signal()
    failed = Signal(str)
    message = Signal(str, int)
    logged = Signal(str)
    connectionChanged = Signal(str)
    recordingDeleted = Signal(str)
    soundSwitched = Signal(bool)
    statusChanged = Signal(object)

    def __init__(self, services: ConsoleServices, room: str, *,
                 confirm: Callable[[str], bool], url_for: UrlFor,
                 limits: Callable[[], LimitEnforcer | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.services, self.settings = services, services.settings
        # The room's own work: it is deleted once the last of it has ended.
        self.runner = runner = AsyncRunner(self)
        runner.failed.connect(self.failed)
        self.room_name = room  # as typed; the server's own once joined
        self.session: RoomSession | None = None
        self.observer = False
        self.status = RecordingStatus.STOPPED
        self.connection_text = ""  # the connection's state, as last said
        self._confirm, self._limits = confirm, limits
        self._started_at: float | None = None
        self._since = time.monotonic()  # when the status last changed
        self._stage_text = ""  # what the start in progress waits for
        self._egress_id = ""  # the recording this console started, while it runs
        self._options: StartOptions | None = None
        self._created_by: object = None  # the room's metadata says who made it
        self._done = False
        self.room_view = RoomView()
        self.audio = RoomAudio(self)
        self.media = LocalMedia(runner, self)
        # Owned by the window: the session may report a last event after the room is done
        # (the bridge is detached then, and passes nothing on).
        self.bridge = SessionBridge(self.room_view, self.audio, parent)
        self.room_recordings = RecordingsPage(services.catalog, runner, services.recordings)
        self.room_recordings.url_for = url_for
        self.control = RoomControl(services.server, services.recorder)
        self.local_recording = LocalRecordingControls(services.local, self)
        self._build()
        self._wire()
        self._show_status(RecordingStatus.STOPPED)

    # --- layout -------------------------------------------------------------------------

    def _build(self) -> None:
        self.record_button = QPushButton("Start recording")
        self.record_button.setObjectName("record")
        self.record_button.setEnabled(False)
        self.options_button = RecordingOptionsButton(self.services.recorder.options,
                                                     QSettings())
        self.badge = QLabel()
        self.badge.setObjectName("badge")
        self.clock = QLabel()
        self.clock.setObjectName("clock")
        self.stage = QLabel()  # what a start waits for, or when an empty room stops it
        self.stage.setObjectName("subtitle")
        self.max_minutes = QSpinBox()
        self.max_minutes.setRange(0, 24 * 60)
        self.max_minutes.setSuffix(" min max")
        self.max_minutes.setSpecialValueText("no time limit")
        self.stop_when_empty = QCheckBox("stop when everyone has left")
        self.room_label = QLabel()
        self.room_label.setObjectName("roomName")
        self.sound_button = QPushButton()
        self.sound_button.setCheckable(True)
        self._show_sound(False)
        self.camera_button = QPushButton("Camera")
        self.microphone_button = QPushButton("Microphone")
        for button in (self.camera_button, self.microphone_button):
            button.setCheckable(True)
        self.leave_button = QPushButton("Leave")
        self.leave_button.setEnabled(False)
        bar = QHBoxLayout()
        widgets: list[QWidget] = [self.room_label, self.record_button,
                                  self.local_recording.menu_button, self.options_button,
                                  self.badge, self.clock, self.local_recording.figures]
        for widget in widgets:
            bar.addWidget(widget)
        # The stage takes the room left in the bar and never widens the window (a long
        # text is cut; its tooltip says the rest).
        self.stage.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.stage, 1)
        widgets = [self.max_minutes, self.stop_when_empty, self.camera_button,
                   self.microphone_button, self.sound_button, self.leave_button]
        for widget in widgets:
            bar.addWidget(widget)
        self.bar = QWidget()  # the record bar
        bar.setContentsMargins(0, 0, 0, 0)
        self.bar.setLayout(bar)
        self.view = self.room_split = QSplitter(Qt.Orientation.Vertical)
        self.room_split.addWidget(self.room_view)
        self.room_split.addWidget(self.room_recordings)
        self.room_split.setStretchFactor(0, 4)
        self.room_split.setStretchFactor(1, 1)
        self.room_split.setChildrenCollapsible(True)
        self.page = QWidget()  # what the window shows of the room: the bar over the view
        page = QVBoxLayout(self.page)
        page.setContentsMargins(0, 6, 0, 0)
        page.addWidget(self.bar)
        page.addWidget(self.view, 1)

        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(1000)
        self._refresh_timer = QTimer(self)  # this room's table, a moment after a recording
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(3000)

    def _wire(self) -> None:
        self.leave_button.clicked.connect(self.leave)
        self.record_button.clicked.connect(self.toggle_recording)
        events = self.services.events
        self._unsubscribe = [events.subscribe(RecordingSaved, self._recording_saved),
                             events.subscribe(StatusPolled, self._polled),
                             events.subscribe(DuplicateStopped, self._duplicate_stopped)]
        self._clock_timer.timeout.connect(self._tick)
        self._refresh_timer.timeout.connect(self._refresh_room_recordings)
        b, view = self.bridge, self.room_view
        b.stateChanged.connect(self._on_state)
        b.participantJoined.connect(view.add_participant)
        b.participantLeft.connect(view.remove_participant)
        b.participantJoined.connect(self._participant_joined)
        b.participantLeft.connect(lambda _who: self._offer_participants())
        b.videoAdded.connect(lambda sid, who: view.add_video(sid, who))
        b.videoRemoved.connect(lambda sid, _who: view.remove_video(sid))
        b.audioAdded.connect(view.add_audio)
        b.audioRemoved.connect(lambda sid, _who: view.remove_audio(sid))
        view.hearToggled.connect(lambda who, hear: self.audio.set_person_muted(who, not hear))
        self.sound_button.toggled.connect(self.audio.set_muted)
        self.audio.mutedChanged.connect(self._show_sound)
        self.audio.mutedChanged.connect(lambda muted: self.soundSwitched.emit(not muted))
        self.camera_button.clicked.connect(self._toggle_camera)
        self.microphone_button.clicked.connect(self._toggle_microphone)
        self.media.cameraChanged.connect(self._camera_changed)
        self.media.microphoneChanged.connect(self.microphone_button.setChecked)
        self.media.failed.connect(self._media_failed)
        b.mutedChanged.connect(view.set_muted)
        b.trackMutedChanged.connect(view.set_track_muted)
        view.muteRequested.connect(self.mute_participant)
        view.removeRequested.connect(self.remove_participant)
        self.local_recording.choice.toggled.connect(self._recording_here)
        b.speakersChanged.connect(view.set_speaking)
        b.metadataChanged.connect(self._on_metadata)
        b.dataReceived.connect(self._on_data)

    # --- joining ------------------------------------------------------------------------

    def join(self, name: str, observer: bool) -> None:
        """Connect as ``name`` (hidden when ``observer``); joined or joinFailed follows."""
        self.observer = observer
        self.runner.run(self._join(self.room_name, name, observer),
                        on_success=self._joined, on_failure=self._join_failed)

    async def _join(self, room: str, name: str, observer: bool) -> RoomSession:
        settings, server = self.settings, self.services.server
        await server.ensure_room(room)
        identity = f"console-{uuid.uuid4().hex[:6]}"
        if settings.app_server_url:
            token = await fetch_token(settings.app_server_url, room, name)
        else:
            token = mint_token(settings.livekit_api_key, settings.livekit_api_secret.value,
                               room, identity, name, observer=observer)
        session = RoomSession(settings.livekit_url, token, self.bridge, audio=True)
        await session.connect()
        # The identity the server knows: an application server's token names its own.
        self.services.recorder.console_identities.add(session.room.local_participant.identity)
        await self.services.recorder.reconcile(room)
        return session

    def _joined(self, session: RoomSession) -> None:
        self.session = session
        self.room_name = session.room.name
        self.room_recordings.show_room(self.room_name)
        self.room_label.setText(self.room_name)
        self.leave_button.setEnabled(True)
        self.record_button.setEnabled(True)
        self._enable_media()
        self.joined.emit()

    def _join_failed(self, message: str) -> None:
        self.joinFailed.emit(message)

    def leave(self) -> None:
        if self.session is None:
            return
        if self.local_recording.recording(self.room_name) and not self._confirm(
                "This computer is recording the room. Stop the recording (it is uploaded)"
                " and leave?"):
            return
        session, self.session = self.session, None
        self.leave_button.setEnabled(False)
        self.record_button.setEnabled(False)
        self.runner.run(self._leave(session), on_success=lambda _: self._left())

    async def _leave(self, session: RoomSession) -> None:
        await self.stop_local_recording("the console left the room")
        await self.media.aclose()
        await session.disconnect()

    async def stop_local_recording(self, why: str) -> None:
        """Stop the recording this computer makes of the room, if it makes one.

        On the room's runner: a room that ends meanwhile (its connection drops as the
        console quits) is deleted once the stop is done, not under it.
        """
        if self.local_recording.recording(self.room_name):
            with contextlib.suppress(NotRecording):
                await self.runner.run(self.local_recording.stop(self.room_name, why),
                                      on_failure=lambda _message: None)  # raised here

    async def leave_now(self) -> None:
        """Leave at once, asking nothing (the console quits)."""
        # No session first: the SDK's "disconnected" that comes meanwhile is then ours,
        # not a dropped connection (which would end the room under this call).
        session, self.session = self.session, None
        if session is not None:
            await self.media.aclose()
            await session.disconnect()
        self.audio.close()

    def _left(self) -> None:
        if self.media.video is not None or self.media.audio is not None:
            self.runner.run(self.media.aclose())  # the connection dropped under them
        self.audio.close()
        self.room_view.set_preview(None)
        for button in (self.camera_button, self.microphone_button):
            button.setChecked(False)
        self.room_view.clear()
        self._stage_text = ""
        self._show_status(RecordingStatus.STOPPED)
        self.left.emit()

    def stop_timers(self) -> None:
        """Nothing of the room starts work any more (it is done, or the loop is closing)."""
        for timer in (self._clock_timer, self._refresh_timer):
            timer.stop()
        self.room_recordings.stop_retrying()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def dispose(self) -> None:
        """The room is done: nothing reaches it any more, and once its last task has
        ended its widgets and itself are deleted."""
        if self._done:
            return
        self._done = True
        self.bridge.detach()
        self.stop_timers()
        self.audio.close()
        # Players opened from the room's table run on the room's runner: they go with it.
        for player in list(self.room_recordings.players):
            player.close()
        self.page.hide()
        if self.runner.busy:
            self.runner.busyChanged.connect(self._delete_when_idle)
        else:
            self._delete()

    def _delete_when_idle(self, busy: bool) -> None:
        if not busy:
            self._delete()

    def _delete(self) -> None:
        self.page.deleteLater()
        self.deleteLater()

    def _on_state(self, state: str, reason: str) -> None:
        text = {SessionState.CONNECTING: "Connecting…",
                SessionState.CONNECTED: f"Connected to {self.room_name or 'the room'}",
                SessionState.RECONNECTING: "Connection lost, reconnecting…",
                SessionState.DISCONNECTED: "Disconnected"}[SessionState(state)]
        why = _DISCONNECT_REASONS.get(reason, reason)
        self.connection_text = f"{text}{f': {why}' if why else ''}  ·  {self.settings.livekit_url}"
        self.connectionChanged.emit(self.connection_text)
        if state == SessionState.DISCONNECTED and self.session is not None and reason:
            self.session = None
            if self.local_recording.recording(self.room_name):
                self.runner.run(self.stop_local_recording(f"disconnected: {why}"))
            self.failed.emit(f"Disconnected from the room: {why}.")
            self._left()

    @property
    def sound_on(self) -> bool:
        """The room is heard on this console's speaker."""
        return self.audio.available and not self.audio.muted

    def mute_sound(self) -> None:
        """Stop playing the room on the speaker (another room is heard now)."""
        self.audio.set_muted(True)

    def _show_sound(self, muted: bool) -> None:
        self.sound_button.setChecked(muted)
        if not self.audio.available:
            self.sound_button.setText("No speaker")
            self.sound_button.setEnabled(False)
            self.sound_button.setToolTip("No audio output device was found; the room is silent.")
            return
        self.sound_button.setText("Sound off" if muted else "Sound on")
        self.sound_button.setToolTip(
            f"{'Unmute' if muted else 'Mute'} the room on this console "
            f"({self.audio.device_name}); one joined room is heard at a time: turning"
            " this room's sound on mutes the others.")

    # --- moderation ---------------------------------------------------------------------

    def mute_participant(self, identity: str, source: Source) -> None:
        room, name = self.room_name, self.room_view.name_of(identity)
        if room and self._confirm(f"Mute the {source} of {name} for everyone in {room}?"
                                  " Only they can turn it back on."):
            self.runner.run(self.control.mute(room, identity, source), on_success=lambda _n: (
                self.message.emit(f"{name}'s {source} was muted.", 10000)))

    def remove_participant(self, identity: str) -> None:
        room, name = self.room_name, self.room_view.name_of(identity)
        if room and self._confirm(f"Remove {name} from {room}? They are disconnected at once"
                                  " (they may join again)."):
            self.runner.run(self.control.remove(room, identity), on_success=lambda _n: (
                self.message.emit(f"{name} was removed from the room.", 10000)))

    # --- own camera and microphone -----------------------------------------------------

    def _enable_media(self) -> None:
        for button, available, what in (
            (self.camera_button, self.media.camera_available, "camera"),
            (self.microphone_button, self.media.microphone_available, "microphone"),
        ):
            button.setEnabled(available and not self.observer)
            button.setToolTip(
                "Joined as an observer: nothing is published." if self.observer
                else f"Share your {what} with the room." if available
                else f"No {what} was found on this computer.")

    def _toggle_camera(self, on: bool) -> None:
        if self.session is None:
            return
        if on:
            preview = self.room_view.set_preview("You")
            self.media.preview = preview.sink if preview is not None else None
            self.media.start_camera(self.session)
        else:
            self.media.stop_camera()

    def _camera_changed(self, on: bool) -> None:
        self.camera_button.setChecked(on)
        if not on:
            self.media.preview = None
            self.room_view.set_preview(None)

    def _toggle_microphone(self, on: bool) -> None:
        if self.session is None:
            return
        if on:
            self.media.start_microphone(self.session)
        else:
            self.media.stop_microphone()

    def _media_failed(self, message: str) -> None:
        self.camera_button.setChecked(self.media.video is not None)
        self.microphone_button.setChecked(self.media.audio is not None)
        if self.media.video is None:
            self.media.preview = None
            self.room_view.set_preview(None)
        self.failed.emit(message)

    # --- recording ----------------------------------------------------------------------

    def toggle_recording(self) -> None:
        room, recorder = self.room_name, self.services.recorder
        if not room:
            return
        self.record_button.setEnabled(False)
        if self.local_recording.recording(room):
            self.runner.run(self.local_recording.stop(room), on_failure=self._record_failed)
            return
        if self.status in (RecordingStatus.STARTED, RecordingStatus.STARTING):
            self.runner.run(recorder.stop(room), on_success=self._egress_answer,
                            on_failure=self._record_failed)
            return
        here = self.local_recording.choice.isChecked()
        try:  # the options are egress's: a recording made here is the grid as MP4
            recording = None if here else self.options_button.options().validate()
        except BadRecordingOptions as err:
            self._record_failed(str(err))
            return
        options = StartOptions(
            max_duration=self.max_minutes.value() * 60 or None,
            stop_when_empty_after=STOP_WHEN_EMPTY_AFTER if self.stop_when_empty.isChecked()
            else None, recording=recording)
        self._options = options
        self._since = time.monotonic()
        self._stage_text = ("starting the recording on this computer" if here
                            else "asking the egress service to start")
        self._update_stage()
        self.runner.run(self._start_recording(room, options), on_success=self._egress_answer,
                        on_failure=self._record_failed)

    async def _start_recording(
        self, room: str, options: StartOptions
    ) -> api.EgressInfo | SpooledRecording:
        """Start the egress, or record on this computer (chosen, or no egress service)."""
        if not self.local_recording.choice.isChecked():
            try:
                return await self.services.recorder.start(room, options)
            except EgressUnavailable as err:
                self.logged.emit(f"{err} Recording on this computer instead.")
                self.local_recording.choice.setChecked(True)
        if self.session is None:
            raise EgressUnavailable("The console left the room before the recording started.")
        return await self.local_recording.start(self.session, room, options.max_duration,
                                                 options.stop_when_empty_after)

    def _recording_here(self, here: bool) -> None:
        """The recording options are egress's: not offered while Record records here."""
        self.options_button.setEnabled(not here)
        if here:
            self.options_button.setToolTip(
                "Recorded on this computer: the room's grid as MP4 (these options are for"
                " the egress service).")
        else:
            self.options_button.setToolTip(
                f"Recording options: {self.options_button.options().describe()}")

    def _participant_joined(self, identity: str, _name: str) -> None:
        """Offer them in the options; record them too while each participant is."""
        self._offer_participants()
        recorder = self.services.recorder  # the listener's webhook may ask it too: once
        if self.room_name and self.room_name in recorder.sessions:
            self.runner.run(recorder.participant_joined(
                self.room_name, api.ParticipantInfo(identity=identity)))

    def _offer_participants(self) -> None:
        consoles = self.services.recorder.console_identities
        self.options_button.form.set_participants(
            sorted(i for i in self.room_view.participants() if i not in consoles))

    def _egress_answer(self, info: api.EgressInfo | SpooledRecording) -> None:
        if isinstance(info, SpooledRecording):
            self._stage_text = ""
            self.record_button.setEnabled(True)
            self._update_stage()
            return
        self._started_at = info.started_at / 1e9 if info.started_at else None
        if info.status == api.EgressStatus.EGRESS_STARTING:
            self._egress_id = info.egress_id
            self._stage_text = "the egress is joining the room and waiting for its media"
        self.record_button.setEnabled(self.status not in (RecordingStatus.STARTING,
                                                          RecordingStatus.STOPPING))
        self._update_stage()

    def _record_failed(self, message: str) -> None:
        self.record_button.setEnabled(True)
        self._stage_text = ""
        self._update_stage()
        self.failed.emit(message)

    def _on_metadata(self, metadata: dict[str, object]) -> None:
        self._created_by = metadata.get("createdBy")
        raw = metadata.get("recordingStatus")
        try:
            status = RecordingStatus(raw if isinstance(raw, str) else "STOPPED")
        except ValueError:
            return
        error = metadata.get("recordingError")
        if status is RecordingStatus.FAILED and not error and self.room_name:
            # Another app rewrote the metadata without the reason: ask the egress.
            self._show_status(status)
            self.runner.run(self.services.server.last_failure(self.room_name),
                            on_success=self._failure_reason)
            return
        self._show_status(status, str(error) if status is RecordingStatus.FAILED else "")

    def _failure_reason(self, reason: str) -> None:
        if self.status is RecordingStatus.FAILED and reason:
            self._show_status(RecordingStatus.FAILED, reason)

    def _duplicate_stopped(self, event: DuplicateStopped) -> None:
        if event.room == self.room_name:  # the event log has its own line for it
            self.message.emit(
                f"{event.kept_by.capitalize()} started recording this room at the same moment:"
                " its recording goes on, this console's was stopped.", 15000)

    def _show_status(self, status: RecordingStatus, error: str = "") -> None:
        before, self.status = self.status, status
        text, colour = _BADGE[status]
        self.badge.setText(f" ● {text} ")
        self.badge.setStyleSheet(f"color: white; background: {colour}; border-radius: 9px;"
                                 " padding: 2px 8px;")
        self.badge.setToolTip(error)
        busy = status in (RecordingStatus.STARTING, RecordingStatus.STOPPING)
        self.record_button.setEnabled(bool(self.session) and not busy)
        self.record_button.setText("Stop recording" if status is RecordingStatus.STARTED
                                   else "Start recording")
        if status is RecordingStatus.FAILED and error:
            self.failed.emit(f"The recording failed: {error}")
        if status is not before:
            self._since = time.monotonic()
            self.statusChanged.emit(status)
        if status is RecordingStatus.STARTED:
            self._started_at = self._started_at or time.time()
        else:
            self._started_at = None
            self.clock.clear()
        if status in (RecordingStatus.STOPPED, RecordingStatus.FAILED):
            self._egress_id = ""
            self._stage_text = ""
            if before.busy and self.room_recordings.room is not None:
                # A recording ended: its file shows even where no metadata is written
                # (a room another app created records through that app's listener).
                self._refresh_timer.start()
        if status in (RecordingStatus.STARTED, RecordingStatus.STARTING,
                      RecordingStatus.STOPPING):
            self._clock_timer.start()
        else:
            self._clock_timer.stop()
        self._tick()

    def _refresh_room_recordings(self) -> None:
        if self.room_recordings.room is not None:
            self.room_recordings.refresh()

    def _tick(self) -> None:
        if self._started_at is not None:
            seconds = max(0, int(time.time() - self._started_at))
            self.clock.setText(
                f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}")
        self._update_stage()

    def _update_stage(self) -> None:
        """Say what a start or stop waits for, and when an emptied room will stop."""
        waited = int(time.monotonic() - self._since)
        timeout = self.services.recorder.start_timeout
        if self.status is RecordingStatus.STARTING or (
                self._stage_text and self.status is not RecordingStatus.STARTED):
            what = self._stage_text or "the egress is starting"
            self.stage.setText(f"{waited} s · {what}")
            self.stage.setToolTip(f"A recording not under way {timeout:.0f} s after Start is"
                                  " stopped and marked Failed, with the reason.")
        elif self.status is RecordingStatus.STOPPING:
            self.stage.setText(f"{waited} s · the egress is finishing and uploading the file")
            self.stage.setToolTip("")
        elif self.status is RecordingStatus.STARTED and (left := self._countdown()) is not None:
            self.stage.setText(f"Everyone has left: stops in {left} s")
            self.stage.setToolTip("Stop when everyone has left is on for this recording.")
        else:
            self.stage.clear()
            self.stage.setToolTip("")

    def _countdown(self) -> int | None:
        """Seconds before an emptied room's recording stops, if it is counting down."""
        grace = self._options.stop_when_empty_after if self._options else None
        limits = self._limits()
        if not self._egress_id or grace is None or limits is None:
            return None
        empty_since = limits.empty_since(self._egress_id)
        if empty_since is None:
            return None
        return max(0, int(grace - (limits.now() - empty_since) + 0.999))

    def _polled(self, event: StatusPolled) -> None:
        if event.room != self.room_name:
            return
        self.failed.emit(
            f"Webhooks are not reaching this console (it listens on http://127.0.0.1:"
            f"{self.settings.server_port}/livekit/webhook): the recording is "
            f"{event.status.value}, as read from the egress.")

    def _recording_saved(self, event: RecordingSaved) -> None:
        if self.room_recordings.room is not None:
            self.room_recordings.recording_saved(event.name)

    def _on_data(self, topic: str, payload: bytes) -> None:
        if topic != RECORDING_DELETED_TOPIC:
            return
        try:
            name = json.loads(payload.decode()).get("recordingName")
        except (ValueError, AttributeError):
            return
        if isinstance(name, str):
            self.room_recordings.recording_deleted(name)
            self.recordingDeleted.emit(name)
