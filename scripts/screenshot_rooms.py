"""The Rooms page screenshot for the README, taken under Xvfb against a stack of its own
(LiveKit with Redis, the real egress, MinIO, PulseAudio), whose webhooks reach the
console's listener: live rooms with bots, one of them recording for real.

    PYTHONPATH=. xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python scripts/screenshot_rooms.py docs/screenshots
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from livekit import api
from window_shots import photograph

from recconsole.core.recording_info import RecordingInfo
from recconsole.core.recording_status import RecordingStatus
from recconsole.ui.app import create_application
from recconsole.ui.main_window import MainWindow
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, DevStack, StackConfig

OFFSET = 660
ROOMS = {  # room -> bots publishing (video, audio)
    "keynote": (3, True), "workshop-a": (2, True), "workshop-b": (1, False),
}


async def _until(check: Callable[[], object]) -> None:
    """Wait for what the page shows (no signal says "this cell now reads so")."""
    while True:
        if check():
            return
        await asyncio.sleep(0.2)


async def take(window: MainWindow, cfg: StackConfig, folder: Path) -> None:
    app = create_application()
    server = window.services.server
    bots: list[PublisherBot] = []
    for room, (count, video) in ROOMS.items():
        await server.ensure_room(room)
        bots += await start_bots(cfg.livekit_url, API_KEY, API_SECRET, room, count,
                                 BotOptions(width=320, height=180, fps=10, video=video),
                                 prefix=f"{room}-bot")
    await server.ensure_room("support-desk")
    await server.lkapi.room.create_room(api.CreateRoomRequest(
        name="backstage", metadata=json.dumps({"createdBy": "openvidu-meet"})))
    await server.ensure_room("town-hall")
    await server.set_recording_status("town-hall", RecordingStatus.STARTED)  # left stale
    await _seed(window)
    window.recordings.refresh()
    page = window.rooms
    window.tabs.setCurrentWidget(page)
    try:
        await window.services.recorder.start("keynote")
        await _until(lambda: (room := page.model.room("keynote")) is not None
                     and room.egress_status is RecordingStatus.STARTED)
        await _until(lambda: page.model.disagreement(page.model.room("town-hall")))  # type: ignore[arg-type]
        await _until(lambda: (room := page.model.room("keynote")) is not None
                     and room.participants == 3 and room.publishers == 3)
        page.select_rooms(["keynote"])
        await asyncio.sleep(4.0)  # the recording clock runs
        app.primaryScreen().grabWindow(0).save(str(folder / "rooms.png"))
    finally:
        await window.services.recorder.stop("keynote")
        await asyncio.gather(*(bot.stop() for bot in bots))


async def _seed(window: MainWindow) -> None:
    catalog = window.services.catalog
    for i, room in enumerate(["keynote", "keynote", "workshop-a", "town-hall", "town-hall",
                              "town-hall"]):
        name = f"{room}-RM_demo{i}-2026-11-2{i}T100000.mp4"
        await catalog.store.write_bytes(catalog.recording_key(name), b"\0" * 2000, "video/mp4")
        await catalog.save_metadata(RecordingInfo(f"EG_{i}", name, room, f"RM_{i}",
                                                  1_795_000_000_000 + i * 86_400_000, 600.0,
                                                  50_000_000))


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    cfg = StackConfig.for_profile("test", offset=OFFSET, livekit_redis=True)
    stack = DevStack(cfg)
    stack.up(["redis", "minio", "pulse", "livekit", "egress"], timeout=120)
    os.environ["PULSE_SERVER"] = cfg.pulse_server  # the room's sound goes to its null sink
    env = {**os.environ, **cfg.env(), "APP_NAME": "recconsole", "REDIS_URL": "",
           "RECORDINGS_PATH": "screenshots/recordings/", "SERVER_PORT": str(cfg.ports.webhook)}
    try:
        photograph(env, lambda window: take(window, cfg, folder))
    finally:
        stack.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
