"""Playing a real MP4 from MinIO: presigned URL, PROXY route, and a lapsed link renewed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtMultimedia import QMediaPlayer
from pytestqt.qtbot import QtBot

from recconsole.server.app import init_app, start_server
from recconsole.settings import Settings
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.s3 import S3Store
from recconsole.ui.player_window import PlayerWindow
from recconsole.ui.tasks import AsyncRunner
from recconsole_devtools.devstack import MINIO_PASSWORD, MINIO_USER, S3_BUCKET, StackConfig
from recconsole_devtools.media import make_mp4
from tests.e2e.conftest import next_emission

pytestmark = pytest.mark.e2e

NAME = "demo-RM_play-2026-11-22T101010.mp4"


async def _plays(player: PlayerWindow) -> list[int]:
    """Open, then wait for playing and for the position to pass half a second."""
    playing = asyncio.get_running_loop().create_future()
    moving = asyncio.get_running_loop().create_future()
    positions: list[int] = []

    def state(value: QMediaPlayer.PlaybackState) -> None:
        if value == QMediaPlayer.PlaybackState.PlayingState and not playing.done():
            playing.set_result(True)

    def position(ms: int) -> None:
        positions.append(ms)
        if ms > 500 and not moving.done():
            moving.set_result(ms)

    player.player.playbackStateChanged.connect(state)
    player.player.positionChanged.connect(position)
    player.open()
    await asyncio.wait_for(playing, 20)
    await asyncio.wait_for(moving, 20)
    return positions


@pytest.mark.parametrize("route", ["presigned", "proxy"])
def test_a_recording_plays_and_its_position_advances(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, minio_server: StackConfig,
    tmp_path: Path, unused_tcp_port: int, route: str,
) -> None:
    mp4 = make_mp4(tmp_path / NAME)

    async def scenario() -> None:
        store = S3Store(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1",
                        S3_BUCKET)
        catalog = RecordingsCatalog(store, f"play-{uuid.uuid4().hex[:6]}/")
        await store.write_bytes(catalog.recording_key(NAME), mp4.read_bytes(), "video/mp4")
        runner = None
        if route == "proxy":
            runner = await start_server(init_app(Settings(), catalog), "127.0.0.1",
                                        unused_tcp_port)

        async def resolve() -> str:
            if route == "proxy":
                return f"http://127.0.0.1:{unused_tcp_port}/recordings/{NAME}"
            return await catalog.playback_url(NAME, 60)

        player = PlayerWindow(NAME, resolve, AsyncRunner())
        qtbot.addWidget(player)
        player.show()
        try:
            positions = await _plays(player)
            assert player.player.duration() == pytest.approx(3000, abs=200)
            assert positions[-1] > positions[0]
            assert player.play_button.text() == "Pause"
            assert player.time.text().endswith("/ 0:00:03")
        finally:
            player.player.stop()
            if runner is not None:
                await runner.cleanup()
            await store.aclose()

    qloop.run_until_complete(scenario())


@pytest.mark.qt_log_ignore("Could not open media.*403")  # the refused first link
def test_a_link_that_no_longer_works_is_renewed(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, minio_server: StackConfig, tmp_path: Path,
) -> None:
    mp4 = make_mp4(tmp_path / NAME)

    async def scenario() -> None:
        store = S3Store(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1",
                        S3_BUCKET)
        catalog = RecordingsCatalog(store, f"renew-{uuid.uuid4().hex[:6]}/")
        await store.write_bytes(catalog.recording_key(NAME), mp4.read_bytes(), "video/mp4")
        calls = 0

        async def resolve() -> str:
            nonlocal calls
            calls += 1
            url = await catalog.playback_url(NAME, 60)
            # The first link is refused by the storage, as a lapsed one would be.
            return url.replace("X-Amz-Signature=", "X-Amz-Signature=0") if calls == 1 else url

        resolver: Callable[[], Coroutine[Any, Any, str]] = resolve
        player = PlayerWindow(NAME, resolver, AsyncRunner())
        qtbot.addWidget(player)
        renewed = next_emission(player.renewed)
        try:
            await _plays(player)
            await asyncio.wait_for(renewed, 1)
            assert calls == 2
        finally:
            player.player.stop()
            await store.aclose()

    qloop.run_until_complete(scenario())


@pytest.mark.qt_log_ignore(".*")  # the link cut under FFmpeg makes it complain
def test_a_link_that_lapses_mid_playback_resumes_where_it_was(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path, unused_tcp_port: int,
) -> None:
    """A STAND-IN for a storage link that stops working while it plays: a small HTTP
    server of the test's own serves the file slowly and, once told, cuts the first link
    and refuses it (403); the second link works. The player must resume at the position
    it had reached, not at 0."""
    from aiohttp import web

    mp4 = make_mp4(tmp_path / NAME, seconds=12, size=(640, 360), gop=50,
                   max_bitrate=3_000_000, noise=True)
    data = mp4.read_bytes()
    lapsed = False

    async def serve(request: web.Request) -> web.StreamResponse:
        first = request.match_info["link"] == "first"
        if first and lapsed:
            return web.Response(status=403, text="Request has expired")
        start = int(request.headers.get("Range", "bytes=0-").split("=")[1].split("-")[0])
        response = web.StreamResponse(status=206 if start else 200, headers={
            "Accept-Ranges": "bytes", "Content-Type": "video/mp4",
            "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
        response.content_length = len(data) - start
        await response.prepare(request)
        for offset in range(start, len(data), 64 * 1024):
            if first and lapsed:
                raise ConnectionResetError("the link lapsed")
            await response.write(data[offset:offset + 64 * 1024])
            await asyncio.sleep(0.08)  # 0.8 MB/s, twice the file's rate: still coming
        return response

    async def scenario() -> None:
        nonlocal lapsed
        app = web.Application()
        app.router.add_get("/{link}", serve)
        runner = web.AppRunner(app, lingering_time=0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
        links = iter([f"http://127.0.0.1:{unused_tcp_port}/{link}" for link in ("first", "next")])

        async def resolve() -> str:
            return next(links)

        player = PlayerWindow(NAME, resolve, AsyncRunner())
        qtbot.addWidget(player)
        player.show()
        renewed = next_emission(player.renewed)
        try:
            await _plays(player)
            while player.player.position() < 1500:  # well into the file
                await asyncio.wait_for(next_emission(player.player.positionChanged), 10)
            reached = player.player.position()
            lapsed = True
            (resumed_at,) = await asyncio.wait_for(renewed, 30)
            assert resumed_at >= reached  # it played on from what it had, then renewed
            after: list[int] = []
            player.player.positionChanged.connect(after.append)
            while not after or after[-1] < resumed_at + 500:  # playing on from there
                await asyncio.wait_for(next_emission(player.player.positionChanged), 20)
            # It went on from where it was: it never played the middle again, and its
            # first position on the new link is within a second of where it stopped.
            replayed = [ms for ms in after if 1000 <= ms < resumed_at - 1000]
            assert replayed == []
            first = next(ms for ms in after if ms > 0)
            assert abs(first - resumed_at) <= 1000, after[:10]
        finally:
            player.player.stop()
            await runner.cleanup()

    qloop.run_until_complete(scenario())
