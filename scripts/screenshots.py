"""Screenshots of the console for the README, taken under Xvfb against the dev stack.

    scripts/devstack up && PYTHONPATH=. xvfb-run -a -s "-screen 0 1400x900x24" \
        .venv/bin/python scripts/screenshots.py docs/screenshots
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

from window_shots import photograph

from recconsole.ui.app import create_application
from recconsole.ui.main_window import MainWindow
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import StackConfig


async def take(window: MainWindow, folder: Path) -> None:
    app = create_application()
    await asyncio.sleep(1.0)  # let the first paint land
    app.primaryScreen().grabWindow(0).save(str(folder / "join.png"))
    await _settings_shot(window, folder)
    cfg = StackConfig.for_profile("dev")
    await window.services.server.ensure_room("demo")  # this app's room, before anyone joins
    bots = await start_bots(cfg.livekit_url, "devkey", "secret", "demo", 3,
                            BotOptions(width=640, height=360, fps=24))
    try:
        window.join_button.click()
        while len(window.room_view.tiles) < 3 or any(
                t.frames_received < 10 for t in window.room_view.tiles.values()):
            await asyncio.sleep(0.2)
        # A real recording by the dev stack's egress service.
        window.record_button.click()
        while window.status is not _starting() or "egress is" not in window.stage.text():
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.2)  # the wait's seconds show
        app.primaryScreen().grabWindow(0).save(str(folder / "starting.png"))
        while window.status is not _started():
            await asyncio.sleep(0.2)
        # A second start of the same room, as a double click would: refused, and the
        # message stays until dismissed.
        window.runner.run(window.services.recorder.start("demo"),
                          on_failure=window.show_error)
        while not window.error_text:
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.5)  # the clock runs, the recordings table fills
        app.primaryScreen().grabWindow(0).save(str(folder / "room.png"))
        window.dismiss_errors()
        window.record_button.click()
        while window.status is not _stopped():
            await asyncio.sleep(0.2)
        # Stop when everyone has left: the bots leave and the countdown shows.
        window.stop_when_empty.setChecked(True)
        window.record_button.click()
        while window.status is not _started():
            await asyncio.sleep(0.2)
        await _leave(cfg, bots)
        bots = []
        while "stops in" not in window.stage.text():
            await asyncio.sleep(0.2)
        await asyncio.sleep(3.2)  # a few seconds counted down
        app.primaryScreen().grabWindow(0).save(str(folder / "countdown.png"))
        window.stop_when_empty.setChecked(False)
        window.record_button.click()
        while window.status is not _stopped():
            await asyncio.sleep(0.2)
        await _seed(window)
        window.tabs.setCurrentWidget(window.recordings)
        window.recordings.refresh()
        while window.recordings.model.total < 12:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        app.primaryScreen().grabWindow(0).save(str(folder / "recordings.png"))
        window.tabs.setCurrentWidget(window.event_log)
        await asyncio.sleep(0.3)
        app.primaryScreen().grabWindow(0).save(str(folder / "events.png"))
        window.tabs.setCurrentWidget(window.recordings)
        page = window.recordings
        row = page.model.visible_names().index(_PLAYABLE)
        page.table.selectRow(row)
        page.play_selected()
        player = page.players[-1]
        player.setGeometry(200, 120, 960, 600)
        while player.player.position() < 1500:
            await asyncio.sleep(0.1)
        player.player.pause()
        await asyncio.sleep(0.5)
        app.primaryScreen().grabWindow(0).save(str(folder / "player.png"))
        player.close()
    finally:
        if window.status is not _stopped():
            await window.services.recorder.stop("demo")
        await asyncio.gather(*(b.stop() for b in bots))


async def _settings_shot(window: MainWindow, folder: Path) -> None:
    """The settings dialog after Test connection answered."""
    from recconsole.ui.settings_dialog import SettingsDialog

    window.edit_settings()
    dialog = window.findChild(SettingsDialog)
    dialog.test_button.click()
    while not dialog.results.text() or not dialog.test_button.isEnabled():
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    dialog.grab().save(str(folder / "settings.png"))
    dialog.reject()


async def _leave(cfg: StackConfig, bots: list[PublisherBot]) -> None:
    """The bots leave, and the server drops them at once (not after its timeout)."""
    from livekit import api

    identities = [b.room.local_participant.identity for b in bots]
    await asyncio.gather(*(b.stop() for b in bots))
    async with api.LiveKitAPI(cfg.livekit_url, "devkey", "secret") as lk:
        for identity in identities:
            with contextlib.suppress(api.TwirpError):
                await lk.room.remove_participant(
                    api.RoomParticipantIdentity(room="demo", identity=identity))


async def _seed(window: MainWindow) -> None:
    """A dozen recordings of three rooms (with one missing its metadata) to look at."""
    from recconsole.core.recording_info import RecordingInfo

    catalog = window.services.catalog
    rooms = ["demo", "weekly-sync", "support-call"]
    for i in range(12):
        room = rooms[i % 3]
        name = f"{room}-RM_{'abc' if i % 3 else 'xyz'}{i}-2026-11-{10 + i:02d}T10{i:02d}00.mp4"
        data = _mp4_bytes() if name == _PLAYABLE else b"\0" * (2000 + i)
        await catalog.store.write_bytes(catalog.recording_key(name), data, "video/mp4")
        if i != 5:
            await catalog.save_metadata(RecordingInfo(
                f"EG_{i}", name, room, f"RM_{i}", 1_794_304_800_000 + i * 86_460_000,
                95.0 + i * 401, (30 + i * 17) * 1_048_576))


_PLAYABLE = "demo-RM_xyz9-2026-11-19T100900.mp4"


def _mp4_bytes() -> bytes:
    import tempfile

    from recconsole_devtools.media import make_mp4

    with tempfile.TemporaryDirectory() as folder:
        return make_mp4(Path(folder) / "r.mp4", seconds=6, size=(640, 360)).read_bytes()


def _started():  # type: ignore[no-untyped-def]
    from recconsole.core.recording_status import RecordingStatus
    return RecordingStatus.STARTED


def _starting():  # type: ignore[no-untyped-def]
    from recconsole.core.recording_status import RecordingStatus
    return RecordingStatus.STARTING


def _stopped():  # type: ignore[no-untyped-def]
    from recconsole.core.recording_status import RecordingStatus
    return RecordingStatus.STOPPED


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **StackConfig.for_profile("dev").env(), "APP_NAME": "recconsole",
           "RECORDINGS_PATH": "screenshots/recordings/"}
    # the dev stack's webhooks fill the log
    photograph(env, lambda window: take(window, folder), room="demo")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
