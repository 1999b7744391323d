"""Every room on the server as a Qt table model, merged from snapshots and webhooks.

A snapshot (see :mod:`recconsole.core.rooms`) replaces what the model knows in one
pass: rooms that went are removed in contiguous runs, new ones inserted in one
block, and changed rows reported with one ``dataChanged``, so a thousand rooms
cost a handful of model signals, not thousands. The model sorts itself (one key
per row, then one reorder; a sorting proxy would call back into Python for every
comparison); a proxy only filters by name (:func:`rooms_proxy`). Ages and clocks
are computed when a cell is drawn, so time passing costs no model signal at all.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from recconsole.core.recording_status import RecordingStatus
from recconsole.core.rooms import Counts, RoomsSnapshot, RoomSummary

RoomRole: Final = Qt.ItemDataRole.UserRole + 1  # the RoomSummary of a row
SortRole: Final = Qt.ItemDataRole.UserRole + 2  # a value that sorts (numbers as numbers)
COLUMNS: Final = ("Room", "Created by", "Participants", "Publishers", "Age", "Recording",
                  "Metadata says", "Recording time", "Recordings")
AGE, RECORDING, ELAPSED, STORED = 4, 5, 7, 8
COUNTS_LAG: Final = 5.0  # LiveKit refreshes ListRooms' participant counts this often
_EGRESS_TEXT: Final = {RecordingStatus.STARTING: "Starting…", RecordingStatus.STARTED: "Recording",
                       RecordingStatus.STOPPING: "Stopping…", RecordingStatus.STOPPED: "Ended",
                       RecordingStatus.FAILED: "Failed"}
_WARNING = QBrush(QColor("#f6ad55"))
_ROLES: Final = frozenset({Qt.ItemDataRole.DisplayRole, SortRole, RoomRole,
                           Qt.ItemDataRole.TextAlignmentRole, Qt.ItemDataRole.ToolTipRole,
                           Qt.ItemDataRole.BackgroundRole})
Index = QModelIndex | QPersistentModelIndex


def human_age(seconds: float) -> str:
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    if whole < 86400:
        return f"{whole // 3600} h {whole // 60 % 60:02d} min"
    return f"{whole // 86400} d {whole // 3600 % 24} h"


def clock(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class RoomsModel(QAbstractTableModel):
    """The rooms of one server; ``disagreement_after`` s of disagreement before it shows
    (a start or stop in progress passes through a moment where the two differ)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[RoomSummary] = []
        self._row_of: dict[str, int] = {}
        self._counted: dict[str, float] = {}  # room -> when ListParticipants counted it
        self._disagreeing: dict[str, float] = {}  # room -> since when
        self.recordings: dict[str, int] | None = None  # stored recordings per room name
        self.egress_known = True
        self.disagreement_after = 10.0
        self.now = time.time
        self._sort_column: int | None = None
        self._sort_order = Qt.SortOrder.AscendingOrder

    # --- Qt model -----------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid():  # a view asks for ten roles per cell
            return None
        room, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(room, column)
        if role == SortRole:
            return self._sort_value(room, column)
        if role == RoomRole:
            return room
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3, 4, ELAPSED, STORED):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if column in (RECORDING, 6) and (why := self.disagreement(room)):
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{why} Select the room and choose Fix status to set it right."
            if role == Qt.ItemDataRole.BackgroundRole:
                return _WARNING
        if role == Qt.ItemDataRole.ToolTipRole and column == 6 and room.recording_error:
            return room.recording_error
        return None

    def _text(self, room: RoomSummary, column: int) -> str:
        if column == 0:
            return room.name
        if column == 1:
            return room.created_by or "—"
        if column == 2:
            return str(room.participants)
        if column == 3:
            return str(room.publishers)
        if column == AGE:
            return human_age(self.now() - room.created_at) if room.created_at else "—"
        if column == RECORDING:
            if not self.egress_known:
                return "unknown"
            text = _EGRESS_TEXT[room.egress_status] if room.egress_status else "Not recording"
            return f"⚠ {text}" if self.disagreement(room) else text
        if column == 6:
            return room.metadata_status.value if room.metadata_status else "—"
        if column == ELAPSED:
            since = room.recording_since
            return clock(self.now() - since) if since and room.egress_status else ""
        count = self.recordings.get(room.name, 0) if self.recordings is not None else None
        return "…" if count is None else str(count)

    def _sort_value(self, room: RoomSummary, column: int) -> Any:
        if column == 2:
            return room.participants
        if column == 3:
            return room.publishers
        if column == AGE:
            return -room.created_at
        if column == ELAPSED:
            return -(room.recording_since or self.now()) if room.egress_status else 1.0
        if column == STORED:
            return (self.recordings or {}).get(room.name, 0)
        return self._text(room, column).lower()

    def disagreement(self, room: RoomSummary) -> str:
        """Why the room's metadata and egress disagree, once it has lasted (else "")."""
        since = self._disagreeing.get(room.name)
        if since is None or self.now() - since < self.disagreement_after:
            return ""
        return room.disagreement(self.egress_known)

    # --- contents -----------------------------------------------------------------------

    def room(self, name: str) -> RoomSummary | None:
        row = self._row_of.get(name)
        return self._rows[row] if row is not None else None

    @property
    def names(self) -> list[str]:
        return [room.name for room in self._rows]

    def apply(self, snapshot: RoomsSnapshot) -> tuple[set[str], set[str]]:
        """Make the model the snapshot; returns the rooms that came and went."""
        self.egress_known = snapshot.egress_known
        fresh = {room.name: room for room in snapshot.rooms}
        gone = {room.name for room in self._rows if room.name not in fresh}
        self._remove(gone)
        changed: list[int] = []
        for row, old in enumerate(self._rows):
            new = fresh.pop(old.name)
            if self._counted.get(old.name, 0.0) > snapshot.taken_at - COUNTS_LAG:
                new = dataclasses.replace(new, participants=old.participants,
                                          publishers=old.publishers)
            if new != old:
                self._rows[row] = new
                changed.append(row)
        if fresh:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            for name, room in fresh.items():
                self._row_of[name] = len(self._rows)
                self._rows.append(room)
            self.endInsertRows()
        self._track_disagreements()
        if changed:
            self.dataChanged.emit(self.index(min(changed), 0),
                                  self.index(max(changed), len(COLUMNS) - 1))
        if fresh or changed:
            self._reorder()
        return set(fresh), gone

    def remove_rooms(self, names: set[str]) -> None:
        self._remove(names & self._row_of.keys())

    def set_counts(self, name: str, counts: Counts) -> None:
        """Participants and publishers just counted; ListRooms' older counts don't undo them."""
        row = self._row_of.get(name)
        if row is None:
            return
        self._counted[name] = self.now()
        room = self._rows[row]
        if (room.participants, room.publishers) != (counts.participants, counts.publishers):
            self._rows[row] = dataclasses.replace(room, participants=counts.participants,
                                                  publishers=counts.publishers)
            self.dataChanged.emit(self.index(row, 2), self.index(row, 3))

    def set_recordings(self, counts: dict[str, int]) -> None:
        self.recordings = counts
        self._column_changed(STORED)
        if self._sort_column == STORED:
            self._reorder()

    def tick(self) -> None:
        """Note how long disagreements have lasted (ages and clocks are read when drawn)."""
        self._track_disagreements()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column, self._sort_order = column, order
        self._reorder()

    def _reorder(self) -> None:
        """Put rows in the chosen order; selections follow their room."""
        column = self._sort_column
        if column is None or len(self._rows) < 2:
            return
        keys = [self._sort_value(room, column) for room in self._rows]
        order = sorted(range(len(self._rows)), key=keys.__getitem__,
                       reverse=self._sort_order == Qt.SortOrder.DescendingOrder)
        if order == list(range(len(order))):
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        names = [self._rows[p.row()].name for p in persistent]
        self._rows = [self._rows[i] for i in order]
        self._row_of = {room.name: row for row, room in enumerate(self._rows)}
        self.changePersistentIndexList(persistent, [
            self.index(self._row_of[name], p.column()) for p, name in zip(
                persistent, names, strict=True)])
        self.layoutChanged.emit()

    def _column_changed(self, column: int) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, column), self.index(len(self._rows) - 1, column))

    def _track_disagreements(self) -> None:
        now = self.now()
        current = {room.name for room in self._rows if room.disagreement(self.egress_known)}
        self._disagreeing = {name: self._disagreeing.get(name, now) for name in current}

    def _remove(self, names: set[str]) -> None:
        """Remove rows in contiguous runs, from the bottom so row numbers stay right."""
        rows = sorted((self._row_of[name] for name in names), reverse=True)
        while rows:
            last = first = rows.pop(0)
            while rows and rows[0] == first - 1:
                first = rows.pop(0)
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first:last + 1]
            self.endRemoveRows()
        if names:
            for name in names:
                self._counted.pop(name, None)
                self._disagreeing.pop(name, None)
            self._row_of = {room.name: row for row, room in enumerate(self._rows)}


class _FilterProxy(QSortFilterProxyModel):
    """Filters; sorting is passed on to the rooms model, which does it in one pass."""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if source is not None:
            source.sort(column, order)


def rooms_proxy(model: RoomsModel, parent: QObject | None = None) -> QSortFilterProxyModel:
    """Filter by room name (any case); rows keep the model's own order."""
    proxy = _FilterProxy(parent)
    proxy.setSourceModel(model)
    proxy.setFilterKeyColumn(0)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    proxy.setDynamicSortFilter(True)
    return proxy
