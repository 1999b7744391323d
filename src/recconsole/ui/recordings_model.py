"""Recordings as a Qt table model that filters and sorts with numpy.

A QSortFilterProxyModel calls back into Python once per row: with 100,000 rows that
is 0.8 s per filter keystroke and 10 s per sort here. This model keeps columnar
arrays instead and computes the visible rows in one vectorised pass; the room filter
matches the few distinct room names, then selects rows by room code. Sorting and
new rows keep selections (persistent indexes are remapped); a filter change resets.
Rows arrive in batches as the catalog lists the bucket and are merged by name.

The name column shows each recording's thumbnail once it is known: the first time a row
is painted the model asks for it (``thumbnail_wanted``) and shows it when
:meth:`RecordingsModel.set_thumbnail` hands it over; nothing waits for it. Audio-only
recordings show a speaker icon instead.

The files of one each-participant session (``extra["session"]``) show under one row of
their own, collapsed at first (:meth:`RecordingsModel.set_expanded`): it says how many
files it holds, when the first started, the longest duration and their total size, with
the first file's thumbnail. The tree is kept flat — a session's files are rows placed
right below it while it is open — so a filter keystroke on 100,000 rows stays one
vectorised pass and a plain table shows it; a session shows when any of its files passes
the filters, with those files only.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any, Final

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

from recconsole.core.recording_info import MetadataState, RecordingInfo
from recconsole.storage.thumbnails import audio_only

RecordingRole: Final = Qt.ItemDataRole.UserRole + 1  # the RecordingInfo of a row
COLUMNS: Final = ("Name", "Room", "Started", "Duration", "Size", "Recording")
Index = QModelIndex | QPersistentModelIndex
THUMBNAIL_SIZE: Final = QSize(64, 36)  # a 16:9 thumbnail in the name column
KEPT_THUMBNAILS: Final = 2000  # the most recently shown; others are asked for again
Groups = tuple[np.ndarray, np.ndarray, np.ndarray]
_NO_GROUPS: Final[Groups] = (np.zeros(0, np.int64),) * 3


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def human_duration(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def recording_kind(info: RecordingInfo) -> str:
    """What a recording holds, from its metadata's extra keys: the room (layout, options)
    or one participant, with the session that groups files recorded together."""
    extra = info.extra
    found = extra.get("options")
    options: dict[str, Any] = found if isinstance(found, dict) else {}
    parts: list[str] = []
    if extra.get("kind") == "participant":
        who = str(extra.get("participant", "?"))
        parts.append(f"{who}'s screen" if extra.get("screenShare") else who)
        session = str(extra.get("session", ""))
        if session:
            parts.append(f"session {session_tag(session)}")
    else:
        parts.append(f"room, {extra.get('layout', 'grid')}")
    content = {"audio": "audio only", "video": "video only"}.get(options.get("content", ""))
    parts += [p for p in (content, options.get("preset"), str(options.get("output", "")).upper()
                          or None) if p]
    if extra.get("status"):
        parts.append(f"{extra['status']}: {extra.get('error', '')}".rstrip(": "))
    return ", ".join(parts)


def _kind_key(info: RecordingInfo) -> str:
    """Sorts a session's files together, room recordings first."""
    session = str(info.extra.get("session", ""))
    return f"{1 if session else 0}{session}|{info.extra.get('participant', '')}"


def session_tag(session: str) -> str:
    return session.rsplit("-", 1)[-1]


def local_time(started_ms: int) -> str:
    if started_ms <= 0:
        return "—"
    return datetime.fromtimestamp(started_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


class RecordingsModel(QAbstractTableModel):
    """Every recording known, shown filtered and sorted (newest first by default).

    Signals:
        thumbnail_wanted(RecordingInfo): a row without a thumbnail was painted; answer
            with :meth:`set_thumbnail` (once per recording).
    """

    thumbnail_wanted = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[RecordingInfo] = []  # append-only: indices never shift
        self._row_of: dict[str, int] = {}  # name -> index of its live row
        self._alive = np.zeros(0, bool)
        self._room_codes: dict[str, int] = {}
        self._codes = np.zeros(0, np.int32)
        self._started = np.zeros(0, np.int64)
        self._duration = np.zeros(0, np.float64)
        self._size = np.zeros(0, np.int64)
        self._session_codes: dict[str, int] = {}  # extra["session"] -> code
        self._sessions: list[str] = []  # code -> extra["session"]
        self._session = np.zeros(0, np.int32)  # per row: its session's code, or -1
        # Display order: a row of _rows (>= 0) or a session, -(code + 1).
        self._visible = np.zeros(0, np.int64)
        # The shown files of every session, session after session, each in display order:
        # (rows, where each session's start, how many); see _files_of.
        self._children: Groups = _NO_GROUPS
        self._expanded: set[int] = set()  # sessions shown open
        self._room_filter = ""
        self._since_ms: int | None = None
        self._until_ms: int | None = None
        self._sort_column, self._sort_order = 2, Qt.SortOrder.DescendingOrder
        self._asked: set[str] = set()  # names whose thumbnail was asked for
        # name -> JPEG, icon; least recently shown first
        self._thumbnails: OrderedDict[str, tuple[bytes, QPixmap]] = OrderedDict()
        self._blank: QPixmap | None = None  # keeps names aligned while none is shown
        self._speaker: QPixmap | None = None

    # --- Qt model ---------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._visible)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def info(self, row: int) -> RecordingInfo:
        """The recording of a row; for a session's row, its first file."""
        entry = int(self._visible[row])
        return self._rows[entry if entry >= 0 else int(self._files_of(-entry - 1)[0])]

    def is_session(self, row: int) -> bool:
        return int(self._visible[row]) < 0

    def is_expanded(self, row: int) -> bool:
        entry = int(self._visible[row])
        return entry < 0 and -entry - 1 in self._expanded

    def files(self, row: int) -> list[RecordingInfo]:
        """The recordings a row stands for: its own, or the shown files of its session."""
        entry = int(self._visible[row])
        if entry >= 0:
            return [self._rows[entry]]
        return [self._rows[int(i)] for i in self._files_of(-entry - 1)]

    def set_expanded(self, row: int, expanded: bool) -> None:
        """Open or close a session's row: its files show right below it, or go."""
        entry = int(self._visible[row])
        code = -entry - 1
        if entry >= 0 or (code in self._expanded) == expanded:
            return
        children = self._files_of(code)
        if expanded:
            self.beginInsertRows(QModelIndex(), row + 1, row + len(children))
            self._expanded.add(code)
            self._visible = np.concatenate(
                [self._visible[:row + 1], children, self._visible[row + 1:]])
            self.endInsertRows()
        else:
            self.beginRemoveRows(QModelIndex(), row + 1, row + len(children))
            self._expanded.discard(code)
            self._visible = np.delete(self._visible, np.s_[row + 1:row + 1 + len(children)])
            self.endRemoveRows()
        index = self.index(row, 0)
        self.dataChanged.emit(index, index)

    def _files_of(self, code: int, groups: Groups | None = None) -> np.ndarray:
        rows, start, count = groups if groups is not None else self._children
        return rows[start[code]:start[code] + count[code]]

    def toggle(self, row: int) -> None:
        if self.is_session(row):
            self.set_expanded(row, not self.is_expanded(row))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        info, column = self.info(index.row()), index.column()
        entry = int(self._visible[index.row()])
        if role == RecordingRole:
            return info
        if role == Qt.ItemDataRole.DisplayRole:
            if entry < 0:
                return self._session_text(-entry - 1, info, column)
            text = self._text(info, column)
            in_session = column == 0 and self._session[entry] >= 0
            return f"   ↳ {text}" if in_session else text
        if entry < 0 and role == Qt.ItemDataRole.ToolTipRole:
            return ("A session: each participant's file. Double-click it, or → and ←, to open"
                    " or close it.")
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self._decoration(info)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (3, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and info.metadata is not MetadataState.OK:
            return ("No metadata file: details come from the bucket listing."
                    if info.metadata is MetadataState.MISSING
                    else "The metadata file of this recording cannot be read.")
        return None

    def _decoration(self, info: RecordingInfo) -> QPixmap:
        if self._blank is None or self._speaker is None:
            self._blank = QPixmap(THUMBNAIL_SIZE)
            self._blank.fill(Qt.GlobalColor.transparent)
            self._speaker = QPixmap(THUMBNAIL_SIZE)
            self._speaker.fill(Qt.GlobalColor.transparent)
            icon = QApplication.style().standardPixmap(QStyle.StandardPixmap.SP_MediaVolume)
            painter = QPainter(self._speaker)
            painter.drawPixmap((THUMBNAIL_SIZE.width() - icon.width()) // 2,
                               (THUMBNAIL_SIZE.height() - icon.height()) // 2, icon)
            painter.end()
        if audio_only(info):
            return self._speaker
        known = self._thumbnails.get(info.name)
        if known is not None:
            self._thumbnails.move_to_end(info.name)
            return known[1]
        if info.name not in self._asked:
            self._asked.add(info.name)
            self.thumbnail_wanted.emit(info)
        return self._blank

    def set_thumbnail(self, name: str, jpeg: bytes | None) -> None:
        """The thumbnail of a recording arrived (None: it has none); its row repaints."""
        image = QImage.fromData(jpeg) if jpeg else QImage()
        if image.isNull() or name not in self._row_of:
            return
        icon = QPixmap.fromImage(image.scaled(
            THUMBNAIL_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))
        self._thumbnails[name] = (jpeg or b"", icon)
        self._thumbnails.move_to_end(name)
        while len(self._thumbnails) > KEPT_THUMBNAILS:  # scrolled far: memory stays bounded
            oldest, _ = self._thumbnails.popitem(last=False)
            self._asked.discard(oldest)
        row = self._row_of[name]
        code = int(self._session[row])
        for shown in np.flatnonzero((self._visible == row) | (self._visible == -code - 1)
                                    if code >= 0 else self._visible == row):
            index = self.index(int(shown), 0)  # the file, and its session (first file)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def thumbnail(self, name: str) -> bytes | None:
        """The thumbnail (JPEG) shown for a recording, if one arrived."""
        known = self._thumbnails.get(name)
        return known[0] if known is not None else None

    def _session_text(self, code: int, first: RecordingInfo, column: int) -> str:
        rows = self._files_of(code)
        if column == 0:
            arrow = "▾" if code in self._expanded else "▸"
            count = f"{len(rows)} file{'s' if len(rows) != 1 else ''}"
            return f"{arrow} each participant · session {session_tag(self._sessions[code])}" \
                   f" · {count}"
        if column == 1:
            return first.room_name or "—"
        if column == 2:
            return local_time(int(self._started[rows].min()))
        if column == 3:
            longest = float(self._duration[rows].max())
            return human_duration(longest) if longest else "—"
        if column == 4:
            return human_size(int(self._size[rows].sum()))
        return f"session {session_tag(self._sessions[code])}"

    @staticmethod
    def _text(info: RecordingInfo, column: int) -> str:
        if column == 0:
            return info.name
        if column == 1:
            return info.room_name or "—"
        if column == 2:
            return local_time(info.started_at)
        if column == 3:
            if info.metadata is MetadataState.UNREADABLE:
                return "metadata unreadable"
            return human_duration(info.duration) if info.duration else "—"
        if column == 5:
            return recording_kind(info)
        return human_size(info.size)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column, self._sort_order = column, order
        self._relayout()

    # --- contents ---------------------------------------------------------------------

    def merge(self, batch: list[RecordingInfo]) -> None:
        """Add new rows and update known ones (by name); selections are kept."""
        if not batch:
            return
        fresh: list[RecordingInfo] = []
        for info in batch:
            row = self._row_of.get(info.name)
            if row is None:
                self._row_of[info.name] = len(self._rows) + len(fresh)
                fresh.append(info)
            else:
                self._rows[row] = info
                self._codes[row] = self._code(info.room_name)
                self._started[row], self._duration[row] = info.started_at, info.duration
                self._size[row] = info.size
                self._session[row] = self._session_code(info)
        self._append_columns(fresh)
        self._relayout()
        top, bottom = self.index(0, 0), self.index(len(self._visible) - 1, len(COLUMNS) - 1)
        self.dataChanged.emit(top, bottom)  # updated rows show their new details

    def shows_as(self, info: RecordingInfo) -> bool:
        """Whether the model holds this very row already (same details, same extras)."""
        row = self._row_of.get(info.name)
        if row is None:
            return False
        held = self._rows[row]
        return held == info and held.extra == info.extra

    def infos(self, names: list[str]) -> list[RecordingInfo]:
        """The rows of those of ``names`` the model holds."""
        return [self._rows[self._row_of[n]] for n in names if n in self._row_of]

    def has(self, name: str) -> bool:
        """Whether a recording of this name is in the model (shown or filtered out)."""
        return name in self._row_of

    def remove(self, names: set[str]) -> None:
        """Drop rows by name (deleted recordings); other selections are kept."""
        gone = [self._row_of.pop(name) for name in names & self._row_of.keys()]
        for name in names:
            self._thumbnails.pop(name, None)
            self._asked.discard(name)
        if not gone:
            return
        self._alive[gone] = False
        self._expanded = {code for code in self._expanded  # a session that went is forgotten
                          if (self._alive & (self._session == code)).any()}
        new_visible, children = self._compute_visible()
        shown = np.flatnonzero(~np.isin(self._visible, new_visible))  # files, empty sessions
        for position in shown[::-1]:  # from the bottom, so positions stay right
            self.beginRemoveRows(QModelIndex(), int(position), int(position))
            self._visible = np.delete(self._visible, position)
            self.endRemoveRows()
        if self._children[2].any():
            self._relayout()  # sessions that keep files: their first file or order changed
            if len(self._visible):
                self.dataChanged.emit(self.index(0, 0),
                                      self.index(len(self._visible) - 1, len(COLUMNS) - 1))
        else:
            self._children = children

    def keep_only(self, names: set[str]) -> None:
        """After a full listing: drop rows that are no longer in the bucket."""
        self.remove(set(self._row_of) - names)

    def set_room_filter(self, text: str) -> None:
        self._room_filter = text.strip().lower()
        self._reset()

    def set_date_range(self, since_ms: int | None, until_ms: int | None) -> None:
        self._since_ms, self._until_ms = since_ms, until_ms
        self._reset()

    def visible_names(self) -> list[str]:
        """What each row shows in the name column: a recording's name, or a session's."""
        return [self._rows[int(i)].name if i >= 0 else self._sessions[int(-i - 1)]
                for i in self._visible]

    @property
    def total(self) -> int:
        return len(self._row_of)

    def room_counts(self) -> dict[str, int]:
        """How many recordings each room name has (filters aside)."""
        counts = np.bincount(self._codes[self._alive], minlength=len(self._room_codes))
        return {room: int(counts[code]) for room, code in self._room_codes.items()
                if counts[code]}

    # --- the vectorised part ------------------------------------------------------------

    def _code(self, room: str) -> int:
        return self._room_codes.setdefault(room, len(self._room_codes))

    def _session_code(self, info: RecordingInfo) -> int:
        session = str(info.extra.get("session") or "")
        if not session:
            return -1
        code = self._session_codes.get(session)
        if code is None:
            code = self._session_codes[session] = len(self._sessions)
            self._sessions.append(session)
        return code

    def _append_columns(self, fresh: list[RecordingInfo]) -> None:
        self._rows.extend(fresh)
        n = len(fresh)
        self._codes = np.concatenate([self._codes, np.fromiter(
            (self._code(r.room_name) for r in fresh), np.int32, n)])
        self._started = np.concatenate([self._started, np.fromiter(
            (r.started_at for r in fresh), np.int64, n)])
        self._duration = np.concatenate([self._duration, np.fromiter(
            (r.duration for r in fresh), np.float64, n)])
        self._size = np.concatenate([self._size, np.fromiter((r.size for r in fresh), np.int64, n)])
        self._alive = np.concatenate([self._alive, np.ones(n, bool)])
        self._session = np.concatenate([self._session, np.fromiter(
            (self._session_code(r) for r in fresh), np.int32, n)])

    def _compute_visible(self) -> tuple[np.ndarray, Groups]:
        """The rows in display order, and each shown session's files."""
        rows = self._sorted_rows()
        sessions = self._session[rows]
        grouped = np.flatnonzero(sessions >= 0)
        if not len(grouped):
            return rows, _NO_GROUPS
        # A session stands where its first file (in this order) would; its files follow
        # it in that order when it is open.
        codes, first, counts = np.unique(sessions[grouped], return_index=True,
                                         return_counts=True)
        by_session = grouped[np.argsort(sessions[grouped], kind="stable")]
        start = np.zeros(len(self._sessions), np.int64)
        count = np.zeros(len(self._sessions), np.int64)
        start[codes] = np.cumsum(counts) - counts
        count[codes] = counts
        children = (rows[by_session], start, count)
        top = np.ones(len(rows), bool)
        top[grouped] = False
        top[grouped[first]] = True
        entries = np.where(sessions >= 0, -sessions.astype(np.int64) - 1, rows)[top]
        opened = [code for code in self._expanded if code < len(count) and count[code]]
        if opened:
            at = np.flatnonzero(np.isin(entries, -np.array(opened, np.int64) - 1))
            pieces, begin = [], 0
            for position in at.tolist():
                pieces += [entries[begin:position + 1],
                           self._files_of(int(-entries[position] - 1), children)]
                begin = position + 1
            entries = np.concatenate([*pieces, entries[begin:]])
        return entries, children

    def _sorted_rows(self) -> np.ndarray:
        mask = self._alive.copy()
        if self._room_filter:
            wanted = [code for room, code in self._room_codes.items()
                      if self._room_filter in room.lower()]
            mask &= np.isin(self._codes, np.array(wanted, np.int32))
        if self._since_ms is not None:
            mask &= self._started >= self._since_ms
        if self._until_ms is not None:
            mask &= self._started <= self._until_ms
        rows = np.flatnonzero(mask)
        key: Any
        column = self._sort_column
        if column in (0, 1, 5):
            texts = [self._rows[int(i)].name if column == 0 else self._rows[int(i)].room_name
                     if column == 1 else _kind_key(self._rows[int(i)]) for i in rows]
            key = np.array(texts, dtype=object)
        else:
            key = (self._started, self._duration, self._size)[column - 2][rows]
        order = np.argsort(key, kind="stable")
        if self._sort_order == Qt.SortOrder.DescendingOrder:
            order = order[::-1]
        return rows[order]

    def _reset(self) -> None:
        self.beginResetModel()
        self._visible, self._children = self._compute_visible()
        self.endResetModel()

    def _relayout(self) -> None:
        """New rows are inserted at the end, then all are put in order; persistent indexes
        (selections) follow their recording."""
        new_visible, children = self._compute_visible()
        grow = len(new_visible) - len(self._visible)
        if grow < 0 or not np.isin(self._visible, new_visible).all():
            self._reset()  # an updated row left the filter or its session: rare, start over
            return
        self._children = children  # sessions' rows read them
        if grow > 0:
            fresh = np.setdiff1d(new_visible, self._visible, assume_unique=True)
            self.beginInsertRows(QModelIndex(), len(self._visible), len(new_visible) - 1)
            self._visible = np.concatenate([self._visible, fresh])
            self.endInsertRows()
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        entries = [int(self._visible[p.row()]) for p in persistent]
        self._visible = new_visible
        offset = len(self._sessions)  # sessions' entries are negative
        position = np.full(len(self._rows) + offset, -1, np.int64)
        position[new_visible + offset] = np.arange(len(new_visible))
        moved = [self.index(int(position[entry + offset]), p.column()) for p, entry in zip(
            persistent, entries, strict=True)]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()
