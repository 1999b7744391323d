"""The room: a grid of video tiles that re-flows as tracks come and go, who is here and
what each publishes, with the moderator's mute and remove buttons.

A room with more videos than a page holds (:attr:`RoomView.page_size`) shows them a
page at a time. The view says which videos are in sight and how high each is drawn
(``videoShown``), and which are not (``videoHidden``: on another page, the view
hidden or its window minimised), so that only what is seen is received, each in the
layer that fits its tile.
"""

from __future__ import annotations

import math

from livekit import rtc
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from recconsole.ui.video_tile import VideoTile


class RoomView(QWidget):
    """Video tiles in a near-square grid, plus a list of every participant.

    The window feeds it from the room session. People who publish sound have a
    check box: unticked, they are muted on this console only. The buttons under the
    list ask the window to mute someone's microphone or camera for everyone, or to
    remove them from the room.

    Signals:
        hearToggled(str, bool): identity, and whether to hear them.
        muteRequested(str, str): identity, and "microphone" or "camera".
        removeRequested(str): identity.
        videoShown(str, int): track sid, and the device pixels high it is drawn.
        videoHidden(str): track sid of a video out of sight.
        pageChanged(int, int): the page shown (from 0) and how many there are.
    """

    hearToggled = Signal(str, bool)
    muteRequested = Signal(str, str)
    removeRequested = Signal(str)
    videoShown = Signal(str, int)
    videoHidden = Signal(str)
    pageChanged = Signal(int, int)

    page_size = 9  # a 3x3 grid

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.page = 0
        self.in_sight: dict[str, int] = {}  # track sid -> height drawn, as last said
        self._sight_timer = QTimer(self)
        self._sight_timer.setSingleShot(True)
        self._sight_timer.setInterval(100)  # a resize drag says its last size only
        self._sight_timer.timeout.connect(self._say_sight)
        self._watched: QWidget | None = None  # the window whose minimising hides us
        self.tiles: dict[str, VideoTile] = {}  # track sid -> tile
        self._owners: dict[str, str] = {}  # track sid -> identity
        self._names: dict[str, str] = {}  # identity -> display name
        self._audio: dict[str, str] = {}  # audio track sid -> identity
        self._not_heard: set[str] = set()
        self._muted: set[str] = set()  # track sids muted by their publisher (or a moderator)
        self._refreshing = False
        self._said: set[str] = set()  # track sids whose sight was said at least once
        self.preview: VideoTile | None = None  # this console's own camera
        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._grid.setSpacing(8)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._empty = QLabel("Nobody is sharing video yet.")
        self._empty.setObjectName("subtitle")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.previous_page_button = QPushButton("◀ Previous")
        self.next_page_button = QPushButton("Next ▶")
        self.page_label = QLabel()
        self.page_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.previous_page_button.clicked.connect(lambda: self.show_page(self.page - 1))
        self.next_page_button.clicked.connect(lambda: self.show_page(self.page + 1))
        self._pager = QWidget()
        pager = QHBoxLayout(self._pager)
        pager.setContentsMargins(0, 0, 0, 0)
        pager.addWidget(self.previous_page_button)
        pager.addWidget(self.page_label, 1)
        pager.addWidget(self.next_page_button)
        self.people = QListWidget()
        self.people.setObjectName("people")
        self.people.setToolTip("Untick someone to mute them on this console only.")
        self.people.itemChanged.connect(self._hear_changed)
        self.mute_microphone_button = QPushButton("Mute microphone")
        self.mute_camera_button = QPushButton("Mute camera")
        self.remove_button = QPushButton("Remove…")
        for button, tip in (
                (self.mute_microphone_button, "Mute their microphone for everyone in the room."),
                (self.mute_camera_button, "Turn their camera off for everyone in the room."),
                (self.remove_button, "Disconnect them from the room.")):
            button.setToolTip(tip)
        self.mute_microphone_button.clicked.connect(lambda: self._moderate("microphone"))
        self.mute_camera_button.clicked.connect(lambda: self._moderate("camera"))
        self.remove_button.clicked.connect(lambda: self._moderate("remove"))
        self.people.itemSelectionChanged.connect(self._enable_moderation)
        side = QWidget()
        side.setFixedWidth(200)
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.people, 1)
        for button in (self.mute_microphone_button, self.mute_camera_button, self.remove_button):
            column.addWidget(button)
        videos = QVBoxLayout()
        videos.setContentsMargins(0, 0, 0, 0)
        videos.addWidget(self._grid_host, 1)
        videos.addWidget(self._pager)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(videos, 1)
        layout.addWidget(side)
        self._reflow()
        self._enable_moderation()

    # --- participants -----------------------------------------------------------

    def participants(self) -> list[str]:
        """The identities of everyone in the room (but this console)."""
        return list(self._names)

    def add_participant(self, identity: str, name: str) -> None:
        self._names[identity] = name
        self._refresh_people()

    def remove_participant(self, identity: str) -> None:
        self._names.pop(identity, None)
        self._not_heard.discard(identity)
        for sid in [sid for sid, owner in self._audio.items() if owner == identity]:
            self._audio.pop(sid)
        for sid in [sid for sid, owner in self._owners.items() if owner == identity]:
            self.remove_video(sid)
        self._refresh_people()

    def add_audio(self, track_sid: str, identity: str) -> None:
        self._audio[track_sid] = identity
        self._refresh_people()

    def remove_audio(self, track_sid: str) -> None:
        self._muted.discard(track_sid)
        if self._audio.pop(track_sid, None) is not None:
            self._refresh_people()

    def set_track_muted(self, identity: str, track_sid: str, muted: bool) -> None:
        if muted:
            self._muted.add(track_sid)
        else:
            self._muted.discard(track_sid)
        self._refresh_people()

    def publishing(self, identity: str) -> str:
        """What someone publishes, in words: "video, audio muted", "audio only", "nothing"."""
        parts = []
        for kind, tracks in (("video", self._owners), ("audio", self._audio)):
            sids = [sid for sid, owner in tracks.items() if owner == identity]
            if sids:
                muted = all(sid in self._muted for sid in sids)
                parts.append(f"{kind} muted" if muted else kind)
        if not parts:
            return "nothing published"
        if parts[0].startswith("audio"):
            return parts[0].replace("audio", "audio only", 1).replace(" muted", ", muted")
        return ", ".join(parts)

    def _refresh_people(self) -> None:
        self._refreshing = True
        chosen = self.selected_person()
        self.people.clear()
        with_sound = set(self._audio.values())
        for identity, name in sorted(self._names.items(), key=lambda kv: kv[1].lower()):
            item = QListWidgetItem(f"{name}  ({self.publishing(identity)})")
            item.setData(Qt.ItemDataRole.UserRole, identity)
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
            if identity in with_sound:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked if identity in self._not_heard
                                   else Qt.CheckState.Checked)
            self.people.addItem(item)
            if identity == chosen:
                item.setSelected(True)
        self._refreshing = False
        self._enable_moderation()

    def selected_person(self) -> str | None:
        items = self.people.selectedItems()
        return str(items[0].data(Qt.ItemDataRole.UserRole)) if items else None

    def _unmuted(self, identity: str, tracks: dict[str, str]) -> bool:
        return any(owner == identity and sid not in self._muted for sid, owner in tracks.items())

    def _enable_moderation(self) -> None:
        who = self.selected_person()
        self.mute_microphone_button.setEnabled(who is not None and self._unmuted(who, self._audio))
        self.mute_camera_button.setEnabled(who is not None and self._unmuted(who, self._owners))
        self.remove_button.setEnabled(who is not None)

    def _moderate(self, what: str) -> None:
        who = self.selected_person()
        if who is None:
            return
        if what == "remove":
            self.removeRequested.emit(who)
        else:
            self.muteRequested.emit(who, what)

    def name_of(self, identity: str) -> str:
        return self._names.get(identity, identity)

    def _hear_changed(self, item: QListWidgetItem) -> None:
        if self._refreshing or not item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
            return
        identity = str(item.data(Qt.ItemDataRole.UserRole))
        hear = item.checkState() == Qt.CheckState.Checked
        if hear == (identity not in self._not_heard):
            return
        if hear:
            self._not_heard.discard(identity)
        else:
            self._not_heard.add(identity)
        self.hearToggled.emit(identity, hear)

    def person_item(self, identity: str) -> QListWidgetItem | None:
        for row in range(self.people.count()):
            item = self.people.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == identity:
                return item
        return None

    # --- video ----------------------------------------------------------------------

    def add_video(self, track_sid: str, identity: str) -> VideoTile:
        tile = VideoTile(self._names.get(identity, identity))
        self.tiles[track_sid] = tile
        self._owners[track_sid] = identity
        self._reflow()
        self._refresh_people()
        return tile

    def remove_video(self, track_sid: str) -> None:
        tile = self.tiles.pop(track_sid, None)
        self._owners.pop(track_sid, None)
        self.in_sight.pop(track_sid, None)
        self._muted.discard(track_sid)
        if tile is not None:
            self._grid.removeWidget(tile)
            tile.deleteLater()
            self._reflow()
            self._refresh_people()

    def show_frame(self, track_sid: str, frame: rtc.VideoFrame, captured_us: int = 0) -> None:
        tile = self.tiles.get(track_sid)
        if tile is not None:
            tile.show_frame(frame, captured_us)

    def set_speaking(self, identities: list[str]) -> None:
        for sid, tile in self.tiles.items():
            tile.set_state(speaking=self._owners[sid] in identities)

    def set_muted(self, identity: str, muted: bool) -> None:
        for sid, tile in self.tiles.items():
            if self._owners[sid] == identity:
                tile.set_state(muted=muted)

    def set_preview(self, name: str | None) -> VideoTile | None:
        """Show (with a name) or remove the tile of this console's own camera."""
        if self.preview is not None and name is None:
            self._grid.removeWidget(self.preview)
            self.preview.deleteLater()
            self.preview = None
            self._reflow()
        elif self.preview is None and name is not None:
            self.preview = VideoTile(name)
            self._reflow()
        return self.preview

    def clear(self) -> None:
        for sid in list(self.tiles):
            self.remove_video(sid)
        self._names.clear()
        self._audio.clear()
        self._not_heard.clear()
        self._muted.clear()
        self._refresh_people()

    # --- pages and what is in sight -----------------------------------------------

    @property
    def pages(self) -> int:
        count = len(self.tiles) + (self.preview is not None)
        return max(1, math.ceil(count / self.page_size))

    def show_page(self, page: int) -> None:
        """Show page ``page`` (from 0; clamped to the pages there are)."""
        page = min(max(0, page), self.pages - 1)
        if page != self.page:
            self.page = page
            self._reflow()

    def page_of(self, track_sid: str) -> int:
        return list(self.tiles).index(track_sid) // self.page_size

    def _page_tiles(self) -> list[VideoTile]:
        tiles = list(self.tiles.values()) + ([self.preview] if self.preview else [])
        self.page = min(self.page, self.pages - 1)
        return tiles[self.page * self.page_size:(self.page + 1) * self.page_size]

    def _reflow(self) -> None:
        """Lay the page's tiles out in ceil(sqrt(n)) columns, in the order they came."""
        while self._grid.count():
            self._grid.takeAt(0)
        tiles = self._page_tiles()
        for tile in list(self.tiles.values()) + ([self.preview] if self.preview else []):
            if tile not in tiles:
                tile.hide()
        pages = self.pages
        self._pager.setVisible(pages > 1)
        self.page_label.setText(f"Page {self.page + 1} of {pages}")
        self.previous_page_button.setEnabled(self.page > 0)
        self.next_page_button.setEnabled(self.page < pages - 1)
        self.pageChanged.emit(self.page, pages)
        self._sight_changed()
        if not tiles:
            self._grid.addWidget(self._empty, 0, 0)
            self._empty.show()
            return
        self._empty.hide()
        columns = math.ceil(math.sqrt(len(tiles)))
        for index, tile in enumerate(tiles):
            self._grid.addWidget(tile, index // columns, index % columns)
            tile.show()
        for column in range(self._grid.columnCount()):
            self._grid.setColumnStretch(column, 1 if column < columns else 0)
        for row in range(self._grid.rowCount()):
            self._grid.setRowStretch(row, 1 if row <= (len(tiles) - 1) // columns else 0)

    @property
    def columns(self) -> int:
        count = min(len(self.tiles) + (self.preview is not None), self.page_size)
        return math.ceil(math.sqrt(count)) if count else 0

    def _sight_changed(self) -> None:
        """Say what is in sight once things settle (layouts apply sizes later)."""
        self._sight_timer.start()

    def _say_sight(self) -> None:
        window = self.window()
        visible = self.isVisible() and not window.isMinimized()
        page = set(self._page_tiles())
        for sid, tile in self.tiles.items():
            height = tile.picture_height() if visible and tile in page else None
            if height is None:
                if self.in_sight.pop(sid, None) is not None or sid not in self._said:
                    self.videoHidden.emit(sid)
            elif self.in_sight.get(sid) != height:
                self.in_sight[sid] = height
                self.videoShown.emit(sid, height)
            self._said.add(sid)
        self._said &= set(self.tiles)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._sight_changed()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        window = self.window()
        if window is not self._watched:
            if self._watched is not None:
                self._watched.removeEventFilter(self)
            window.installEventFilter(self)
            self._watched = window
        self._sight_changed()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._sight_changed()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._watched and event.type() in (
                QEvent.Type.WindowStateChange, QEvent.Type.Hide, QEvent.Type.Show):
            self._sight_changed()
        return False
