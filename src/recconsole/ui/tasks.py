"""Running service coroutines for widgets, with failures reported in one place.

Widgets never await the network themselves: they hand a coroutine to
:meth:`AsyncRunner.run` with what to do on success; a failure becomes one readable
message on :attr:`AsyncRunner.failed` (or the given ``on_failure``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from recconsole.core.errors import ConsoleError
from recconsole.core.redaction import redact
from recconsole.settings import SettingsError
from recconsole.storage.base import StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")


def user_message(error: BaseException) -> str:
    """What to tell the user about ``error``: our own errors say it themselves."""
    if isinstance(error, ConsoleError | StoreError | SettingsError):
        return str(error)
    return f"Something went wrong: {type(error).__name__}: {redact(str(error))[:200]}"


class AsyncRunner(QObject):
    """Runs coroutines on the event loop on behalf of widgets.

    Signals:
        failed(str): a task failed and nobody else handled it; the message is readable.
        busyChanged(bool): tasks are running / none are.
    """

    failed = Signal(str)
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def busy(self) -> bool:
        """Tasks are running."""
        return bool(self._tasks)

    def run(
        self,
        coro: Coroutine[Any, Any, T],
        on_success: Callable[[T], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        if len(self._tasks) == 1:
            self.busyChanged.emit(True)

        def finished(done: asyncio.Task[T]) -> None:
            self._tasks.discard(done)
            if not self._tasks:
                self.busyChanged.emit(False)
            if done.cancelled():
                return
            error = done.exception()
            if error is None:
                if on_success is not None:
                    on_success(done.result())
                return
            if not isinstance(error, ConsoleError | StoreError | SettingsError):
                log.error("task failed: %s", user_message(error), exc_info=error)
            (on_failure or self.failed.emit)(user_message(error))

        task.add_done_callback(finished)
        return task

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
