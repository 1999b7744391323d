"""The screenshot of a recording made on this computer, for the README.

Starts LiveKit (no egress service) and MinIO of its own, three publisher bots, and
the window; clicks Record and saves the window while it records:

    PYTHONPATH=src:devtools:. xvfb-run -a -s "-screen 0 1400x900x24" \\
        .venv/bin/python scripts/screenshot_local_recording.py docs/screenshots
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import qasync

from recconsole.core.recording_status import RecordingStatus
from recconsole.settings import Settings
from recconsole.ui.app import build_services, create_application, shutdown
from recconsole.ui.main_window import MainWindow
from recconsole_devtools.bot import BotOptions, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, DevStack, StackConfig

OFFSET = 1500  # ports of its own, away from the dev stack and test runs


async def take(window: MainWindow, cfg: StackConfig, folder: Path) -> None:
    app = create_application()
    await window.services.server.ensure_room("demo")
    bots = await start_bots(cfg.livekit_url, API_KEY, API_SECRET, "demo", 3,
                            BotOptions(width=640, height=360, fps=24))
    try:
        window.join_button.click()
        while len(window.room_view.tiles) < 3 or any(
                t.frames_received < 10 for t in window.room_view.tiles.values()):
            await asyncio.sleep(0.2)
        window.record_button.click()  # no egress service: recorded on this computer
        while window.status is not RecordingStatus.STARTED:
            await asyncio.sleep(0.2)
        await asyncio.sleep(6)  # the clock and the size move on
        window.tabs.setCurrentIndex(0)
        app.primaryScreen().grabWindow(0).save(str(folder / "local-recording.png"))
        window.record_button.click()
        while window.status is not RecordingStatus.STOPPED:
            await asyncio.sleep(0.2)
    finally:
        await asyncio.gather(*(bot.stop() for bot in bots))


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    cfg = StackConfig.for_profile("test", offset=OFFSET)
    stack = DevStack(cfg)
    stack.down()
    stack.up(["livekit", "minio"])
    try:
        settings = Settings.from_env({**os.environ, **cfg.env(), "REDIS_URL": ""})
        app = create_application()
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        window = MainWindow(build_services(settings), room="demo")
        window.resize(1400, 900)
        window.show()

        async def lifetime() -> None:
            try:
                await take(window, cfg, folder)
            finally:
                await shutdown(window)

        with loop:
            loop.run_until_complete(lifetime())
    finally:
        stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
