"""Playing a recording from the window, as a moderator does, from every kind of storage.

A real MP4 is put where the console reads recordings: MinIO (a presigned link, or the
console's PROXY route), Azurite (a SAS link) or a local folder (a file URL). The test
selects its row in All recordings, presses Play, waits for the picture to move, then
drags the seek slider to the middle: playback must go on from within half a second of
where the slider was let go.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel
from PySide6.QtMultimedia import QMediaPlayer
from pytestqt.qtbot import QtBot

from recconsole.core.recording_info import RecordingInfo
from recconsole.settings import Settings
from recconsole.ui.app import build_services, shutdown, start_listener
from recconsole.ui.main_window import MainWindow
from recconsole.ui.player_window import PlayerWindow
from recconsole_devtools.devstack import StackConfig
from recconsole_devtools.media import make_mp4
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e
SECONDS = 12
TARGET_MS = 7_000  # where the moderator lets the slider go


def _settings(kind: str, request: pytest.FixtureRequest, tmp_path: Path, port: int) -> Settings:
    livekit: StackConfig = request.getfixturevalue("livekit_server")
    env = {**livekit.env(), "APP_NAME": TEST_APP, "REDIS_URL": "", "SERVER_PORT": str(port),
           "RECORDINGS_PATH": f"play-{uuid.uuid4().hex[:8]}/"}
    if kind in ("presigned", "proxy"):
        minio: StackConfig = request.getfixturevalue("minio_server")
        env |= {k: v for k, v in minio.env().items() if k.startswith(("S3_", "AWS_"))}
        env["RECORDING_PLAYBACK_STRATEGY"] = "PROXY" if kind == "proxy" else "S3"
    elif kind == "azure":
        azurite: StackConfig = request.getfixturevalue("azurite_server")
        env |= {k: v for k, v in azurite.env().items() if k.startswith("AZURE_")}
        env["RECORDINGS_STORAGE"] = "azure"
    else:
        env |= {"RECORDINGS_STORAGE": "local", "RECORDINGS_DIR": str(tmp_path / "recordings")}
    return Settings.from_env(env)


async def _put_recording(window: MainWindow, mp4: bytes) -> str:
    catalog = window.services.catalog
    name = f"demo-RM_play-2026-12-03T101010-{uuid.uuid4().hex[:6]}.mp4"
    await catalog.store.write_bytes(catalog.recording_key(name), mp4, "video/mp4")
    await catalog.save_metadata(RecordingInfo(
        "EG_play", name, "demo", "RM_play", 1_796_000_000_000, float(SECONDS), len(mp4)))
    return name


async def _press_play(window: MainWindow, name: str) -> PlayerWindow:
    page = window.recordings
    page.refresh()
    await eventually(lambda: page.model.total, 1, within=20)
    row = page.model.index(0, 0)
    page.table.selectionModel().select(
        row, QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows)
    assert page.selected_names() == [name]
    assert page.play_button.isEnabled()
    page.play_button.click()
    (player,) = page.players
    return player


async def _moves_past(player: PlayerWindow, ms: int) -> None:
    while player.player.position() <= ms:
        await asyncio.wait_for(next_emission(player.player.positionChanged), 20)


@pytest.mark.parametrize("kind", ["presigned", "proxy", "azure", "local"])
def test_a_recording_plays_from_the_window_and_seeks_where_the_slider_goes(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, request: pytest.FixtureRequest,
    tmp_path: Path, unused_tcp_port: int, kind: str,
) -> None:
    mp4 = make_mp4(tmp_path / "source.mp4", seconds=SECONDS, gop=15).read_bytes()
    settings = _settings(kind, request, tmp_path, unused_tcp_port)
    window = MainWindow(build_services(settings))
    qtbot.addWidget(window)
    window.show()

    async def scenario() -> None:
        listener = await start_listener(window)
        assert listener is not None, window.event_log.toPlainText()
        player: PlayerWindow | None = None
        try:
            name = await _put_recording(window, mp4)
            player = await _press_play(window, name)
            await eventually(lambda: player.player.playbackState(),
                             QMediaPlayer.PlaybackState.PlayingState, within=20)
            await _moves_past(player, 500)
            assert player.player.duration() == pytest.approx(SECONDS * 1000, abs=200)
            assert player.seek.maximum() == player.player.duration()
            source = player.player.source().toString()
            expected = {"presigned": settings.s3_endpoint, "azure": settings.azure_endpoint,
                        "proxy": f"http://127.0.0.1:{unused_tcp_port}/recordings/",
                        "local": "file:///"}[kind]
            assert source.startswith(expected), source

            # The moderator drags the slider to the target and lets it go.
            seen: list[int] = []
            player.player.positionChanged.connect(seen.append)
            player.seek.setSliderDown(True)
            player.seek.setSliderPosition(TARGET_MS)
            player.seek.setSliderDown(False)
            await _moves_past(player, TARGET_MS - 1000)
            landed = next(ms for ms in seen if ms >= TARGET_MS - 1000)
            assert abs(landed - TARGET_MS) <= 500, seen[:10]
            await _moves_past(player, landed + 300)  # and it plays on from there
            assert player.play_button.text() == "Pause"
            assert player.time.text().endswith(f"/ 0:00:{SECONDS:02d}")

            player.volume.setValue(25)
            assert player.audio.volume() == pytest.approx(0.25)
            player.full_screen.click()
            await eventually(player.isFullScreen, True)
            player.full_screen.click()
            await eventually(player.isFullScreen, False)
        finally:
            if player is not None:
                player.player.stop()
                player.close()
            await shutdown(window, listener)

    qloop.run_until_complete(scenario())
