"""Fixtures for tests that drive the window in a qasync loop, as the application does."""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import qasync
import shiboken6
from PySide6.QtCore import QSettings, SignalInstance
from PySide6.QtWidgets import QApplication

from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recorder import Recorder
from recconsole.server.listener import WebhookListener
from recconsole.settings import Settings
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.rooms import TEST_APP


@pytest.fixture(autouse=True)
def _speaker(silent_speaker: StackConfig) -> StackConfig:
    """Every window test plays into the test sound server (see tests/conftest.py)."""
    return silent_speaker


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    # Callbacks a test's last step scheduled (a closed connection's transport closing
    # its socket) run before the loop closes; left pending, their sockets leak.
    for _ in range(3):
        loop.run_until_complete(asyncio.sleep(0))
    _cut_connections(loop)
    asyncio.set_event_loop(None)
    loop.close()
    # qasync's timer object keeps its Qt timers registered after close(); whatever
    # still holds the loop (a window's store, say) must not free it on another thread.
    shiboken6.delete(loop._timer)
    # A thread may still hand the closed loop a callback (the SDK's native side reports
    # a last event of a room that was left): it is dropped, not scheduled on the
    # deleted timer.
    loop._timer = _ClosedLoopTimer()
    del loop
    # The loop's Qt timers must die here, on the GUI thread: left to the garbage
    # collector, they may be freed from a worker thread of a later test, which Qt
    # refuses ("Timers cannot be stopped from another thread") or crashes on.
    gc.collect()


def _cut_connections(loop: asyncio.AbstractEventLoop) -> None:
    """Cut every connection still open (a webhook LiveKit posted while the listener
    closed, lingering): the loop that served it is going away.

    An aborted transport closes its socket in a callback; the loop runs until each has,
    as Qt does not promise to run zero-delay callbacks in the order they were made.
    One that still has not after a few rounds is closed here and now.
    """
    def still_open() -> list[Any]:
        return [t for t in list(loop._transports.values())  # type: ignore[attr-defined]
                if getattr(t, "_sock", None) is not None]

    for _ in range(20):
        transports = still_open()
        if not transports:
            return
        for transport in transports:
            transport.abort()
        loop.run_until_complete(asyncio.sleep(0.005))
    for transport in still_open():
        transport._call_connection_lost(None)


class _ClosedLoopTimer:
    """Stands where a closed loop's Qt timer was: whatever comes late is dropped."""

    def add_callback(self, handle: asyncio.Handle, delay: float = 0) -> asyncio.Handle:
        handle.cancel()
        return handle

    def stop(self) -> None:
        pass


def next_emission(signal: SignalInstance) -> asyncio.Future[tuple[Any, ...]]:
    """A future resolved with the arguments of the signal's next emission.

    The slot disconnects itself: left connected, it would keep the future and so the
    test's event loop alive as long as the window, to be freed by a garbage
    collection on some worker thread of a later test (Qt refuses timers freed there).
    """
    future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    def fire(*args: Any) -> None:
        signal.disconnect(fire)
        if not future.done():
            future.set_result(args)

    signal.connect(fire)
    return future


@pytest.fixture(autouse=True)
def _own_preferences(tmp_path: Path) -> None:
    """Each test's window preferences (QSettings) start empty: Qt would otherwise keep
    one user folder for the whole process, and one test's choices would reach the next."""
    for kind in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(kind, QSettings.Scope.UserScope, str(tmp_path / "preferences"))


# --- the console's parts beside the shared real egress stack (tests/e2e/test_real_*) ---


@pytest.fixture
def settings(egress_stack: StackConfig) -> Settings:
    return Settings.from_env({**egress_stack.env(), "APP_NAME": TEST_APP, "REDIS_URL": ""})


@pytest_asyncio.fixture
async def server(settings: Settings) -> AsyncIterator[LiveKitServer]:
    # Patient with an egress that starts several recordings at once on two cores.
    async with LiveKitServer(settings.livekit_url, API_KEY, API_SECRET,
                             app_name=TEST_APP, egress_start_timeout=45) as s:
        yield s


@pytest_asyncio.fixture
async def listener(settings: Settings, tmp_path: Path,
                   server: LiveKitServer) -> AsyncIterator[WebhookListener]:
    service = WebhookListener(settings, data_dir=tmp_path / "listener", server=server,
                              reconcile_every=None)
    await service.start()
    yield service
    await service.stop()


@pytest_asyncio.fixture
async def recorder(server: LiveKitServer, listener: WebhookListener,
                   settings: Settings) -> AsyncIterator[Recorder]:
    """The console's recorder, sharing the listener's registry and locks. Patient: egress
    connects its streams (and retries one refused) before it is ACTIVE, which takes
    longer than the 20 s default with other work on two cores."""
    rec = Recorder(server, recordings_path=settings.recordings_path,
                   recording_locks=listener.locks, started=listener.shared.started,
                   start_timeout=60)
    yield rec
    await rec.aclose()
