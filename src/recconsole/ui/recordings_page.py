"""The recordings page: every recording in the bucket, filterable, filled progressively.

The first listing starts from the rows the catalog's index kept from the last one, shown
before the store answers. Listing runs through the catalog in batches; the table grows
(or changes) as they arrive, a progress line says how far it got, and a storage error
shows in a banner with Retry. Thumbnails come afterwards, in the background, for the rows
that are painted (see :mod:`recconsole.ui.thumbnail_loader`).

An each-participant session is one row (double-click, or → and ←, opens or closes it);
selecting it
selects all its files: Delete removes them all, Play opens the first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QDate,
    QDateTime,
    QEvent,
    QModelIndex,
    QObject,
    Qt,
    QTime,
    QTimer,
    Signal,
)
from PySide6.QtGui import QHideEvent, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDateEdit,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from recconsole.core.recording_info import RecordingInfo
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.recordings import RecordingsService, download
from recconsole.storage.thumbnails import ThumbnailCache, Thumbnails
from recconsole.ui.player_window import PlayerWindow
from recconsole.ui.recordings_model import THUMBNAIL_SIZE, RecordingsModel, human_size
from recconsole.ui.tasks import AsyncRunner, user_message
from recconsole.ui.thumbnail_loader import ThumbnailLoader


class RecordingsPage(QWidget):
    """A filterable, sortable table of recordings: all of them, or one room's.

    Signals:
        loaded(int): a full listing finished with this many recordings.
        deleted(int, int): a deletion finished: how many went, how many could not.
        removed(list): names this page deleted (other tables drop them too).
        downloaded(str): a download ended (saved, stopped or failed), in words.
    """

    loaded = Signal(int)
    deleted = Signal(int, int)
    removed = Signal(list)
    downloaded = Signal(str)

    def __init__(self, catalog: RecordingsCatalog, runner: AsyncRunner,
                 service: RecordingsService | None = None,
                 parent: QWidget | None = None, *,
                 thumbnails: ThumbnailCache | None = None) -> None:
        super().__init__(parent)
        self.catalog, self.runner, self.service = catalog, runner, service
        self.confirm: Callable[[str], bool] = self._ask
        # How a player gets its URL (presigned, SAS or PROXY); the window sets it.
        self.url_for: Callable[[str], Coroutine[Any, Any, str]] = self._storage_url
        self.players: list[PlayerWindow] = []
        self.choose_target: Callable[[str], Path | None] = self._ask_target
        self._cancel_download = False
        self.room: str | None = None  # only this room's recordings, when set
        self._known_shown = False  # the index's rows are shown once, before the first listing
        self.model = RecordingsModel(self)
        self.thumbnails = ThumbnailLoader(thumbnails or ThumbnailCache(Thumbnails(catalog)),
                                          runner, self)
        self.room_filter = QLineEdit()
        self.room_filter.setPlaceholderText("Filter by room name")
        self.room_filter.setClearButtonEnabled(True)
        self.use_dates = QCheckBox("Started between")
        today = QDate.currentDate()
        self.since = QDateEdit(today.addMonths(-1))
        self.until = QDateEdit(today)
        for edit in (self.since, self.until):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")  # unambiguous in every locale
            edit.setEnabled(False)
        self.refresh_button = QPushButton("Refresh")
        self.play_button = QPushButton("Play")
        self.play_button.setEnabled(False)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setEnabled(False)
        self.download_button = QPushButton("Download…")
        self.download_button.setEnabled(False)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.hide()
        self.progress = QLabel()
        self._count_text = ""  # the count last said, while the line still says it
        self.progress.setObjectName("subtitle")
        self.banner = QFrame()
        self.banner.setObjectName("banner")
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        self.retry = QPushButton("Retry")
        banner = QHBoxLayout(self.banner)
        banner.addWidget(self.banner_text, 1)
        banner.addWidget(self.retry)
        self.banner.hide()
        # After a failed listing, try again by itself, waiting longer each time.
        self._retry_timer = QTimer(self)
        self._retry_timer.setSingleShot(True)
        self._retry_timer.timeout.connect(self.refresh)
        self.retry_delays = (2, 4, 8, 15, 30, 60)  # seconds; the last repeats
        self._failures = 0

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setResizeContentsPrecision(200)  # measure a sample, not 100,000 rows
        self.table.setWordWrap(False)
        self.table.setIconSize(THUMBNAIL_SIZE)
        self.table.verticalHeader().setDefaultSectionSize(THUMBNAIL_SIZE.height() + 6)
        self.table.horizontalHeader().setSortIndicator(2, Qt.SortOrder.DescendingOrder)

        self.title = QLabel()  # in one room's table, says which room
        self.title.setObjectName("roomName")
        self.title.hide()
        filters = QHBoxLayout()
        filters.addWidget(self.title, 1)
        filters.addWidget(self.room_filter, 1)
        for widget in (self.use_dates, self.since, QLabel("and"), self.until,
                       self.refresh_button, self.play_button, self.download_button,
                       self.delete_button):
            filters.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        footer = QHBoxLayout()
        footer.addWidget(self.progress, 1)
        footer.addWidget(self.cancel_button)
        layout.addLayout(footer)

        self.room_filter.textChanged.connect(self.model.set_room_filter)
        self.use_dates.toggled.connect(self._dates_changed)
        self.since.dateChanged.connect(self._dates_changed)
        self.until.dateChanged.connect(self._dates_changed)
        self.refresh_button.clicked.connect(self.refresh)
        self.retry.clicked.connect(self.refresh)
        self.delete_button.clicked.connect(self.delete_selected)
        self.play_button.clicked.connect(self.play_selected)
        self.download_button.clicked.connect(self.download_selected)
        self.cancel_button.clicked.connect(self._cancel)
        self.table.doubleClicked.connect(self._double_clicked)
        self.table.installEventFilter(self)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.model.thumbnail_wanted.connect(self.thumbnails.want)
        self.thumbnails.ready.connect(self.model.set_thumbnail)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.thumbnails.resume()

    def hideEvent(self, event: QHideEvent) -> None:
        # Another tab, or the window closing: thumbnails wait until the table shows.
        self.thumbnails.pause()
        super().hideEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """→ opens the current session's row, ← closes it (as in a tree)."""
        if watched is self.table and isinstance(event, QKeyEvent) \
                and event.type() == QEvent.Type.KeyPress \
                and event.key() in (Qt.Key.Key_Right, Qt.Key.Key_Left):
            row = self.table.currentIndex().row()
            if row >= 0 and self.model.is_session(row):
                self.model.set_expanded(row, event.key() == Qt.Key.Key_Right)
                return True
        return super().eventFilter(watched, event)

    def _double_clicked(self, index: QModelIndex) -> None:
        if self.model.is_session(index.row()):
            self.model.toggle(index.row())
        else:
            self.play_selected()

    def _selection_changed(self) -> None:
        names = self.selected_names()
        self.delete_button.setEnabled(self.service is not None and bool(names))
        self.play_button.setEnabled(self._to_play() is not None)
        self.download_button.setEnabled(len(names) == 1 and self.cancel_button.isHidden())

    def _to_play(self) -> str | None:
        """One recording selected, or one session (its first file)."""
        rows = self.table.selectionModel().selectedRows()
        names = self.selected_names()
        if len(names) == 1 or (len(rows) == 1 and self.model.is_session(rows[0].row())):
            return names[0]
        return None

    async def _storage_url(self, name: str) -> str:
        return await self.catalog.playback_url(name)

    def play_selected(self) -> None:
        """Open a player window for the selected recording."""
        name = self._to_play()
        if name is None:
            return
        player = PlayerWindow(name, lambda: self.url_for(name), self.runner,
                              poster=self.model.thumbnail(name))
        player.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        player.destroyed.connect(lambda *_: self.players.remove(player))
        self.players.append(player)
        player.show()
        player.open()

    def _dates_changed(self) -> None:
        on = self.use_dates.isChecked()
        self.since.setEnabled(on)
        self.until.setEnabled(on)
        if not on:
            self.model.set_date_range(None, None)
            return
        start = QDateTime(self.since.date(), QTime(0, 0)).toMSecsSinceEpoch()
        end = QDateTime(self.until.date(), QTime(23, 59, 59, 999)).toMSecsSinceEpoch()
        self.model.set_date_range(start, end)

    def show_room(self, room: str | None) -> None:
        """Show only the recordings of ``room`` (by name), or all of them again."""
        self.room = room
        self.room_filter.setVisible(room is None)
        self.title.setVisible(room is not None)
        self.title.setText(f"Recordings of {room}" if room is not None else "")
        self.model.keep_only(set())
        self._known_shown = False
        if room is not None:
            self.refresh()

    def _wanted(self, info: RecordingInfo) -> bool:
        return self.room is None or info.room_name == self.room

    def refresh(self) -> None:
        """List the bucket again; rows already shown stay (and stay selected).

        A banner that says the storage failed stays until a listing succeeds.
        """
        self._retry_timer.stop()
        self.refresh_button.setEnabled(False)
        self.progress.setText("Listing recordings…")
        self.runner.run(self._list(), on_success=self._listed, on_failure=self._failed)

    async def _list(self) -> set[str]:
        if not self._known_shown:
            self._known_shown = True
            known = [info for info in await self.catalog.known_recordings() if self._wanted(info)]
            self.model.merge(known)
            if known:
                self.progress.setText(f"{len(known):,} recordings known; checking the store…")
        seen: set[str] = set()
        batches: AsyncIterator[list[RecordingInfo]] = self.catalog.iter_recordings()
        async for batch in batches:
            batch = [info for info in batch if self._wanted(info)]
            seen.update(info.name for info in batch)
            self.model.merge([info for info in batch if not self.model.shows_as(info)])
            self.progress.setText(f"Listing recordings… {len(seen):,} so far")
        return seen

    def _listed(self, names: set[str]) -> None:
        self._failures = 0
        self.banner.hide()
        self.model.keep_only(names)
        self.refresh_button.setEnabled(True)
        self._show_count(len(names))
        self.loaded.emit(len(names))

    def _show_count(self, count: int) -> None:
        where = f" of room {self.room}" if self.room is not None else ""
        plural = "s" if count != 1 else ""
        self._count_text = f"{count:,} recording{plural}{where} in {self.catalog.store.describe}"
        self.progress.setText(self._count_text)

    def _recount(self) -> None:
        """A recording came or went without a listing: the count said follows it."""
        if self._count_text and self.progress.text() == self._count_text:
            self._show_count(self.model.total)

    def _failed(self, message: str) -> None:
        self.refresh_button.setEnabled(True)
        self.progress.clear()
        delay = self.retry_delays[min(self._failures, len(self.retry_delays) - 1)]
        self._failures += 1
        self.banner_text.setText(f"The recordings cannot be listed: {message}."
                                 f" Trying again in {delay:g} s.")
        self.banner.show()
        self._retry_timer.start(int(delay * 1000))

    def stop_retrying(self) -> None:
        self._retry_timer.stop()

    @property
    def retrying(self) -> bool:
        """A listing failed and the next try is scheduled."""
        return self._retry_timer.isActive()

    def recording_saved(self, name: str) -> None:
        """A new metadata file: show that recording (or its new details) at once."""
        self.runner.run(self.catalog.get(name), on_success=self._saved,
                        on_failure=lambda _message: None)

    def _saved(self, info: RecordingInfo) -> None:
        if self._wanted(info):
            self.model.merge([info])
            self._recount()

    def _forget_thumbnails(self, names: list[str]) -> None:
        """What this computer keeps of deleted recordings' thumbnails goes too."""
        self.thumbnails.forget(self.model.infos(names))

    def recording_deleted(self, name: str) -> None:
        """Another console deleted a recording: drop it here and from the index."""
        self._forget_thumbnails([name])
        self.model.remove({name})
        self._recount()
        self.runner.run(self.catalog.forget(name), on_failure=lambda _message: None)

    def recordings_deleted(self, names: list[str]) -> None:
        self._forget_thumbnails(names)
        self.model.remove(set(names))

    def selected_names(self) -> list[str]:
        """The recordings selected: a session's row stands for its files."""
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        names = [info.name for row in rows for info in self.model.files(row)]
        return list(dict.fromkeys(names))  # a session and one of its files: once

    def _ask_target(self, name: str) -> Path | None:
        chosen, _ = QFileDialog.getSaveFileName(self, "Download recording",
                                                name.rsplit("/", 1)[-1],
                                                "MP4 video (*.mp4)")
        return Path(chosen) if chosen else None

    def download_selected(self) -> None:
        """Save the selected recording to a file (resuming a .part left from before)."""
        names = self.selected_names()
        target = self.choose_target(names[0]) if len(names) == 1 else None
        if target is None:
            return
        name = names[0]
        self._cancel_download = False
        self.download_button.setEnabled(False)
        self.cancel_button.show()

        def progress(done: int, total: int) -> None:
            percent = 100 * done // total if total else 100
            self.progress.setText(f"Downloading {name}… {percent}% of {human_size(total)}")

        def finished(message: str) -> None:
            self.cancel_button.hide()
            self._selection_changed()
            self.progress.setText(message)
            self.downloaded.emit(message)

        self.runner.run(
            download(self.catalog, name, target, progress, lambda: self._cancel_download),
            on_success=lambda path: finished(f"Saved {path}"), on_failure=finished)

    def _cancel(self) -> None:
        self._cancel_download = True

    def _ask(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Delete recordings", question)
        return answer == QMessageBox.StandardButton.Yes

    def delete_selected(self) -> None:
        """Delete the selected recordings after one confirmation; report each row."""
        names = self.selected_names()
        if not names or self.service is None:
            return
        what = names[0] if len(names) == 1 else f"these {len(names)} recordings"
        if not self.confirm(f"Delete {what}? The file and its metadata are removed from "
                            "the bucket, and the room is told."):
            return
        self.delete_button.setEnabled(False)
        self.runner.run(self.service.delete_many(names), on_success=self._deleted)

    def _deleted(self, results: dict[str, Exception | None]) -> None:
        gone = [name for name, error in results.items() if error is None]
        self._forget_thumbnails(gone)
        self.model.remove(set(gone))
        self.removed.emit(gone)
        failed = {name: user_message(error) for name, error in results.items() if error}
        done = len(results) - len(failed)
        self.progress.setText(f"Deleted {done} recording{'s' if done != 1 else ''}"
                              + (f"; {len(failed)} could not be deleted" if failed else ""))
        if failed:
            self.banner_text.setText("Not deleted: " + "; ".join(
                f"{name}: {message}" for name, message in failed.items()))
            self.banner.show()
        self.delete_button.setEnabled(bool(self.selected_names()))
        self.deleted.emit(done, len(failed))
