"""Screenshots of the recording options and of an each-participant session, under Xvfb
against a dev stack (its offset as the second argument, default 0):

    scripts/devstack up --offset 950 && PYTHONPATH=. xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python scripts/screenshots_options.py docs/screenshots 950
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from window_shots import photograph

from recconsole.core.recording_options import Preset, RecordingOptions
from recconsole.core.recording_status import RecordingStatus
from recconsole.ui.app import create_application
from recconsole.ui.main_window import MainWindow
from recconsole_devtools.bot import BotOptions, start_bots
from recconsole_devtools.devstack import StackConfig

ROOM = "standup"


async def take(window: MainWindow, cfg: StackConfig, folder: Path) -> None:
    app = create_application()
    await window.services.server.ensure_room(ROOM)
    bots = await start_bots(cfg.livekit_url, "devkey", "secret", ROOM, 3,
                            BotOptions(width=640, height=360, fps=15))
    try:
        window.join_button.click()
        while len(window.room_view.tiles) < 3 or any(
                t.frames_received < 10 for t in window.room_view.tiles.values()):
            await asyncio.sleep(0.2)
        form = window.options_button.form
        form.set_options(RecordingOptions(preset=Preset.P1080_30, each_participant=True))
        menu = window.options_button.menu()
        menu.popup(window.options_button.mapToGlobal(
            window.options_button.rect().bottomLeft()))
        await asyncio.sleep(1.0)  # painted
        app.primaryScreen().grabWindow(0).save(str(folder / "options.png"))
        menu.hide()
        # Each participant separately, for real: three files, one session (at egress's
        # default quality: three 1080p encodes at once are too much for a small machine).
        form.set_options(RecordingOptions(each_participant=True))
        window.record_button.click()
        await _until(window, lambda: window.status is RecordingStatus.STARTED)
        await asyncio.sleep(6)
        window.record_button.click()
        await _until(window, lambda: window.status is RecordingStatus.STOPPED)
        model = window.room_recordings.model
        await _until(window, lambda: model.total >= 3)
        # The session is one row; open it onto its three files.
        await _until(window, lambda: model.rowCount() >= 1 and model.is_session(0)
                     and len(model.files(0)) >= 3)
        model.set_expanded(0, True)
        window.dismiss_errors()
        window.room_split.setSizes([380, 420])
        await asyncio.sleep(1.0)
        app.primaryScreen().grabWindow(0).save(str(folder / "each-participant.png"))
    finally:
        await asyncio.gather(*(b.stop() for b in bots))


async def _until(window: MainWindow, done: Callable[[], bool], within: float = 60) -> None:
    for _ in range(int(within * 5)):
        if done():
            return
        await asyncio.sleep(0.2)
    raise SystemExit(f"gave up waiting; the event log says:\n{window.event_log.toPlainText()}")


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    offset = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    folder.mkdir(parents=True, exist_ok=True)
    cfg = StackConfig.for_profile("dev", offset=offset, livekit_redis=True)
    env = {**os.environ, **cfg.env(), "APP_NAME": "recconsole",
           "RECORDINGS_PATH": f"screenshots/options-{int(time.time())}/"}
    photograph(env, lambda window: take(window, cfg, folder), room=ROOM)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
