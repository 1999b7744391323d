"""Starts that the real egress service never makes ACTIVE, seen from the window.

A recording layout (``RECORDING_LAYOUT_URL``) is the web page the egress's Chrome
records. Pointed at a port where nothing listens, the egress cannot load it; pointed at
a page that never tells the egress to begin, the start waits until the console's start
timeout. Either way the window ends on FAILED with the reason in words, the room's
recording lock is free again and no recording of the room is listed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from pytestqt.qtbot import QtBot

from recconsole.core.recording_status import RecordingStatus
from recconsole.settings import Settings
from recconsole.ui.app import build_services, shutdown, start_listener
from recconsole.ui.main_window import MainWindow
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e
START_TIMEOUT = 12.0


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _silent_layout() -> AsyncIterator[str]:
    """A layout page that loads but never signals the egress to start recording."""
    app = web.Application()
    page = "<!doctype html><html><body><p>waiting</p></body></html>"

    async def serve(_request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app.router.add_get("/", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


def _window(qtbot: QtBot, cfg: StackConfig, layout_url: str) -> MainWindow:
    settings = Settings.from_env({
        **cfg.env(), "APP_NAME": TEST_APP, "REDIS_URL": "",
        "SERVER_PORT": str(cfg.ports.webhook), "RECORDING_LAYOUT_URL": layout_url,
        "RECORDING_START_TIMEOUT": str(START_TIMEOUT)})
    window = MainWindow(build_services(settings), room=unique_room("real-fail"))
    qtbot.addWidget(window)
    window.show()
    return window


async def _start_and_see_it_fail(window: MainWindow, cfg: StackConfig) -> tuple[str, str]:
    """Join with two bots, press Record, wait for FAILED; the error shown, and the
    reason the badge gives."""
    listener = await start_listener(window)
    assert listener is not None, window.event_log.toPlainText()
    bots: list[PublisherBot] = []
    room = window.room_input.currentText()
    try:
        joined = next_emission(window.joinedChanged)
        window.join_button.click()
        assert await asyncio.wait_for(joined, 20) == (True,)
        bots = await start_bots(cfg.livekit_url, API_KEY, API_SECRET, room, 2,
                                BotOptions(width=320, height=180, fps=15))
        window.record_button.click()
        await eventually(lambda: window.status, RecordingStatus.STARTING, within=20)
        await eventually(lambda: window.status, RecordingStatus.FAILED,
                         within=START_TIMEOUT + 60)
        # The reason comes with the status, or is read from the egress a moment later.
        await eventually(lambda: "The recording failed:" in window.error_text, True, within=10)
        services = window.services
        # Nothing records the room any more, and its lock is free for the next start.
        # (a stopped start may take the egress a moment to wind down)
        await eventually(lambda: services.recorder.active_recording(room), None, within=30)
        token = await services.shared.locks.acquire(room, 10)
        assert token is not None, "the failed start kept the room's recording lock"
        await services.shared.locks.release(room, token)
        assert window.record_button.isEnabled()
        assert window.record_button.text() == "Start recording"
        # Nothing half-written is listed as a recording of the room.
        listed = await services.catalog.list_recordings()
        assert [r.name for r in listed if r.room_name == room] == []
        return window.error_text, window.badge.toolTip()
    finally:
        await asyncio.gather(*(bot.stop() for bot in bots))
        await shutdown(window, listener)


def test_a_layout_the_egress_cannot_load_ends_failed_with_the_reason(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, egress_stack: StackConfig,
) -> None:
    window = _window(qtbot, egress_stack, f"http://127.0.0.1:{_closed_port()}/")
    error, why = qloop.run_until_complete(_start_and_see_it_fail(window, egress_stack))
    assert "The recording failed:" in error
    assert why, "the badge does not say why"
    assert why in error
    assert "FAILED" in window.event_log.toPlainText()


def test_a_layout_that_never_says_start_is_stopped_at_the_start_timeout(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, egress_stack: StackConfig,
) -> None:
    async def scenario() -> tuple[MainWindow, str, str]:
        async with _silent_layout() as url:
            window = _window(qtbot, egress_stack, url)
            return window, *await _start_and_see_it_fail(window, egress_stack)

    window, error, why = qloop.run_until_complete(scenario())
    # The console stops the start at its timeout and says so; the stopped egress then
    # ends FAILED with its own words, which the badge and the banner show last.
    log = window.event_log.toPlainText()
    assert f"did not start within {START_TIMEOUT:.0f} s" in log
    assert "it was stopped" in log
    assert why in error
    assert why in ("Start signal not received",
                   f"The recording did not start within {START_TIMEOUT:.0f} s"
                   " (no start signal from the egress); it was stopped.")
