"""The console's composition root: Qt application, asyncio loop (qasync) and main window."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import qasync
from PySide6.QtCore import QObject, QSocketNotifier
from PySide6.QtWidgets import QWidget

from recconsole import __version__
from recconsole.core.errors import ConsoleError
from recconsole.core.events import EventBus
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recorder import Recorder, options_from_settings, upload_from_settings
from recconsole.realtime.local_recorder import LocalRecorder
from recconsole.realtime.spool import Spool, spool_dir
from recconsole.server.shared_state import SharedState
from recconsole.settings import Settings
from recconsole.storage.base import StoreError
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.factory import store_from_settings
from recconsole.storage.index import RecordingsIndex, recordings_index_path
from recconsole.storage.recordings import RecordingsService
from recconsole.storage.s3 import S3Store
from recconsole.storage.s3_credentials import S3Credentials
from recconsole.ui.first_screen import FirstScreen, create_application, show_first_screen
from recconsole.ui.main_window import MainWindow
from recconsole.ui.services import ConsoleServices

if TYPE_CHECKING:
    from recconsole.server.listener import WebhookListener


def close_on_signals(window: QWidget) -> QObject:
    """Close ``window`` on SIGINT/SIGTERM, as if the user had closed it.

    Qt's loop does not run Python signal handlers promptly, so the signal is
    delivered through a wakeup socket watched by the loop itself.
    """
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, window)

    def on_signal() -> None:
        reader.recv(64)
        window.close()

    def release() -> None:
        reader.close()
        writer.close()

    notifier.activated.connect(on_signal)
    notifier.destroyed.connect(release)
    return notifier


def build_services(settings: Settings) -> ConsoleServices:
    """The services the window uses, from the settings (nothing connects yet)."""
    events = EventBus()
    server = LiveKitServer(settings.livekit_url, settings.livekit_api_key,
                           settings.livekit_api_secret.value, app_name=settings.app_name)
    shared = SharedState.from_settings(settings)
    store = store_from_settings(settings)
    # The egress's S3 block signs with the store's own keys, renewed at each start.
    s3_keys = (store.credentials if isinstance(store, S3Store)
               else S3Credentials.from_settings(settings))
    recorder = Recorder(server, recordings_path=settings.recordings_path,
                        upload=upload_from_settings(settings, s3_keys.upload_keys),
                        layout_url=settings.recording_layout_url,
                        options=options_from_settings(settings),
                        recording_locks=shared.locks, started=shared.started,
                        start_timeout=settings.recording_start_timeout, events=events)
    catalog = RecordingsCatalog(store, settings.recordings_path,
                                index=RecordingsIndex(recordings_index_path()))
    local = LocalRecorder(recorder, catalog, Spool(spool_dir()))
    return ConsoleServices(settings, server, recorder, catalog, events,
                           RecordingsService(catalog, server), shared, local)


async def start_listener(window: MainWindow) -> WebhookListener | None:
    """The embedded webhook listener; a port in use is reported, not fatal.

    Without it the window enforces its recordings' limits itself.
    """
    from recconsole.server.listener import WebhookListener  # its web server loads after the window

    services = window.services
    listener = WebhookListener(services.settings, services.events, store=services.catalog.store,
                               server=services.server, shared=services.shared,
                               joiners=services.recorder)
    try:
        await listener.start()
    except (OSError, ConsoleError) as err:
        await listener.queue.close()
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        window.event_log.add(f"Webhook listener not started on port {listener.port}: "
                             f"{reason}. Status will be polled instead.")
        window.limits_task = asyncio.ensure_future(services.recorder.limits.run())
        return None
    window.event_log.add(f"Listening for LiveKit webhooks on {listener.url}")
    window.playback_access = listener.access
    window.limits = listener.recorder.limits  # it enforces them: its countdowns are the ones
    return listener


async def shutdown(window: MainWindow, listener: WebhookListener | None = None) -> None:
    """Leave the room and close connections after the window has closed."""
    window.stop_timers()
    # A recording made here first: it uploads through the store the listener closes.
    await window.stop_local_recordings("the console quit")
    await window.runner.cancel_all()
    await window.cancel_room_tasks()
    if window.limits_task is not None:
        window.limits_task.cancel()
    # The listener first: leaving makes LiveKit post webhooks, which must not reach
    # a listener halfway through closing.
    if listener is not None:
        await listener.stop()  # closes the shared store too
    else:
        await window.services.catalog.store.aclose()
    await window.services.local.aclose()
    await window.leave_rooms()
    if window.services.catalog.index is not None:
        await window.services.catalog.index.close()
    await window.services.recorder.aclose()
    await window.services.server.aclose()
    await window.services.shared.aclose()


def run_console(settings: Settings, room: str | None = None,
                first: FirstScreen | None = None) -> int:
    """Open the main window (in place of ``first``, the screen shown while this module
    loaded) and run Qt and asyncio in one loop until it closes."""
    app = create_application()
    app.setQuitOnLastWindowClosed(False)  # the loop ends when the window says it closed
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = open_window(settings, room, replacing=first)
    with loop:
        loop.run_until_complete(console_lifetime(window))
    return 0


def open_window(settings: Settings, room: str | None = None,
                replacing: FirstScreen | None = None) -> MainWindow:
    """A main window over services built from ``settings``, shown (where ``replacing``
    was, which goes); signals close it."""
    if replacing is not None:
        replacing.say("Connecting the storage and the LiveKit client…")
    window = MainWindow(build_services(settings), room=room)
    close_on_signals(window)
    if replacing is not None:
        window.restoreGeometry(replacing.saveGeometry())
    window.show()
    if replacing is not None:
        replacing.hide()
        replacing.deleteLater()
    return window


async def console_lifetime(window: MainWindow) -> None:
    """Run the window (and its listener) until it closes.

    Settings the user applies rebuild everything that depends on them — the LiveKit
    client, the storage, Redis, the webhook listener — and reopen the window over
    them, in place, with its event log. One coroutine from start to shutdown: the
    LiveKit SDK binds its queues to the loop run that first used them.
    """
    while (applied := await run_window(window)) is not None:
        window = reopen_window(window, applied)


async def run_window(window: MainWindow) -> ConsoleServices | None:
    """Run ``window`` and its listener until it closes (None) or applies new settings
    (the services built from them)."""
    ended = asyncio.Event()
    applied: list[ConsoleServices] = []

    def apply(new: Settings) -> None:
        try:
            applied.append(build_services(new))
        except (ConsoleError, StoreError) as err:  # e.g. Azure without an account
            window.show_error(f"The settings were saved but cannot be applied: {err}")
            return
        ended.set()

    window.closed.connect(ended.set)
    window.settingsApplied.connect(apply)
    listener = await start_listener(window)
    window.recordings.refresh()
    window.runner.run(window.services.local.recover())  # what a crash or outage left
    await ended.wait()
    await shutdown(window, listener)
    return applied[-1] if applied else None


def reopen_window(old: MainWindow, services: ConsoleServices) -> MainWindow:
    """A new window over ``services`` where ``old`` was, with its event log; ``old`` goes."""
    new = MainWindow(services, room=old.room_input.currentText() or None)
    new.restoreGeometry(old.saveGeometry())
    new.tabs.setCurrentIndex(old.tabs.currentIndex())
    new.event_log.setPlainText(old.event_log.toPlainText())
    new.event_log.add("Settings applied: the console reconnected with them.")
    close_on_signals(new)
    new.show()
    new.statusBar().showMessage("Settings applied.", 15000)
    old.hide()
    old.deleteLater()
    return new


def self_test(settings: Settings, join: str | None = None,
              screenshot: Path | None = None, first: FirstScreen | None = None) -> int:
    """Open the window offscreen, load Qt Multimedia and the LiveKit FFI, close, report.

    Prints "window shown" the moment a window is (``first``, the screen shown while this
    module loaded, when there is one) and "console shown" when the main window has taken
    its place (startup benchmarks time both lines), then one report line; exit code 0
    when every part loaded. ``screenshot``: a PNG of the main window as shown.
    """
    app = create_application()
    if first is None:
        first = show_first_screen(app)
        print("window shown", flush=True)
    window = MainWindow(build_services(settings))
    window.restoreGeometry(first.saveGeometry())
    window.show()
    first.hide()
    while not window.isVisible() or not window.windowHandle().isExposed():
        app.processEvents()
    first.deleteLater()
    print("console shown", flush=True)
    from livekit import rtc
    from PySide6.QtMultimedia import QMediaPlayer, QVideoSink

    if screenshot is not None and not window.grab().save(str(screenshot), "PNG"):
        print(f"recconsole self-test failed: cannot save the screenshot to {screenshot}")
        return 1
    player, sink = QMediaPlayer(), QVideoSink()
    player.setVideoSink(sink)
    rtc.VideoSource(2, 2)  # the first FFI request loads the native LiveKit library
    ffi_version = rtc.__version__
    if not app.styleSheet() or app.windowIcon().isNull():
        print("recconsole self-test failed: the stylesheet or the icon is missing from"
              " the installed package (recconsole/resources)")
        return 1
    joined = ""
    if join:
        frames = asyncio.run(_frames_in_room(settings, join))
        if frames < 5:
            print(f"recconsole self-test failed: {frames} video frames from room {join}")
            return 1
        joined = f", {frames} video frames received in room {join}"
    window.close()
    app.processEvents()
    print(f"recconsole {__version__} self-test ok: window shown and closed, stylesheet and "
          f"icon loaded, Qt Multimedia loaded, LiveKit FFI {ffi_version} loaded{joined}")
    return 0


async def _frames_in_room(settings: Settings, room: str, within: float = 20.0) -> int:
    """Join ``room`` as a hidden observer and count video frames until 5 or ``within`` s."""
    from recconsole.core.tokens import mint_token
    from recconsole.realtime.session import RoomSession, SessionEvents

    enough = asyncio.Event()

    class Count(SessionEvents):
        frames = 0

        def video_frame(self, track_sid: str, frame: object) -> None:
            Count.frames += 1
            if Count.frames >= 5:
                enough.set()

    token = mint_token(settings.livekit_api_key, settings.livekit_api_secret.value, room,
                       "self-test", observer=True)
    session = RoomSession(settings.livekit_url, token, Count())
    await session.connect()
    try:
        await asyncio.wait_for(enough.wait(), within)
    except TimeoutError:
        pass
    finally:
        await session.disconnect()
    return Count.frames
