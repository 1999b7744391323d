"""Screenshots of the console for the README, taken under Xvfb against the dev stack.

    scripts/devstack up && xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python scripts/screenshots.py docs/screenshots
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import qasync

from recconsole.devtools.bot import BotOptions, start_bots
from recconsole.devtools.devstack import StackConfig
from recconsole.settings import Settings
from recconsole.ui.app import build_services, create_application, shutdown
from recconsole.ui.main_window import MainWindow


async def take(window: MainWindow, folder: Path) -> None:
    app = create_application()
    await asyncio.sleep(1.0)  # let the first paint land
    app.primaryScreen().grabWindow(0).save(str(folder / "join.png"))
    cfg = StackConfig.for_profile("dev")
    bots = await start_bots(cfg.livekit_url, "devkey", "secret", "demo", 3,
                            BotOptions(width=640, height=360, fps=24))
    try:
        window.join_button.click()
        while len(window.room_view.tiles) < 3 or any(
                t.frames_received < 10 for t in window.room_view.tiles.values()):
            await asyncio.sleep(0.2)
        await window.services.server.set_recording_status("demo", _started())
        await asyncio.sleep(2.5)
        app.primaryScreen().grabWindow(0).save(str(folder / "room.png"))
    finally:
        await window.services.server.set_recording_status("demo", _stopped())
        await asyncio.gather(*(b.stop() for b in bots))


def _started():  # type: ignore[no-untyped-def]
    from recconsole.core.recording_status import RecordingStatus
    return RecordingStatus.STARTED


def _stopped():  # type: ignore[no-untyped-def]
    from recconsole.core.recording_status import RecordingStatus
    return RecordingStatus.STOPPED


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **StackConfig.for_profile("dev").env(), "APP_NAME": "recconsole"}
    app = create_application()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(build_services(Settings.from_env(env)), room="demo")
    window.setGeometry(0, 0, 1400, 900)
    window.show()
    with loop:
        loop.run_until_complete(take(window, folder))
        loop.run_until_complete(shutdown(window))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
