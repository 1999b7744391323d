"""The console's main window: join a room, watch it, record it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from livekit import api
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from recconsole import __version__
from recconsole.core.errors import EgressUnavailable
from recconsole.core.events import DuplicateStopped, EventBus, RecordingSaved, StatusPolled
from recconsole.core.livekit_server import RECORDING_DELETED_TOPIC, LiveKitServer
from recconsole.core.recorder import Recorder, StartOptions
from recconsole.core.recording_limits import LimitEnforcer
from recconsole.core.recording_options import BadRecordingOptions
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.rooms import RoomControl, RoomsOverview, Source
from recconsole.core.tokens import fetch_token, mint_token
from recconsole.realtime.local_recorder import LocalRecorder
from recconsole.realtime.session import RoomSession, SessionState
from recconsole.realtime.spool import SpooledRecording
from recconsole.server.playback_access import PlaybackAccess, playback_url
from recconsole.server.shared_state import SharedState
from recconsole.settings import Settings, development_defaults
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.recordings import RecordingsService
from recconsole.ui.audio_output import RoomAudio
from recconsole.ui.event_log import EventLog
from recconsole.ui.local_media import LocalMedia
from recconsole.ui.local_recording_controls import LocalRecordingControls
from recconsole.ui.recording_options_panel import RecordingOptionsButton
from recconsole.ui.recordings_page import RecordingsPage
from recconsole.ui.room_view import RoomView
from recconsole.ui.rooms_page import RoomsPage
from recconsole.ui.session_bridge import SessionBridge
from recconsole.ui.settings_dialog import SettingsDialog
from recconsole.ui.tasks import AsyncRunner

RECENT_ROOMS = 8
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


@dataclass
class ConsoleServices:
    """What the window works with, built once by the application."""

    settings: Settings
    server: LiveKitServer
    recorder: Recorder
    catalog: RecordingsCatalog
    events: EventBus
    recordings: RecordingsService
    shared: SharedState
    local: LocalRecorder  # recordings made on this computer


class MainWindow(QMainWindow):
    """Join form, room view, record button with status badge, status bar.

    Signals:
        closed: the window has closed (the application ends with it).
        joinedChanged(bool): the console joined or left a room.
        settingsApplied(Settings): saved settings to apply now (outside a room); the
            application rebuilds the services from them and reopens the window.
    """

    closed = Signal()
    joinedChanged = Signal(bool)
    settingsApplied = Signal(object)

    def __init__(self, services: ConsoleServices, room: str | None = None) -> None:
        super().__init__()
        self.services = services
        self.settings = services.settings
        self.saved_settings = services.settings  # as the next start will have them
        self._apply_on_leave = False  # settings saved while in a room wait for the leave
        self.runner = AsyncRunner(self)
        self.session: RoomSession | None = None
        self.room_name = ""
        self.status = RecordingStatus.STOPPED
        self._started_at: float | None = None
        self._since = time.monotonic()  # when the status last changed
        self._stage_text = ""  # what the start in progress waits for
        self._egress_id = ""  # the recording this window started, while it runs
        self._options: StartOptions | None = None
        # Whoever enforces limits in this process (the listener's, or the window's own).
        self.limits: LimitEnforcer | None = services.recorder.limits
        self._prefs = QSettings()
        self._errors = 0  # shown since the last dismissal
        self.limits_task: asyncio.Future[None] | None = None  # when no listener enforces limits
        # Signs PROXY links for the player (the running listener's, once it started).
        self.playback_access = PlaybackAccess.for_listener(self.settings, "127.0.0.1")
        self.setWindowTitle(f"recconsole {__version__}")
        self.resize(1200, 780)

        self.room_view = RoomView()
        self.audio = RoomAudio(self)
        self.media = LocalMedia(self.runner, self)
        self._observer = False
        self._created_by: object = None  # the joined room's metadata says who made it
        self.bridge = SessionBridge(self.room_view, self.audio, self)
        self.recordings = RecordingsPage(services.catalog, self.runner, services.recordings)
        self.recordings.url_for = self._playback_url
        self.room_recordings = RecordingsPage(services.catalog, self.runner, services.recordings)
        self.room_recordings.url_for = self._playback_url
        self.event_log = EventLog(services.events)
        self.control = RoomControl(services.server, services.recorder)
        self.rooms = RoomsPage(
            RoomsOverview(services.server), self.control, services.events, self.runner,
            webhook_url=f"http://127.0.0.1:{self.settings.server_port}/livekit/webhook")
        self.local_recording = LocalRecordingControls(services.local, self)
        self.confirm: Callable[[str], bool] = self._ask  # moderation asks first
        self._build(room)
        self._wire()
        self._show_status(RecordingStatus.STOPPED)
        self._show_connection(f"Not connected  ·  {self.settings.livekit_url}")

    # --- layout -------------------------------------------------------------------------

    def _build(self, room: str | None) -> None:
        self.room_input = QComboBox()
        self.room_input.setEditable(True)
        stored = self._prefs.value("recentRooms", [])
        recent = [str(r) for r in stored] if isinstance(stored, list) else []
        self.room_input.addItems(recent)
        self.room_input.setEditText(room or (recent[0] if recent else ""))
        self.name_input = QLineEdit(str(self._prefs.value("displayName", "Moderator")))
        self.observer_box = QCheckBox("Join hidden, only watch (observer)")
        self.join_button = QPushButton("Join")
        self.join_button.setDefault(True)
        self.settings_button = QPushButton("Settings…")
        self.leave_button = QPushButton("Leave")
        self.leave_button.setEnabled(False)

        self.join_card = join = QFrame()
        join.setObjectName("card")
        join.setMaximumWidth(640)
        form = QFormLayout(join)
        form.addRow("Server", QLabel(self.settings.livekit_url))
        form.addRow("Room", self.room_input)
        form.addRow("Your name", self.name_input)
        form.addRow("", self.observer_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.join_button)
        buttons.addStretch(1)
        buttons.addWidget(self.settings_button)
        form.addRow("", self._wrap(buttons))

        self.record_button = QPushButton("Start recording")
        self.record_button.setObjectName("record")
        self.record_button.setEnabled(False)
        self.options_button = RecordingOptionsButton(
            self.services.recorder.options, self._prefs)
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

        welcome = QLabel("Join a room to see it, record it and manage its recordings.")
        welcome.setObjectName("subtitle")
        welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.room_split = QSplitter(Qt.Orientation.Vertical)
        self.room_split.addWidget(self.room_view)
        self.room_split.addWidget(self.room_recordings)
        self.room_split.setStretchFactor(0, 4)
        self.room_split.setStretchFactor(1, 1)
        self.room_split.setChildrenCollapsible(True)
        self.pages = QStackedWidget()
        self.pages.addWidget(welcome)
        self.pages.addWidget(self.room_split)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.pages, "Room")
        self.tabs.addTab(self.recordings, "All recordings")
        self.tabs.addTab(self.rooms, "Rooms")
        self.tabs.addTab(self.event_log, "Event log")

        title = QLabel("Recording console")
        title.setObjectName("title")
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(24, 18, 24, 12)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(join)
        self.record_bar = self._wrap(bar)
        self.record_bar.hide()  # nothing to record before joining
        layout.addWidget(self.record_bar)
        # Development credentials aimed at a server elsewhere: said for as long as it is so.
        self.development_banner = QFrame()
        self.development_banner.setObjectName("banner")
        self.development_label = QLabel("\n".join(development_defaults(self.settings)))
        self.development_label.setWordWrap(True)
        QVBoxLayout(self.development_banner).addWidget(self.development_label)
        self.development_banner.setVisible(bool(self.development_label.text()))
        layout.addWidget(self.development_banner)
        self.error_banner = QFrame()  # an error stays until the moderator dismisses it
        self.error_banner.setObjectName("banner")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dismiss_button = QPushButton("Dismiss")
        errors = QHBoxLayout(self.error_banner)
        errors.addWidget(self.error_label, 1)
        errors.addWidget(self.dismiss_button)
        self.error_banner.hide()
        layout.addWidget(self.error_banner)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(body)

        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(1000)
        self._refresh_timer = QTimer(self)  # this room's table, a moment after a recording
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(3000)
        self._counts_timer = QTimer(self)  # the Rooms page's recordings per room, after a change
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(300)
        self.connection = QLabel()  # the connection's state: never replaced by a message
        self.statusBar().addPermanentWidget(self.connection)

    @staticmethod
    def _wrap(layout: QHBoxLayout) -> QWidget:
        """A widget holding ``layout`` (so it can be shown and hidden as one)."""
        holder = QWidget()
        layout.setContentsMargins(0, 0, 0, 0)
        holder.setLayout(layout)
        return holder

    def _wire(self) -> None:
        self.join_button.clicked.connect(self.join)
        self.leave_button.clicked.connect(self.leave)
        self.settings_button.clicked.connect(self.edit_settings)
        self.record_button.clicked.connect(self.toggle_recording)
        self.runner.failed.connect(self.show_error)
        self.dismiss_button.clicked.connect(self.dismiss_errors)
        self.services.events.subscribe(RecordingSaved, self._recording_saved)
        self.recordings.removed.connect(self.room_recordings.recordings_deleted)
        self.room_recordings.removed.connect(self.recordings.recordings_deleted)
        self.services.events.subscribe(StatusPolled, self._polled)
        self.services.events.subscribe(DuplicateStopped, self._duplicate_stopped)
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
        self.camera_button.clicked.connect(self._toggle_camera)
        self.microphone_button.clicked.connect(self._toggle_microphone)
        self.media.cameraChanged.connect(self._camera_changed)
        self.media.microphoneChanged.connect(self.microphone_button.setChecked)
        self.media.failed.connect(self._media_failed)
        b.mutedChanged.connect(view.set_muted)
        b.trackMutedChanged.connect(view.set_track_muted)
        view.muteRequested.connect(self.mute_participant)
        view.removeRequested.connect(self.remove_participant)
        self.rooms.joinRequested.connect(self.join_room)
        self.local_recording.choice.toggled.connect(self._recording_here)
        self.rooms.recording_options = self.options_button.options  # as the Record button's
        self.rooms.start_button.setToolTip(
            "Record the selected rooms with the options beside the room's Record button.")
        self.rooms.recordingsRequested.connect(self.show_recordings_of)
        model = self.recordings.model
        for changed in (model.rowsInserted, model.rowsRemoved, model.modelReset):
            changed.connect(lambda *_: self._counts_timer.start())
        self._counts_timer.timeout.connect(
            lambda: self.rooms.set_recording_counts(model.room_counts()))
        b.speakersChanged.connect(view.set_speaking)
        b.metadataChanged.connect(self._on_metadata)
        b.dataReceived.connect(self._on_data)

    # --- joining ------------------------------------------------------------------------

    def join(self) -> None:
        room = self.room_input.currentText().strip()
        name = self.name_input.text().strip() or "Moderator"
        if not room:
            self.show_error("Type the name of the room to join.")
            return
        self._remember(room, name)
        self.room_name = room
        self._observer = self.observer_box.isChecked()
        self.join_button.setEnabled(False)
        self._show_connection(f"Connecting to {room}…")
        self.runner.run(self._join(room, name, self.observer_box.isChecked()),
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
        self.pages.setCurrentWidget(self.room_split)
        self.room_recordings.show_room(self.room_name)
        self.join_card.hide()
        self.record_bar.show()
        self.room_label.setText(self.room_name)
        self.leave_button.setEnabled(True)
        self.record_button.setEnabled(True)
        self._enable_media()
        self.setWindowTitle(f"{self.room_name} · recconsole {__version__}")
        self.joinedChanged.emit(True)

    def _join_failed(self, message: str) -> None:
        self.room_name = ""
        self.join_button.setEnabled(True)
        self.show_error(message)

    def leave(self) -> None:
        if self.session is None:
            return
        if self.local_recording.recording(self.room_name) and not self.confirm(
                "This computer is recording the room. Stop the recording (it is uploaded)"
                " and leave?"):
            return
        session, self.session = self.session, None
        self.leave_button.setEnabled(False)
        self.record_button.setEnabled(False)
        self.runner.run(self._leave(session), on_success=lambda _: self._left())

    async def _leave(self, session: RoomSession) -> None:
        await self.local_recording.stop_all("the console left the room")
        await self.media.aclose()
        await session.disconnect()

    def _left(self) -> None:
        if self.media.video is not None or self.media.audio is not None:
            self.runner.run(self.media.aclose())  # the connection dropped under them
        self.audio.close()
        self.room_view.set_preview(None)
        for button in (self.camera_button, self.microphone_button):
            button.setChecked(False)
        self.room_view.clear()
        self.room_name = ""
        self.room_label.clear()
        self._stage_text = ""
        self._show_status(RecordingStatus.STOPPED)  # the next room says its own
        self.join_card.show()
        self.record_bar.hide()
        self.pages.setCurrentIndex(0)
        self.join_button.setEnabled(True)
        self.setWindowTitle(f"recconsole {__version__}")
        self.joinedChanged.emit(False)
        if self._apply_on_leave:
            self._apply_on_leave = False
            self.settingsApplied.emit(self.saved_settings)

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
            f"({self.audio.device_name})")

    # --- from the Rooms page, and moderation -------------------------------------------

    def join_room(self, room: str, observer: bool) -> None:
        """Join a room chosen on the Rooms page (the console is in one room at a time)."""
        if self.session is not None or not self.join_button.isEnabled():
            self.show_error(f"Leave {self.room_name} first: the console joins one room at a"
                            " time.")
            return
        self.room_input.setEditText(room)
        self.observer_box.setChecked(observer)
        self.tabs.setCurrentWidget(self.pages)
        self.join()

    def show_recordings_of(self, room: str) -> None:
        self.recordings.room_filter.setText(room)
        self.tabs.setCurrentWidget(self.recordings)

    def mute_participant(self, identity: str, source: Source) -> None:
        room, name = self.room_name, self.room_view.name_of(identity)
        if room and self.confirm(f"Mute the {source} of {name} for everyone in {room}?"
                                 " Only they can turn it back on."):
            self.runner.run(self.control.mute(room, identity, source), on_success=lambda _n: (
                self.statusBar().showMessage(f"{name}'s {source} was muted.", 10000)))

    def remove_participant(self, identity: str) -> None:
        room, name = self.room_name, self.room_view.name_of(identity)
        if room and self.confirm(f"Remove {name} from {room}? They are disconnected at once"
                                 " (they may join again)."):
            self.runner.run(self.control.remove(room, identity), on_success=lambda _n: (
                self.statusBar().showMessage(f"{name} was removed from the room.", 10000)))

    def _ask(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Moderation", question)
        return answer == QMessageBox.StandardButton.Yes

    # --- own camera and microphone -----------------------------------------------------

    def _enable_media(self) -> None:
        for button, available, what in (
            (self.camera_button, self.media.camera_available, "camera"),
            (self.microphone_button, self.media.microphone_available, "microphone"),
        ):
            button.setEnabled(available and not self._observer)
            button.setToolTip(
                "Joined as an observer: nothing is published." if self._observer
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
        self.show_error(message)

    def _remember(self, room: str, name: str) -> None:
        recent = [room] + [self.room_input.itemText(i) for i in range(self.room_input.count())
                           if self.room_input.itemText(i) != room]
        self._prefs.setValue("recentRooms", recent[:RECENT_ROOMS])
        self._prefs.setValue("displayName", name)

    def _on_state(self, state: str, reason: str) -> None:
        text = {SessionState.CONNECTING: "Connecting…",
                SessionState.CONNECTED: f"Connected to {self.room_name or 'the room'}",
                SessionState.RECONNECTING: "Connection lost, reconnecting…",
                SessionState.DISCONNECTED: "Disconnected"}[SessionState(state)]
        why = _DISCONNECT_REASONS.get(reason, reason)
        self._show_connection(f"{text}{f': {why}' if why else ''}  ·  {self.settings.livekit_url}")
        if state == SessionState.DISCONNECTED and self.session is not None and reason:
            self.session = None
            if self.local_recording.recording(self.room_name):
                self.runner.run(self.local_recording.stop_all(f"disconnected: {why}"))
            self.show_error(f"Disconnected from the room: {why}.")
            self._left()

    def _show_connection(self, text: str) -> None:
        self.connection.setText(text)

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
                self.event_log.add(f"{err} Recording on this computer instead.")
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
        self.show_error(message)

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
            self.statusBar().showMessage(
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
            self.show_error(f"The recording failed: {error}")
        if status is not before:
            self._since = time.monotonic()
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
        if not self._egress_id or grace is None or self.limits is None:
            return None
        empty_since = self.limits.empty_since(self._egress_id)
        if empty_since is None:
            return None
        return max(0, int(grace - (self.limits.now() - empty_since) + 0.999))

    def edit_settings(self) -> None:
        """The settings dialog, window-modal (the loop goes on: tests of a connection run)."""
        dialog = SettingsDialog(self.saved_settings, parent=self, runner=self.runner)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._settings_saved(dialog.saved_settings))
        dialog.open()

    def _settings_saved(self, saved: Settings) -> None:
        """Apply saved settings now, or, in a room, once the console has left it."""
        self.saved_settings = saved  # what the dialog shows next time
        if saved.to_env() == self.settings.to_env():  # e.g. a change the environment hides
            self._apply_on_leave = False
            self.statusBar().showMessage(
                "Settings saved: nothing the console uses has changed.", 15000)
            return
        if self.session is not None or self.room_name:
            self._apply_on_leave = True
            self.statusBar().showMessage(
                "Settings saved: they apply when you leave the room.", 15000)
            return
        self.statusBar().showMessage("Settings saved: applying them…", 15000)
        self.settingsApplied.emit(saved)

    def _polled(self, event: StatusPolled) -> None:
        if event.room != self.room_name:
            return
        self.show_error(
            f"Webhooks are not reaching this console (it listens on http://127.0.0.1:"
            f"{self.settings.server_port}/livekit/webhook): the recording is "
            f"{event.status.value}, as read from the egress.")

    def _recording_saved(self, event: RecordingSaved) -> None:
        self.recordings.recording_saved(event.name)
        if self.room_recordings.room is not None:
            self.room_recordings.recording_saved(event.name)

    async def _playback_url(self, name: str) -> str:
        """RECORDING_PLAYBACK_STRATEGY: a link straight to storage, or the PROXY route."""
        return await playback_url(self.settings, self.services.catalog, self.playback_access,
                                  name)

    def _on_data(self, topic: str, payload: bytes) -> None:
        if topic != RECORDING_DELETED_TOPIC:
            return
        try:
            name = json.loads(payload.decode()).get("recordingName")
        except (ValueError, AttributeError):
            return
        if isinstance(name, str):
            self.recordings.recording_deleted(name)
            self.room_recordings.recording_deleted(name)
            self.event_log.add(f"recording deleted · {name}")

    # --- messages -----------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        """Show an error until it is dismissed, with its time; it goes to the event log too."""
        self.event_log.add(message)
        self._errors += 1
        earlier = self._errors - 1
        more = f"  ({earlier} earlier in the event log)" if earlier else ""
        self.error_label.setText(f"{datetime.now():%H:%M:%S}  {message}{more}")
        self.error_banner.show()

    def dismiss_errors(self) -> None:
        self._errors = 0
        self.error_label.clear()
        self.error_banner.hide()

    @property
    def error_text(self) -> str:
        """The error shown, if any (empty once dismissed)."""
        return self.error_label.text() if not self.error_banner.isHidden() else ""

    def stop_timers(self) -> None:
        """Nothing of the window starts work any more (the event loop is closing)."""
        for timer in (self._clock_timer, self._refresh_timer):
            timer.stop()
        for page in (self.recordings, self.room_recordings):
            page.stop_retrying()
        self._counts_timer.stop()
        self.rooms.stop()

    def closeEvent(self, event: QCloseEvent) -> None:
        # Asked only of a moderator closing the window; a signal or a program closing it
        # stops the recording cleanly on the way out (see app.shutdown).
        if (event.spontaneous() and self.local_recording.recording(self.room_name)
                and not self.confirm("This computer is recording the room. Stop the recording"
                                     " (it is uploaded) and quit?")):
            event.ignore()
            return
        super().closeEvent(event)
        if event.isAccepted():
            self.closed.emit()
