"""Fetching a table's thumbnails in the background, a batch at a time.

Rows ask for their thumbnail as they are painted; the requests gathered over a short
moment go to the :class:`ThumbnailCache` as one task on the event loop (the cache bounds
how many are fetched or made at once). While the table is hidden (another tab, a window
closing) nothing runs: a batch under way is cancelled and its rows wait, with any new
request, until the table shows again. Nothing starts while no event loop runs.
"""

from __future__ import annotations

import asyncio
from typing import Final

from PySide6.QtCore import QObject, QTimer, Signal

from recconsole.core.recording_info import RecordingInfo
from recconsole.storage.thumbnails import ThumbnailCache
from recconsole.ui.tasks import AsyncRunner

GATHER_MS: Final = 150  # requests within this long go in one batch


class ThumbnailLoader(QObject):
    """Gets thumbnails for rows that asked, and drops those of deleted recordings.

    Signals:
        ready(str, object): a recording's thumbnail arrived (JPEG bytes, or None when
            it has none).
    """

    ready = Signal(str, object)

    def __init__(self, cache: ThumbnailCache, runner: AsyncRunner,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache, self.runner = cache, runner
        self._wanted: dict[str, RecordingInfo] = {}
        self._forgotten: list[RecordingInfo] = []
        self._in_flight: dict[str, RecordingInfo] = {}  # the batch's rows not answered yet
        self._task: asyncio.Task[None] | None = None
        self._paused = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(GATHER_MS)
        self._timer.timeout.connect(self._start)

    @property
    def busy(self) -> bool:
        """Whether some thumbnails are still to come (or deleted ones to drop)."""
        return self._task is not None or bool(self._wanted or self._forgotten)

    def want(self, info: RecordingInfo) -> None:
        self._wanted[info.name] = info
        self._kick()

    def forget(self, infos: list[RecordingInfo]) -> None:
        for info in infos:
            self._wanted.pop(info.name, None)
        self._forgotten += infos
        self._kick()

    def pause(self) -> None:
        """Start nothing more; a batch under way is cancelled, its rows kept for later."""
        self._paused = True
        self._timer.stop()
        if self._task is not None:
            self._task.cancel()

    def resume(self) -> None:
        self._paused = False
        self._kick()

    def _kick(self) -> None:
        if not self._paused and self._task is None and not self._timer.isActive() and (
                self._wanted or self._forgotten):
            self._timer.start()

    def _start(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # the loop is not turning: the work waits for the next request
        # The rows painted last are the ones on screen now: they come first.
        wanted, forgotten = list(self._wanted.values())[::-1], self._forgotten
        self._wanted, self._forgotten = {}, []
        self._in_flight = {info.name: info for info in wanted}
        # The cache never raises for a recording: nothing here is the user's to read.
        self._task = self.runner.run(self._work(wanted, forgotten),
                                     on_failure=lambda _message: None)
        self._task.add_done_callback(self._done)  # cancelled too

    async def _work(self, wanted: list[RecordingInfo], forgotten: list[RecordingInfo]) -> None:
        for info in forgotten:
            await self.cache.forget(info)

        async def one(info: RecordingInfo) -> None:
            jpeg = await self.cache.get(info)
            self._in_flight.pop(info.name, None)
            self.ready.emit(info.name, jpeg)

        await asyncio.gather(*(one(info) for info in wanted))

    def _done(self, _task: object) -> None:
        self._task = None
        # Rows a cancelled batch did not answer are still wanted (new requests win).
        self._wanted = {**self._in_flight, **self._wanted}
        self._in_flight = {}
        self._kick()
