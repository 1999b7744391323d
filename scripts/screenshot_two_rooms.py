"""The README's screenshot of two rooms joined at once, taken under Xvfb against the dev
stack (bots publishing in both rooms; the first room is heard and recorded by the
stack's egress, the second is shown).

    scripts/devstack up --offset N && eval "$(scripts/devstack env --offset N)" && \\
        PYTHONPATH=. xvfb-run -a -s "-screen 0 1400x900x24" \\
        .venv/bin/python scripts/screenshot_two_rooms.py docs/screenshots
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from window_shots import photograph

from recconsole.core.recording_status import RecordingStatus
from recconsole.ui.app import create_application
from recconsole.ui.joined_room import JoinedRoom
from recconsole.ui.main_window import MainWindow
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots

ROOMS = {"keynote": 3, "workshop": 2}  # room -> bots publishing video and sound


async def _until(window: MainWindow, done: Callable[[], bool], within: float = 60) -> None:
    """Wait for what the window shows (no signal says "these tiles now move")."""
    for _ in range(int(within * 5)):
        if done():
            return
        await asyncio.sleep(0.2)
    raise SystemExit(f"gave up waiting; the event log says:\n{window.event_log.toPlainText()}")


def _moving(room: JoinedRoom, count: int) -> bool:
    tiles = room.room_view.tiles
    return len(tiles) >= count and all(t.frames_received >= 10 for t in tiles.values())


async def take(window: MainWindow, folder: Path) -> None:
    app = create_application()
    settings = window.settings
    bots: list[PublisherBot] = []
    try:
        for hue, (room, count) in enumerate(ROOMS.items()):
            bots += await start_bots(settings.livekit_url, settings.livekit_api_key,
                                     settings.livekit_api_secret.value, room, count,
                                     BotOptions(width=480, height=270, fps=15,
                                                tone_hz=440 + 220 * hue),
                                     prefix=room[:4])
        for room, count in ROOMS.items():
            window.room_input.setEditText(room)
            window.join_button.click()
            await _until(window, lambda: window.joining is None and window.room is not None)
            joined = window.room
            assert joined is not None
            await _until(window, lambda: _moving(joined, count))  # noqa: B023 (awaited here)
        first = window.joined[0]
        recording = first.room_name
        await window.services.recorder.start(recording)  # the room not shown is recorded
        await _until(window, lambda: first.status is RecordingStatus.STARTED, within=120)
        await asyncio.sleep(1.5)  # painted: the speaker and recording marks on its tab
        app.primaryScreen().grabWindow(0).save(str(folder / "two-rooms.png"))
        await window.services.recorder.stop(recording)
        await _until(window, lambda: not first.status.busy, within=90)  # stopped, or failed
    finally:
        await asyncio.gather(*(bot.stop() for bot in bots))


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "APP_NAME": "recconsole",
           "RECORDINGS_PATH": f"screenshots/two-rooms-{int(time.time())}/"}
    # the egress's webhooks say STARTED
    photograph(env, lambda window: take(window, folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
