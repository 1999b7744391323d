"""The Rooms page: every room on the server, live, and acting on one or many of them.

While the page is shown it keeps the table current two ways. LiveKit's webhooks,
received by the console's listener, update it at once: room_started and egress
events bring a fresh snapshot of the whole server (bursts coalesce into one),
room_finished removes the room, and participant or track events recount that
room alone. A poll covers deployments whose webhooks never reach the console:
every few seconds until webhooks are seen, then less often; a room that a poll
finds came or went without any webhook saying so puts the page back to polling.
The page says which of the two it runs on.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Coroutine
from typing import Any, Final

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from recconsole.core.events import EventBus, RecordingStatusChanged, WebhookReceived
from recconsole.core.recorder import StartOptions
from recconsole.core.recording_options import RecordingOptions
from recconsole.core.rooms import Counts, RoomControl, RoomsOverview, RoomsSnapshot
from recconsole.ui.rooms_model import RECORDING, RoomRole, RoomsModel, rooms_proxy
from recconsole.ui.tasks import AsyncRunner, user_message

STOP_WHEN_EMPTY_AFTER: Final = 30.0  # as in the room view
WHOLE_SERVER: Final = frozenset({"room_started", "egress_started", "egress_updated",
                                 "egress_ended"})
ONE_ROOM: Final = frozenset({"participant_joined", "participant_left", "track_published",
                             "track_unpublished"})
Results = dict[str, Exception | None]


class RoomsPage(QWidget):
    """A filterable table of every room, with recording control and room actions.

    Signals:
        refreshed(int): a snapshot of the server was shown (this many rooms).
        joinRequested(str, bool): join this room (as an observer when True).
        recordingsRequested(str): show this room's recordings.
        acted(str, dict): an action ended; its name and the error text per failed room.
    """

    refreshed = Signal(int)
    joinRequested = Signal(str, bool)
    recordingsRequested = Signal(str)
    acted = Signal(str, dict)

    def __init__(self, overview: RoomsOverview, control: RoomControl, events: EventBus,
                 runner: AsyncRunner, *, webhook_url: str = "", poll_every: float = 5.0,
                 check_every: float = 30.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.overview, self.control, self.runner = overview, control, runner
        self.webhook_url = webhook_url
        self.poll_every, self.check_every = poll_every, check_every
        self.grace = 5.0  # how long a webhook may trail a change a poll already saw
        self.confirm: Callable[[str], bool] = self._ask
        # What a start records (the window hands in its recording options form's choice);
        # None: the recorder's defaults.
        self.recording_options: Callable[[], RecordingOptions | None] = lambda: None
        self.webhooks_seen = False
        self._heard: dict[str, float] = {}  # room -> when a webhook last spoke of it
        self._unheard: dict[str, float] = {}  # room a poll saw change -> since when
        self._refreshing = self._again = self._polled = False
        self._filled = False
        self._to_count: set[str] = set()
        self._gone: dict[str, float] = {}  # room -> when it was known to have closed
        self._dropping: set[str] = set()  # rooms that finished, still shown
        self._counting = False
        self.model = RoomsModel(self)
        self.proxy = rooms_proxy(self.model, self)
        self._build()
        self._timers()
        self._unsubscribe = [events.subscribe(WebhookReceived, self._webhook),
                             events.subscribe(RecordingStatusChanged,
                                              lambda _event: self._soon())]
        self._show_source()

    # --- layout -------------------------------------------------------------------------

    def _build(self) -> None:
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by room name")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.source = QLabel()
        self.source.setObjectName("subtitle")
        self.source.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh")
        self.start_button = QPushButton("Start recording")
        self.stop_button = QPushButton("Stop recording")
        self.fix_button = QPushButton("Fix status")
        self.fix_button.setToolTip("Make the room's metadata say what its egress does.")
        self.join_button = QPushButton("Join")
        self.observe_button = QPushButton("Join as observer")
        self.recordings_button = QPushButton("Recordings")
        self.close_button = QPushButton("Close room…")
        self.max_minutes = QSpinBox()
        self.max_minutes.setRange(0, 24 * 60)
        self.max_minutes.setSuffix(" min max")
        self.max_minutes.setSpecialValueText("no time limit")
        self.stop_when_empty = QCheckBox("stop when everyone has left")
        self.progress = QLabel()
        self._result = ""  # the last action's result, kept beside the room count
        self.progress.setObjectName("subtitle")
        self.banner = QFrame()
        self.banner.setObjectName("banner")
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        self.banner_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        dismiss = QPushButton("Dismiss")
        dismiss.clicked.connect(self.banner.hide)
        banner = QHBoxLayout(self.banner)
        banner.addWidget(self.banner_text, 1)
        banner.addWidget(dismiss)
        self.banner.hide()

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        # Sized once, from a sample: sizing to contents on every change measures each time.
        header.setResizeContentsPrecision(100)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self._sized = False

        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.refresh_button)
        actions = QHBoxLayout()
        for widget in (self.start_button, self.max_minutes, self.stop_when_empty,
                       self.stop_button, self.fix_button):
            actions.addWidget(widget)
        actions.addStretch(1)
        for widget in (self.join_button, self.observe_button, self.recordings_button,
                       self.close_button):
            actions.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.source)
        layout.addLayout(actions)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)

        self.refresh_button.clicked.connect(self.refresh)
        self.start_button.clicked.connect(self.start_selected)
        self.stop_button.clicked.connect(self.stop_selected)
        self.fix_button.clicked.connect(self.fix_selected)
        self.close_button.clicked.connect(self.close_selected)
        self.join_button.clicked.connect(lambda: self._join(observer=False))
        self.observe_button.clicked.connect(lambda: self._join(observer=True))
        self.recordings_button.clicked.connect(self._open_recordings)
        self.table.doubleClicked.connect(lambda _index: self._join(observer=False))
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self._selection_changed()

    def _timers(self) -> None:
        self._poll = QTimer(self)
        self._poll.timeout.connect(self._poll_now)
        self._coalesce = QTimer(self)  # a burst of webhooks: one snapshot
        self._coalesce.setSingleShot(True)
        self._coalesce.setInterval(100)
        self._coalesce.timeout.connect(self.refresh)
        self._recount = QTimer(self)
        self._recount.setSingleShot(True)
        self._recount.setInterval(100)
        self._recount.timeout.connect(self._count)
        self._drop = QTimer(self)  # rooms that finished, removed together
        self._drop.setSingleShot(True)
        self._drop.setInterval(50)
        self._drop.timeout.connect(self._drop_gone)
        self._ticker = QTimer(self)  # ages and recording clocks move on
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)

    # --- staying current ----------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()
        self._ticker.start()
        self._poll.start(int(1000 * (self.check_every if self.webhooks_seen
                                     else self.poll_every)))

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._poll.stop()
        self._ticker.stop()

    def stop(self) -> None:
        """No more work (the event loop is closing)."""
        for timer in (self._poll, self._coalesce, self._recount, self._ticker, self._drop):
            timer.stop()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    @property
    def active(self) -> bool:
        return self.isVisible()

    def refresh(self) -> None:
        """Ask the server for every room (one at a time; a request meanwhile runs after)."""
        if self._refreshing:
            self._again = True
            return
        self._refreshing, self._again = True, False
        self.runner.run(self.overview.snapshot(), on_success=self._show_snapshot,
                        on_failure=self._refresh_failed)

    def _poll_now(self) -> None:
        self._polled = True
        self.refresh()

    def _show_snapshot(self, snapshot: RoomsSnapshot) -> None:
        polled, self._polled = self._polled, False
        if self._gone:  # asked before a room closed: it must not come back
            self._gone = {room: at for room, at in self._gone.items() if at > time.time() - 60}
            snapshot = dataclasses.replace(snapshot, rooms=[
                room for room in snapshot.rooms
                if self._gone.get(room.name, 0.0) < snapshot.taken_at])
        came, went = self.model.apply(snapshot)
        if not self._sized and snapshot.rooms:
            self._sized = True
            self.table.resizeColumnsToContents()
            widest = self.table.fontMetrics().horizontalAdvance("⚠ Not recording") + 24
            self.table.setColumnWidth(RECORDING, max(self.table.columnWidth(RECORDING), widest))
        now = time.monotonic()
        self._heard = {room: at for room, at in self._heard.items() if now - at < 60}
        if polled and self._filled:
            for room in came | went:
                if now - self._heard.get(room, -1e9) > self.grace:
                    self._unheard.setdefault(room, now)
        self._filled = True
        self._finish_refresh()
        rooms = len(snapshot.rooms)
        shown = self.proxy.rowCount()
        # The last action's result stays in front until the next action.
        self.progress.setText((f"{self._result} · " if self._result else "")
                              + f"{rooms:,} room{'s' if rooms != 1 else ''} on the server"
                              + (f", {shown:,} shown" if shown != rooms else "")
                              + (f" · recording status from metadata only: "
                                 f"{snapshot.egress_note}" if not snapshot.egress_known else ""))
        self.refreshed.emit(rooms)

    def _refresh_failed(self, message: str) -> None:
        self._polled = False
        self._finish_refresh()
        self.progress.setText(f"The rooms cannot be listed: {message}")

    def _finish_refresh(self) -> None:
        self._refreshing = False
        if self._again:
            self.refresh()

    def _soon(self) -> None:
        if self.active and not self._coalesce.isActive():
            self._coalesce.start()

    def _webhook(self, event: WebhookReceived) -> None:
        if event.room:
            self._heard[event.room] = time.monotonic()
            self._unheard.pop(event.room, None)
        if not self.webhooks_seen:
            self.webhooks_seen = True
            if self._poll.isActive():
                self._poll.start(int(1000 * self.check_every))
            self._show_source()
        if not self.active:
            return
        if event.event == "room_finished":
            self._gone[event.room] = time.time()
            self._dropping.add(event.room)
            if not self._drop.isActive():
                self._drop.start()
        elif event.event in WHOLE_SERVER:
            self._soon()
        elif event.event in ONE_ROOM and event.room:
            self._to_count.add(event.room)
            if not self._recount.isActive():
                self._recount.start()

    def _drop_gone(self) -> None:
        dropping, self._dropping = self._dropping, set()
        self.model.remove_rooms(dropping)

    def _count(self) -> None:
        if self._counting:
            self._recount.start()
            return
        rooms, self._to_count = self._to_count, set()
        self._counting = True
        self.runner.run(self.overview.counts_of(rooms), on_success=self._show_counts,
                        on_failure=lambda _message: self._show_counts({}))

    def _show_counts(self, counts: dict[str, Counts]) -> None:
        self._counting = False
        for room, found in counts.items():
            self.model.set_counts(room, found)

    def _tick(self) -> None:
        self.model.tick()
        self.table.viewport().update()  # ages and recording clocks move on
        now = time.monotonic()
        if self._unheard and any(now - since > self.grace for since in self._unheard.values()):
            self._unheard.clear()
            if self.webhooks_seen:
                self.webhooks_seen = False
                self._poll.start(int(1000 * self.poll_every))
            self._show_source(missed=True)

    def _show_source(self, missed: bool = False) -> None:
        where = f" ({self.webhook_url})" if self.webhook_url else ""
        if self.webhooks_seen:
            text = (f"Live from LiveKit's webhooks{where}; the server is also read every"
                    f" {self.check_every:g} s.")
        elif missed:
            text = (f"Polling the server every {self.poll_every:g} s: a room changed without"
                    f" a webhook reaching this console{where}.")
        else:
            text = (f"Polling the server every {self.poll_every:g} s: no webhook has reached"
                    f" this console{where} yet.")
        self.source.setText(text)

    def set_recording_counts(self, counts: dict[str, int]) -> None:
        """How many recordings the storage holds per room name (from the recordings page)."""
        self.model.set_recordings(counts)

    # --- acting on rooms ----------------------------------------------------------------

    def selected_rooms(self) -> list[str]:
        return [self.proxy.data(index, RoomRole).name
                for index in self.table.selectionModel().selectedRows()]

    def select_rooms(self, names: list[str]) -> None:
        """Select these rooms (those shown), as a click would."""
        selection = self.table.selectionModel()
        selection.clearSelection()
        wanted = set(names)
        flags = (QItemSelectionModel.SelectionFlag.Select
                 | QItemSelectionModel.SelectionFlag.Rows)
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if self.proxy.data(index, RoomRole).name in wanted:
                selection.select(index, flags)

    def _selection_changed(self) -> None:
        count = len(self.table.selectionModel().selectedRows())
        for button in (self.start_button, self.stop_button, self.fix_button, self.close_button):
            button.setEnabled(count > 0)
        for button in (self.join_button, self.observe_button, self.recordings_button):
            button.setEnabled(count == 1)

    def options(self) -> StartOptions:
        return StartOptions(
            max_duration=self.max_minutes.value() * 60 or None,
            stop_when_empty_after=STOP_WHEN_EMPTY_AFTER if self.stop_when_empty.isChecked()
            else None, recording=self.recording_options())

    def start_selected(self) -> None:
        self._act("Recording started", self.control.start_many(self.selected_rooms(),
                                                               self.options()))

    def stop_selected(self) -> None:
        self._act("Recording stopped", self.control.stop_many(self.selected_rooms()))

    def fix_selected(self) -> None:
        self._act("Status set right", self.control.fix_many(self.selected_rooms()))

    def close_selected(self) -> None:
        rooms = self.selected_rooms()
        if not rooms:
            return
        what = f"the room {rooms[0]}" if len(rooms) == 1 else f"these {len(rooms)} rooms"
        if not self.confirm(f"Close {what}? Everyone in it is disconnected; recordings in"
                            " progress end."):
            return
        self._act("Closed", self.control.close_many(rooms))

    def _act(self, done: str, work: Coroutine[Any, Any, Results]) -> None:
        self.progress.setText(f"{done.split()[0]}…")
        self.runner.run(work, on_success=lambda results: self._report(done, results))

    def _report(self, done: str, results: Results) -> None:
        failed = {room: user_message(error) for room, error in results.items() if error}
        worked = [room for room, error in results.items() if error is None]
        if done == "Closed":
            self._gone.update(dict.fromkeys(worked, time.time()))
            self.model.remove_rooms(set(worked))
        self._result = (f"{done} in {len(worked)} room{'s' if len(worked) != 1 else ''}"
                        + (f"; {len(failed)} could not" if failed else ""))
        self.progress.setText(self._result)
        if failed:
            self.banner_text.setText("Not done: " + "; ".join(
                f"{room}: {message}" for room, message in failed.items()))
            self.banner.show()
        self._soon()
        self.acted.emit(done, failed)

    def _join(self, observer: bool) -> None:
        rooms = self.selected_rooms()
        if len(rooms) == 1:
            self.joinRequested.emit(rooms[0], observer)

    def _open_recordings(self) -> None:
        rooms = self.selected_rooms()
        if len(rooms) == 1:
            self.recordingsRequested.emit(rooms[0])

    def _ask(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Close rooms", question)
        return answer == QMessageBox.StandardButton.Yes
