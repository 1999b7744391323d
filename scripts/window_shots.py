"""The window the screenshot scripts photograph: opened at 1400x900 in a qasync loop,
with its webhook listener (unless told not to), ``take`` run, then shut down."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import qasync

from recconsole.settings import Settings
from recconsole.ui.app import build_services, create_application, shutdown, start_listener
from recconsole.ui.main_window import MainWindow


def photograph(env: dict[str, str], take: Callable[[MainWindow], Awaitable[None]], *,
               room: str | None = None, listen: bool = True) -> None:
    app = create_application()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(build_services(Settings.from_env(env)), room=room)
    window.setGeometry(0, 0, 1400, 900)
    window.show()

    async def lifetime() -> None:
        listener = await start_listener(window) if listen else None
        try:
            await take(window)
        finally:
            await shutdown(window, listener)

    with loop:
        loop.run_until_complete(lifetime())
