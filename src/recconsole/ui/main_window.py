"""The console's main window: it arranges the pages; each joined room is a JoinedRoom.

What happens when the console joins a room, is in it and records it lives in
:mod:`recconsole.ui.joined_room`. The window holds the join form, the pages (the
rooms joined, one tab each; All recordings; Rooms; Event log), messages, the status
bar and the settings. Several rooms can be joined at once; one of them is heard on the
speaker, the one whose sound the moderator turned on last (the others are muted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor
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
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from recconsole import __version__
from recconsole.core.events import RecordingSaved
from recconsole.core.recording_limits import LimitEnforcer
from recconsole.core.recording_options import RecordingOptions
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.rooms import RoomControl, RoomsOverview
from recconsole.realtime.session import RoomSession
from recconsole.server.playback_access import PlaybackAccess, playback_url
from recconsole.settings import Settings, development_defaults
from recconsole.ui.event_log import EventLog
from recconsole.ui.joined_room import JoinedRoom
from recconsole.ui.recording_options_panel import remembered_options
from recconsole.ui.recordings_page import RecordingsPage
from recconsole.ui.rooms_page import RoomsPage
from recconsole.ui.services import ConsoleServices
from recconsole.ui.settings_dialog import SettingsDialog
from recconsole.ui.tasks import AsyncRunner

__all__ = ["ConsoleServices", "MainWindow"]

RECENT_ROOMS = 8
T = TypeVar("T")


class _OfRoom(Generic[T]):
    """``window.X`` is the joined room's ``X`` (tests and scripts reach the room so; the
    room's own parts are typed Any here, so that the window imports none of them)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, window: MainWindow, owner: type | None = None) -> T:
        room = window.room
        if room is None:
            raise AttributeError(f"{self.name}: the console is in no room")
        value: T = getattr(room, self.name)
        return value


class MainWindow(QMainWindow):
    """Join form, a tab per joined room, the other pages, status bar.

    Signals:
        closed: the window has closed (the application ends with it).
        joinedChanged(bool): the console joined (True) or left (False) a room.
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
        self.room: JoinedRoom | None = None  # the room shown (or being joined)
        self.joined: list[JoinedRoom] = []  # every room joined, in the order of their tabs
        self.joining: JoinedRoom | None = None  # one join at a time
        self.speaker: JoinedRoom | None = None  # the room heard on the speaker
        # Whoever enforces limits in this process (the listener's, or the window's own).
        self.limits: LimitEnforcer | None = services.recorder.limits
        self._prefs = QSettings()
        self._errors = 0  # shown since the last dismissal
        self.limits_task: asyncio.Future[None] | None = None  # when no listener enforces limits
        # Signs PROXY links for the player (the running listener's, once it started).
        self.playback_access = PlaybackAccess.for_listener(self.settings, "127.0.0.1")
        self.setWindowTitle(f"recconsole {__version__}")
        self.resize(1200, 780)

        self.recordings = RecordingsPage(services.catalog, self.runner, services.recordings)
        self.recordings.url_for = self._playback_url
        self.event_log = EventLog(services.events)
        self.control = RoomControl(services.server, services.recorder)
        self.rooms = RoomsPage(
            RoomsOverview(services.server), self.control, services.events, self.runner,
            webhook_url=f"http://127.0.0.1:{self.settings.server_port}/livekit/webhook")
        self.confirm: Callable[[str], bool] = self._ask  # moderation asks first
        self._build(room)
        self._wire()
        self._show_connection(f"Not connected  ·  {self.settings.livekit_url}")

    # --- the room shown: its parts --------------------------------------------------------

    @property
    def session(self) -> RoomSession | None:
        return self.room.session if self.room is not None else None

    @property
    def room_name(self) -> str:
        return self.room.room_name if self.room is not None else ""

    @property
    def status(self) -> RecordingStatus:
        return self.room.status if self.room is not None else RecordingStatus.STOPPED

    room_view = _OfRoom[Any]()
    audio = _OfRoom[Any]()
    media = _OfRoom[Any]()
    bridge = _OfRoom[Any]()
    room_recordings = _OfRoom[RecordingsPage]()
    room_split = _OfRoom[QSplitter]()
    local_recording = _OfRoom[Any]()
    record_button = _OfRoom[QPushButton]()
    options_button = _OfRoom[Any]()
    badge = _OfRoom[QLabel]()
    clock = _OfRoom[QLabel]()
    stage = _OfRoom[QLabel]()
    max_minutes = _OfRoom[QSpinBox]()
    stop_when_empty = _OfRoom[QCheckBox]()
    room_label = _OfRoom[QLabel]()
    sound_button = _OfRoom[QPushButton]()
    camera_button = _OfRoom[QPushButton]()
    microphone_button = _OfRoom[QPushButton]()
    leave_button = _OfRoom[QPushButton]()

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

        welcome = QLabel("Join a room to see it, record it and manage its recordings.")
        welcome.setObjectName("subtitle")
        welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.room_tabs = QTabWidget()  # a tab per joined room
        self.room_tabs.setDocumentMode(True)
        self.join_another = QPushButton("Join another room…")
        self.join_another.setCheckable(True)
        self.join_another.setToolTip("Show the join form: the console stays in the rooms it"
                                     " has joined.")
        self.room_tabs.setCornerWidget(self.join_another)
        self.pages = QStackedWidget()  # the welcome, then the joined rooms
        self.pages.addWidget(welcome)
        self.pages.addWidget(self.room_tabs)
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
        self.join_another.toggled.connect(self.join_card.setVisible)
        self.room_tabs.currentChanged.connect(self._room_shown)
        self.settings_button.clicked.connect(self.edit_settings)
        self.runner.failed.connect(self.show_error)
        self.dismiss_button.clicked.connect(self.dismiss_errors)
        self.services.events.subscribe(RecordingSaved, self._recording_saved)
        self.recordings.removed.connect(self._removed_from_all)
        self.rooms.joinRequested.connect(self.join_room)
        self.rooms.recording_options = self._list_options
        self.rooms.start_button.setToolTip(
            "Record each selected room whole, with the recording options last chosen beside"
            " a room's Record button.")
        self.rooms.recordingsRequested.connect(self.show_recordings_of)
        model = self.recordings.model
        for changed in (model.rowsInserted, model.rowsRemoved, model.modelReset):
            changed.connect(lambda *_: self._counts_timer.start())
        self._counts_timer.timeout.connect(
            lambda: self.rooms.set_recording_counts(model.room_counts()))

    # --- joining and leaving (what joining does: see JoinedRoom) -----------------------

    def join(self) -> None:
        room = self.room_input.currentText().strip()
        name = self.name_input.text().strip() or "Moderator"
        if not room:
            self.show_error("Type the name of the room to join.")
            return
        if (joined := self._joined_as(room)) is not None:
            self.show_room(joined)
            return
        self._remember(room, name)
        observer = self.observer_box.isChecked()
        self.join_button.setEnabled(False)
        self._show_connection(f"Connecting to {room}…")
        self._open_room(room).join(name, observer)

    def _open_room(self, name: str) -> JoinedRoom:
        """The room's unit, wired to the window (not yet connected, not yet shown)."""
        room = JoinedRoom(self.services, name, confirm=lambda q: self.confirm(q),
                          url_for=self._playback_url, limits=lambda: self.limits, parent=self)
        self.room = self.joining = room
        if self.speaker is not None:  # one room is heard already: this one joins muted
            room.mute_sound()
        room.joined.connect(lambda: self._room_joined(room))
        room.joinFailed.connect(lambda message: self._room_join_failed(room, message))
        room.left.connect(lambda: self._room_left(room))
        room.failed.connect(self.show_error)
        room.message.connect(self.statusBar().showMessage)
        room.logged.connect(self.event_log.add)
        room.connectionChanged.connect(lambda text: self._room_connection(room, text))
        room.recordingDeleted.connect(self._recording_deleted)
        room.soundSwitched.connect(lambda on: self._sound_switched(room, on))
        room.statusChanged.connect(lambda _status: self._mark_tabs())
        room.room_recordings.removed.connect(self.recordings.recordings_deleted)
        return room

    def _room_joined(self, room: JoinedRoom) -> None:
        self.joining = None
        self.joined.append(room)
        if self.speaker is None and room.sound_on:
            self.speaker = room
        self.room_tabs.addTab(room.page, room.room_name)
        self.pages.setCurrentWidget(self.room_tabs)
        self.join_another.setChecked(False)
        self.join_card.hide()
        self.join_button.setEnabled(True)
        self.room_tabs.setCurrentWidget(room.page)
        self._room_shown(self.room_tabs.currentIndex())
        self._mark_tabs()
        self.joinedChanged.emit(True)

    def _room_join_failed(self, room: JoinedRoom, message: str) -> None:
        self._close_room(room)
        self.join_button.setEnabled(True)
        self.show_error(message)

    def _room_left(self, room: JoinedRoom) -> None:
        self._close_room(room)
        if not self.joined:
            self.join_another.setChecked(False)
            self.join_card.show()
            self.pages.setCurrentIndex(0)
            self.setWindowTitle(f"recconsole {__version__}")
        self.joinedChanged.emit(False)
        if self._apply_on_leave and not self.joined and self.joining is None:
            self._apply_on_leave = False
            self.settingsApplied.emit(self.saved_settings)

    def _close_room(self, room: JoinedRoom) -> None:
        if self.joining is room:
            self.joining = None
        if room in self.joined:
            self.joined.remove(room)
            self.room_tabs.removeTab(self.room_tabs.indexOf(room.page))
        if self.speaker is room:
            self.speaker = None
        if self.room is room:
            self.room = self._room_at(self.room_tabs.currentIndex()) or self.joining
            if self.room is not None and self.room.connection_text:
                self._show_connection(self.room.connection_text)
        room.dispose()
        self._mark_tabs()

    def show_room(self, room: JoinedRoom) -> None:
        """Bring the room's tab to the front."""
        self.tabs.setCurrentWidget(self.pages)
        self.room_tabs.setCurrentWidget(room.page)
        self._room_shown(self.room_tabs.currentIndex())

    def _room_at(self, index: int) -> JoinedRoom | None:
        page = self.room_tabs.widget(index)
        return next((room for room in self.joined if room.page is page), None)

    def _joined_as(self, name: str) -> JoinedRoom | None:
        return next((room for room in self.joined if room.room_name == name), None)

    def _room_shown(self, index: int) -> None:
        room = self._room_at(index)
        if room is None:
            return
        self.room = room
        self.setWindowTitle(f"{room.room_name} · recconsole {__version__}")
        self._show_connection(room.connection_text)

    def _room_connection(self, room: JoinedRoom, text: str) -> None:
        if room is self.room:  # the status bar speaks of the room shown
            self._show_connection(text)

    def _sound_switched(self, room: JoinedRoom, on: bool) -> None:
        """One room is heard at a time: the one whose sound was turned on last."""
        if on:
            self.speaker = room
            for other in self._rooms():
                if other is not room:
                    other.mute_sound()
        elif self.speaker is room:
            self.speaker = None
        self._mark_tabs()

    def _mark_tabs(self) -> None:
        """Each room's tab says whether it is heard and whether it is being recorded."""
        bar = self.room_tabs.tabBar()
        for room in self.joined:
            index = self.room_tabs.indexOf(room.page)
            heard = room is self.speaker
            recording = room.status.busy
            self.room_tabs.setTabText(
                index, f"{'🔊 ' if heard else ''}{room.room_name}{' ●' if recording else ''}")
            bar.setTabTextColor(index, QColor("#c53030") if recording else QColor())
            self.room_tabs.setTabToolTip(index, " ".join([
                "Heard on the speaker." if heard
                else "Muted here: turn its sound on to hear it (the others are muted then).",
                f"Recording: {room.status.value}." if recording else ""]).strip())

    def _rooms(self) -> list[JoinedRoom]:
        """Every room joined or being joined."""
        return self.joined + ([self.joining] if self.joining is not None else [])

    async def stop_local_recordings(self, why: str) -> None:
        """Stop every recording this computer makes (the console quits)."""
        for room in self._rooms():
            await room.stop_local_recording(why)
        await self.services.local.stop_all(why)

    async def cancel_room_tasks(self) -> None:
        """Cancel what the rooms still do (the console quits)."""
        for room in self._rooms():
            await room.runner.cancel_all()

    async def leave_rooms(self) -> None:
        """Disconnect from every room at once, asking nothing (the console quits)."""
        for room in self._rooms():
            await room.leave_now()

    def _show_connection(self, text: str) -> None:
        self.connection.setText(text)

    # --- from the Rooms page ------------------------------------------------------------

    def join_room(self, room: str, observer: bool) -> None:
        """Join a room chosen on the Rooms page (or show it, if joined already)."""
        if (joined := self._joined_as(room)) is not None:
            self.show_room(joined)
            return
        if self.joining is not None:
            self.show_error(f"The console is joining {self.joining.room_name}: join {room}"
                            " once it has.")
            return
        self.room_input.setEditText(room)
        self.observer_box.setChecked(observer)
        self.tabs.setCurrentWidget(self.pages)
        self.join()

    def _list_options(self) -> RecordingOptions:
        """What a start from the Rooms page records: how to record as last chosen beside a
        room's Record button, each room whole (who was chosen there is that room's)."""
        return remembered_options(self.services.recorder.options, self._prefs)

    def show_recordings_of(self, room: str) -> None:
        self.recordings.room_filter.setText(room)
        self.tabs.setCurrentWidget(self.recordings)

    def _ask(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Moderation", question)
        return answer == QMessageBox.StandardButton.Yes

    def _remember(self, room: str, name: str) -> None:
        recent = [room] + [self.room_input.itemText(i) for i in range(self.room_input.count())
                           if self.room_input.itemText(i) != room]
        self._prefs.setValue("recentRooms", recent[:RECENT_ROOMS])
        self._prefs.setValue("displayName", name)

    # --- settings -----------------------------------------------------------------------

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
        if self._rooms():
            self._apply_on_leave = True
            self.statusBar().showMessage(
                "Settings saved: they apply when you leave the room.", 15000)
            return
        self.statusBar().showMessage("Settings saved: applying them…", 15000)
        self.settingsApplied.emit(saved)

    # --- recordings ---------------------------------------------------------------------

    def _recording_saved(self, event: RecordingSaved) -> None:
        self.recordings.recording_saved(event.name)

    def _recording_deleted(self, name: str) -> None:
        """Deleted by someone else (a room's data message said so)."""
        self.recordings.recording_deleted(name)
        self.event_log.add(f"recording deleted · {name}")

    def _removed_from_all(self, names: list[str]) -> None:
        for room in self._rooms():
            room.room_recordings.recordings_deleted(names)

    async def _playback_url(self, name: str) -> str:
        """RECORDING_PLAYBACK_STRATEGY: a link straight to storage, or the PROXY route."""
        return await playback_url(self.settings, self.services.catalog, self.playback_access,
                                  name)

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
        for room in self._rooms():
            room.stop_timers()
        self.recordings.stop_retrying()
        self._counts_timer.stop()
        self.rooms.stop()

    def closeEvent(self, event: QCloseEvent) -> None:
        # Asked only of a moderator closing the window; a signal or a program closing it
        # stops the recording cleanly on the way out (see app.shutdown).
        recording = [room.room_name for room in self._rooms()
                     if room.local_recording.recording(room.room_name)]
        if (event.spontaneous() and recording
                and not self.confirm(f"This computer is recording {', '.join(recording)}."
                                     " Stop the recording (it is uploaded) and quit?")):
            event.ignore()
            return
        super().closeEvent(event)
        if event.isAccepted():
            self.closed.emit()
