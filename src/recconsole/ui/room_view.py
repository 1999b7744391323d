"""The room: a grid of video tiles that re-flows as tracks come and go, and who is here."""

from __future__ import annotations

import math

from livekit import rtc
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QWidget,
)

from recconsole.ui.video_tile import VideoTile


class RoomView(QWidget):
    """Video tiles in a near-square grid, plus a list of every participant.

    Signals: none; the window feeds it from the room session.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles: dict[str, VideoTile] = {}  # track sid -> tile
        self._owners: dict[str, str] = {}  # track sid -> identity
        self._names: dict[str, str] = {}  # identity -> display name
        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._grid.setSpacing(8)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._empty = QLabel("Nobody is sharing video yet.")
        self._empty.setObjectName("subtitle")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.people = QListWidget()
        self.people.setObjectName("people")
        self.people.setFixedWidth(200)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._grid_host, 1)
        layout.addWidget(self.people)
        self._reflow()

    # --- participants -----------------------------------------------------------

    def add_participant(self, identity: str, name: str) -> None:
        self._names[identity] = name
        self._refresh_people()

    def remove_participant(self, identity: str) -> None:
        self._names.pop(identity, None)
        for sid in [sid for sid, owner in self._owners.items() if owner == identity]:
            self.remove_video(sid)
        self._refresh_people()

    def _refresh_people(self) -> None:
        self.people.clear()
        with_video = set(self._owners.values())
        for identity, name in sorted(self._names.items(), key=lambda kv: kv[1].lower()):
            item = QListWidgetItem(name if identity in with_video else f"{name}  (audio only)")
            item.setData(Qt.ItemDataRole.UserRole, identity)
            self.people.addItem(item)

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
        if tile is not None:
            self._grid.removeWidget(tile)
            tile.deleteLater()
            self._reflow()
            self._refresh_people()

    def show_frame(self, track_sid: str, frame: rtc.VideoFrame) -> None:
        tile = self.tiles.get(track_sid)
        if tile is not None:
            tile.show_frame(frame)

    def set_speaking(self, identities: list[str]) -> None:
        for sid, tile in self.tiles.items():
            tile.set_state(speaking=self._owners[sid] in identities)

    def set_muted(self, identity: str, muted: bool) -> None:
        for sid, tile in self.tiles.items():
            if self._owners[sid] == identity:
                tile.set_state(muted=muted)

    def clear(self) -> None:
        for sid in list(self.tiles):
            self.remove_video(sid)
        self._names.clear()
        self._refresh_people()

    def _reflow(self) -> None:
        """Lay tiles out in ceil(sqrt(n)) columns, in the order they came."""
        while self._grid.count():
            self._grid.takeAt(0)
        tiles = list(self.tiles.values())
        if not tiles:
            self._grid.addWidget(self._empty, 0, 0)
            self._empty.show()
            return
        self._empty.hide()
        columns = math.ceil(math.sqrt(len(tiles)))
        for index, tile in enumerate(tiles):
            self._grid.addWidget(tile, index // columns, index % columns)
        for column in range(self._grid.columnCount()):
            self._grid.setColumnStretch(column, 1 if column < columns else 0)
        for row in range(self._grid.rowCount()):
            self._grid.setRowStretch(row, 1 if row <= (len(tiles) - 1) // columns else 0)

    @property
    def columns(self) -> int:
        return math.ceil(math.sqrt(len(self.tiles))) if self.tiles else 0
