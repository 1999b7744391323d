"""The record bar's part for recordings made on this computer: the choice, the figures."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMenu, QToolButton

from recconsole.core.recording_info import RecordingInfo
from recconsole.realtime.local_recorder import LocalRecorder
from recconsole.realtime.local_recording import FrameTap, track_owner
from recconsole.realtime.session import RoomSession
from recconsole.realtime.spool import SpooledRecording

REFRESH_MS = 500


class LocalRecordingControls(QObject):
    """"Record on this computer", and while it records: file size and dropped frames.

    Starting attaches a frame tap to the joined session (the frames its tiles and
    speaker already receive), stopping detaches it.
    """

    def __init__(self, local: LocalRecorder, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.local = local
        # A menu beside the Record button: the bar has no room for one more checkbox.
        self.choice = QAction("Record on this computer", self)
        self.choice.setCheckable(True)
        self.choice.setToolTip(
            "Record the room's grid and sound here and upload the file to the recordings"
            " storage, instead of asking the server's egress service. Chosen for you when"
            " the server has no egress service.")
        self.menu_button = QToolButton()
        self.menu_button.setObjectName("recordMenu")
        self.menu_button.setText("▾")
        self.menu_button.setToolTip("How to record")
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.menu_button)
        menu.setToolTipsVisible(True)
        menu.addAction(self.choice)
        self.each_participant = QAction("One file per participant too", self)
        self.each_participant.setCheckable(True)
        self.each_participant.setToolTip(
            "When recording on this computer: beside the room's grid, each participant's"
            " camera and sound in a file of their own, listed together as one session.")
        menu.addAction(self.each_participant)
        self.menu_button.setMenu(menu)
        self.choice.toggled.connect(self._show_choice)
        self.figures = QLabel()
        self.figures.setObjectName("subtitle")
        self._sessions: dict[str, RoomSession] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    def _show_choice(self, here: bool) -> None:
        """The button says where Record records, when it is not the egress."""
        self.menu_button.setText("on this computer ▾" if here else "▾")

    def recording(self, room: str) -> bool:
        return self.local.is_recording(room)

    async def start(self, session: RoomSession, room: str, max_duration: float | None = None,
                    stop_when_empty_after: float | None = None) -> SpooledRecording:
        tap = FrameTap(owner_of=track_owner(session.room))
        session.attach_tap(tap)
        try:
            room_id = await session.room.sid
            identity = session.room.local_participant.identity
            spooled = await self.local.start(
                room, room_id, tap, identity, max_duration,
                stop_when_empty_after=stop_when_empty_after,
                occupied=lambda: bool(session.participants),
                each_participant=self.each_participant.isChecked())
        except BaseException:
            session.detach_tap()
            raise
        self._sessions[room] = session
        self._timer.start()
        self.refresh()
        return spooled

    async def stop(self, room: str, why: str = "") -> RecordingInfo | None:
        try:
            return await self.local.stop(room, why)
        finally:
            self._ended(room)

    async def stop_all(self, why: str) -> None:
        """Stop whatever this console records (it leaves the room or quits)."""
        try:
            await self.local.stop_all(why)
        finally:
            for room in list(self._sessions):
                self._ended(room)

    def _ended(self, room: str) -> None:
        session = self._sessions.pop(room, None)
        if session is not None:
            session.detach_tap()
        if not self._sessions:
            self._timer.stop()
            self.figures.clear()

    def refresh(self) -> None:
        """Show the size written so far and the frames the encoder had to drop."""
        for room in list(self._sessions):
            stats = self.local.stats(room)
            if stats is None:  # ended by itself (its time limit, an error)
                self._ended(room)
                continue
            self.figures.setText(f"{stats.size / 1e6:.1f} MB · {stats.dropped_frames} dropped")
            self.figures.setToolTip(
                f"Recorded on this computer: {stats.size / 1e6:.1f} MB so far,"
                f" {stats.frames} frames written in {stats.elapsed:.0f} s,"
                f" {stats.dropped_frames} dropped (frames the encoder had no time for).")
