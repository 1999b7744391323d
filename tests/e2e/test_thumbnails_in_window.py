"""Thumbnails in the recordings table and as the player's poster, on real MinIO.

The recordings are real MP4s made with PyAV (a white bar moving over black); one has no
thumbnail in the bucket (made by another app), so the table makes one lazily.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtMultimedia import QMediaPlayer
from pytestqt.qtbot import QtBot

from recconsole.core.recording_info import RecordingInfo
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.s3 import S3Store
from recconsole.storage.thumbnails import ThumbnailCache, Thumbnails
from recconsole.ui.player_window import PlayerWindow
from recconsole.ui.recordings_page import RecordingsPage
from recconsole.ui.tasks import AsyncRunner
from recconsole_devtools.devstack import MINIO_PASSWORD, MINIO_USER, S3_BUCKET, StackConfig
from recconsole_devtools.media import make_mp4
from tests.e2e.conftest import next_emission
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e


def _row(page: RecordingsPage, name: str) -> int:
    return page.model.visible_names().index(name)


def test_the_table_makes_missing_thumbnails_without_waiting_and_the_player_shows_one(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, minio_server: StackConfig,
    tmp_path: Path,
) -> None:
    theirs = "theirs-RM_a-2026-12-03T101010.mp4"
    broken = "broken-RM_b-2026-12-03T111010.mp4"
    audio = "tone-RM_c-2026-12-03T121010.ogg"
    mp4 = make_mp4(tmp_path / "bar.mp4", 4.0, (640, 360))

    async def scenario() -> None:
        store = S3Store(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1",
                        S3_BUCKET)
        catalog = RecordingsCatalog(store, f"thumbpage-{uuid.uuid4().hex[:6]}/")
        try:
            await store.write_file(catalog.recording_key(theirs), mp4, "video/mp4")
            await store.write_bytes(catalog.recording_key(broken), b"\0" * 2048, "video/mp4")
            await store.write_bytes(catalog.recording_key(audio), b"OggS", "audio/ogg")
            for name, at in ((theirs, 1), (broken, 2), (audio, 3)):
                await catalog.save_metadata(RecordingInfo("EG", name, "r", "RM", at, 4.0, 1))
            cache = ThumbnailCache(Thumbnails(catalog), tmp_path / "cache")
            page = RecordingsPage(catalog, AsyncRunner(), thumbnails=cache)
            qtbot.addWidget(page)
            page.resize(900, 400)
            page.show()
            loaded = next_emission(page.loaded)
            page.refresh()
            assert await asyncio.wait_for(loaded, 30) == (3,)
            model = page.model
            # The rows are there before any thumbnail is.
            assert model.thumbnail(theirs) is None

            def decoration(name: str) -> object:
                return model.data(model.index(_row(page, name), 0),
                                  Qt.ItemDataRole.DecorationRole)

            await eventually(lambda: model.thumbnail(theirs) is not None, True, 30)
            icon = decoration(theirs)
            assert isinstance(icon, QPixmap)
            assert icon.width() == 64
            assert cache.cached(model.infos([theirs])[0]).exists()
            assert not await store.exists(catalog.thumbnail_key(theirs))
            assert isinstance(decoration(audio), QPixmap)  # the speaker icon
            await eventually(lambda: page.thumbnails.busy, False, 30)  # broken one tried
            assert model.thumbnail(broken) is None
            assert isinstance(decoration(broken), QPixmap)  # blank: the name stays in line
            assert page.banner.isHidden()

            page.table.selectRow(_row(page, theirs))
            page.play_selected()
            player = page.players[-1]
            assert player.showing_poster
            assert not player.poster.pixmap().isNull()
            shown = next_emission(player.first_frame)
            await asyncio.wait_for(shown, 20)
            assert not player.showing_poster
            player.close()  # and it stops: nothing plays on from a closed window
            assert player.player.playbackState() == QMediaPlayer.PlaybackState.StoppedState
        finally:
            await store.aclose()

    qloop.run_until_complete(scenario())


def test_a_player_without_poster_shows_the_video_at_once(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot
) -> None:
    async def never() -> str:
        raise AssertionError("not opened")

    player = PlayerWindow("x.mp4", never, AsyncRunner())
    qtbot.addWidget(player)
    assert not player.showing_poster
    broken = PlayerWindow("x.mp4", never, AsyncRunner(), poster=b"not a jpeg")
    qtbot.addWidget(broken)
    assert not broken.showing_poster
