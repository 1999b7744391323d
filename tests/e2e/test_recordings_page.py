"""The All recordings page on real MinIO and Azurite: progressive listing, live updates,
errors."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from livekit.api import EgressStatus
from PySide6.QtCore import QDate, Qt
from pytestqt.qtbot import QtBot

from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recording_info import RecordingInfo
from recconsole.settings import Settings
from recconsole.storage.azure import AzureStore
from recconsole.storage.base import ObjectStore
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.index import RecordingsIndex
from recconsole.storage.recordings import RecordingsService
from recconsole.storage.s3 import S3Store
from recconsole.ui.app import build_services, shutdown, start_listener
from recconsole.ui.main_window import MainWindow
from recconsole.ui.recordings_page import RecordingsPage
from recconsole.ui.tasks import AsyncRunner
from recconsole_devtools.devstack import (
    API_KEY,
    API_SECRET,
    AZURE_ACCOUNT,
    AZURE_CONTAINER,
    AZURE_KEY,
    MINIO_PASSWORD,
    MINIO_USER,
    S3_BUCKET,
    DevStack,
    StackConfig,
)
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.waiting import eventually
from tests.helpers.webhooks import egress_event, post, sign

pytestmark = pytest.mark.e2e


def _info(prefix: str, i: int) -> RecordingInfo:
    name = f"room{i % 3}-RM_x-{i:04d}.mp4"
    return RecordingInfo(f"EG_{i}", name, f"room{i % 3}", "RM_x",
                         1_700_000_000_000 + i * 60_000, 30.0, 3)


def _store(backend: str, request: pytest.FixtureRequest) -> ObjectStore:
    if backend == "s3":
        minio: StackConfig = request.getfixturevalue("minio_server")
        return S3Store(minio.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET,
                       page_size=7)
    azurite: StackConfig = request.getfixturevalue("azurite_server")
    return AzureStore(AZURE_ACCOUNT, AZURE_KEY, AZURE_CONTAINER, azurite.azure_endpoint,
                      page_size=7)


@pytest.mark.parametrize("backend", ["s3", "azure"])
def test_page_lists_and_filters(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, request: pytest.FixtureRequest,
    backend: str,
) -> None:
    prefix = f"page-{uuid.uuid4().hex[:8]}/"

    async def scenario() -> None:
        store = _store(backend, request)
        catalog = RecordingsCatalog(store, prefix)
        try:
            for i in range(20):
                info = _info(prefix, i)
                await store.write_bytes(catalog.recording_key(info.name), b"mp4")
                await catalog.save_metadata(info)
            runner = AsyncRunner()
            page = RecordingsPage(catalog, runner)
            qtbot.addWidget(page)
            page.show()
            loaded = next_emission(page.loaded)
            page.refresh()
            assert await asyncio.wait_for(loaded, 30) == (20,)
            model = page.model
            assert model.rowCount() == 20
            assert model.info(0).name == _info(prefix, 19).name  # newest first
            assert "20 recordings" in page.progress.text()

            page.room_filter.setText("room1")
            assert model.rowCount() == 7
        finally:
            await store.aclose()

    qloop.run_until_complete(scenario())


@pytest.mark.parametrize("backend", ["s3", "azure"])
def test_a_recording_that_ends_appears_on_the_page_when_its_webhook_arrives(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, request: pytest.FixtureRequest,
    livekit_server: StackConfig, unused_tcp_port: int, backend: str,
) -> None:
    """Nothing tells the page but LiveKit's egress_ended webhook, signed, posted to the
    window's own listener: the listener writes the metadata, the page shows the row."""
    prefix = f"live-{uuid.uuid4().hex[:8]}/"
    env = {**livekit_server.env(), "APP_NAME": TEST_APP, "REDIS_URL": "",
           "SERVER_PORT": str(unused_tcp_port), "RECORDINGS_PATH": prefix}
    if backend == "s3":
        minio: StackConfig = request.getfixturevalue("minio_server")
        env |= {k: v for k, v in minio.env().items() if k.startswith(("S3_", "AWS_"))}
    else:
        azurite: StackConfig = request.getfixturevalue("azurite_server")
        env |= {k: v for k, v in azurite.env().items() if k.startswith("AZURE_")}
        env["RECORDINGS_STORAGE"] = "azure"
    window = MainWindow(build_services(Settings.from_env(env)))
    qtbot.addWidget(window)
    window.show()
    room = unique_room("live-row")

    async def scenario() -> None:
        listener = await start_listener(window)
        assert listener is not None, window.event_log.toPlainText()
        catalog, model = window.services.catalog, window.recordings.model
        try:
            await window.services.server.ensure_room(room)  # this app's room
            loaded = next_emission(window.recordings.loaded)
            window.recordings.refresh()
            assert await asyncio.wait_for(loaded, 20) == (0,)
            name = f"{room}-RM_live-2026-12-03T101010-a1b2c3.mp4"
            await catalog.store.write_bytes(catalog.recording_key(name), b"\0" * 2048,
                                            "video/mp4")  # what the egress uploaded
            inserted = next_emission(model.rowsInserted)
            body = egress_event("egress_ended", room, "EG_live", EgressStatus.EGRESS_COMPLETE,
                                file_name=name, prefix=prefix, room_id="RM_live")
            assert (await post(listener.url, body, sign(body)))[0] == 200
            await asyncio.wait_for(inserted, 20)
            assert model.info(0).name == name
            assert model.info(0).room_name == room
            assert (await catalog.get(name)).id == "EG_live"  # the metadata it wrote
            assert window.recordings.progress.text().startswith("1 recording in")  # counted
        finally:
            await shutdown(window, listener)

    qloop.run_until_complete(scenario())


def test_storage_errors_show_a_banner_with_retry(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot
) -> None:
    async def scenario() -> None:
        store = S3Store("http://127.0.0.1:9", "k", "s", "us-east-1", "nope", timeout=3)
        page = RecordingsPage(RecordingsCatalog(store), AsyncRunner())
        qtbot.addWidget(page)
        page.show()
        failed = asyncio.get_running_loop().create_future()
        page.runner.busyChanged.connect(
            lambda busy: None if busy or failed.done() else failed.set_result(True))
        page.refresh()
        await asyncio.wait_for(failed, 20)
        assert page.banner.isVisible()
        assert "cannot be listed" in page.banner_text.text()
        assert "127.0.0.1:9" in page.banner_text.text()
        assert page.refresh_button.isEnabled()
        await store.aclose()

    qloop.run_until_complete(scenario())


def test_the_page_retries_by_itself_and_clears_the_banner_once_storage_answers(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, private_minio: DevStack,
) -> None:
    """The console opened before the store was up: no click on Retry is needed."""
    cfg = private_minio.cfg
    private_minio.stop("minio")

    async def scenario() -> None:
        store = S3Store(cfg.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET,
                        timeout=3)
        page = RecordingsPage(RecordingsCatalog(store, f"retry-{uuid.uuid4().hex[:6]}/"),
                              AsyncRunner())
        page.retry_delays = (0.2, 0.4)
        qtbot.addWidget(page)
        page.show()
        try:
            page.refresh()
            await eventually(lambda: page.retrying, True, within=20)
            assert page.banner.isVisible()
            assert "Trying again in 0.2 s" in page.banner_text.text()
            loaded = next_emission(page.loaded)
            await asyncio.to_thread(private_minio.start, "minio")  # the storage comes up
            assert await asyncio.wait_for(loaded, 30) == (0,)
            assert not page.banner.isVisible()
            assert not page.retrying
        finally:
            await store.aclose()

    qloop.run_until_complete(scenario())


def test_a_new_page_shows_the_last_known_list_before_the_store_answers(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, private_minio: DevStack, tmp_path: Path,
) -> None:
    """The index kept by an earlier console fills the page while MinIO is down; once
    MinIO answers, a recording added meanwhile appears and a deleted one goes."""
    cfg = private_minio.cfg
    prefix = f"known-{uuid.uuid4().hex[:6]}/"
    index_file = tmp_path / "recordings-index.sqlite3"

    def catalog() -> RecordingsCatalog:
        store = S3Store(cfg.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET,
                        timeout=3)
        return RecordingsCatalog(store, prefix, index=RecordingsIndex(index_file))

    async def scenario() -> None:
        earlier = catalog()
        try:
            for i in range(5):
                info = _info(prefix, i)
                await earlier.store.write_bytes(earlier.recording_key(info.name), b"mp4")
                await earlier.save_metadata(info)
            await earlier.list_recordings()
            await earlier.delete(_info(prefix, 0).name)  # deleted by this console: indexed
            await earlier.store.delete(earlier.recording_key(_info(prefix, 1).name))
        finally:
            await earlier.store.aclose()
            assert earlier.index is not None
            await earlier.index.close()
        await asyncio.to_thread(private_minio.stop, "minio")

        now = catalog()
        page = RecordingsPage(now, AsyncRunner())
        page.retry_delays = (0.2, 0.4)
        qtbot.addWidget(page)
        page.show()
        try:
            page.refresh()
            await eventually(lambda: page.retrying, True, within=20)
            assert page.banner.isVisible()
            names = {page.model.info(row).name for row in range(page.model.rowCount())}
            assert names == {_info(prefix, i).name for i in (1, 2, 3, 4)}
            loaded = next_emission(page.loaded)
            await asyncio.to_thread(private_minio.start, "minio")
            assert await asyncio.wait_for(loaded, 30) == (3,)
            names = {page.model.info(row).name for row in range(page.model.rowCount())}
            assert names == {_info(prefix, i).name for i in (2, 3, 4)}
        finally:
            await now.store.aclose()
            assert now.index is not None
            await now.index.close()

    qloop.run_until_complete(scenario())


def test_dates_of_the_filter_read_the_same_everywhere(qtbot: QtBot) -> None:
    page = RecordingsPage(RecordingsCatalog(S3Store("http://127.0.0.1:9", "k", "s",
                                                    "us-east-1", "b")), AsyncRunner())
    qtbot.addWidget(page)
    page.since.setDate(QDate(2026, 11, 3))
    assert page.since.text() == "2026-11-03"


def test_several_recordings_deleted_at_once_with_a_result_per_row(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, minio_server: StackConfig,
    livekit_server: StackConfig,
) -> None:
    prefix = f"del-{uuid.uuid4().hex[:8]}/"

    async def scenario() -> None:
        store = S3Store(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1",
                        S3_BUCKET)
        catalog = RecordingsCatalog(store, prefix)
        server = LiveKitServer(livekit_server.livekit_url, API_KEY, API_SECRET, app_name="t")
        infos = [_info(prefix, i) for i in range(3)]
        for info in infos:
            await store.write_bytes(catalog.recording_key(info.name), b"mp4")
            await catalog.save_metadata(info)
        page = RecordingsPage(catalog, AsyncRunner(), RecordingsService(catalog, server))
        qtbot.addWidget(page)
        page.show()
        loaded = next_emission(page.loaded)
        page.refresh()
        await asyncio.wait_for(loaded, 30)
        asked: list[str] = []
        page.confirm = lambda question: asked.append(question) is None  # answers "yes"
        page.table.selectAll()
        assert page.delete_button.isEnabled()
        # One of them vanishes behind our back (file and metadata): its row says so.
        await catalog.delete(infos[1].name)
        finished = next_emission(page.deleted)
        page.delete_selected()
        assert await asyncio.wait_for(finished, 20) == (2, 1)
        try:
            assert asked == ["Delete these 3 recordings? The file and its metadata are "
                             "removed from the bucket, and the room is told."]
            assert page.model.visible_names() == [infos[1].name]
            assert page.progress.text() == "Deleted 2 recordings; 1 could not be deleted"
            assert infos[1].name in page.banner_text.text()
            for info in infos:
                assert not await store.exists(catalog.recording_key(info.name))
                assert not await store.exists(catalog.metadata_key(info.name))
        finally:
            await server.aclose()
            await store.aclose()

    qloop.run_until_complete(scenario())


def test_download_from_the_page_saves_the_file(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, minio_server: StackConfig, tmp_path: Path,
) -> None:
    prefix = f"dl-{uuid.uuid4().hex[:8]}/"

    async def scenario() -> None:
        store = S3Store(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1",
                        S3_BUCKET)
        catalog = RecordingsCatalog(store, prefix)
        info = _info(prefix, 1)
        payload = bytes(range(256)) * 4000
        await store.write_bytes(catalog.recording_key(info.name), payload, "video/mp4")
        await catalog.save_metadata(info)
        page = RecordingsPage(catalog, AsyncRunner())
        qtbot.addWidget(page)
        page.show()
        loaded = next_emission(page.loaded)
        page.refresh()
        await asyncio.wait_for(loaded, 30)
        page.table.selectRow(0)
        assert page.download_button.isEnabled()
        page.choose_target = lambda name: tmp_path / name
        done = next_emission(page.downloaded)
        page.download_selected()
        (message,) = await asyncio.wait_for(done, 30)
        try:
            assert message == f"Saved {tmp_path / info.name}"
            assert (tmp_path / info.name).read_bytes() == payload
            assert page.cancel_button.isHidden()
        finally:
            await store.aclose()

    qloop.run_until_complete(scenario())


def test_a_session_row_stands_for_its_files(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, minio_server: StackConfig,
    livekit_server: StackConfig,
) -> None:
    prefix = f"sess-{uuid.uuid4().hex[:8]}/"

    async def scenario() -> None:
        store = S3Store(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1",
                        S3_BUCKET)
        catalog = RecordingsCatalog(store, prefix)
        server = LiveKitServer(livekit_server.livekit_url, API_KEY, API_SECRET, app_name="t")
        room = _info(prefix, 0)
        files = [RecordingInfo(f"EG_p{i}", f"room1-RM_x-{who}.mp4", "room1", "RM_x",
                               1_700_000_000_000 + i * 1000, 30.0, 3,
                               extra={"kind": "participant", "participant": who,
                                      "session": "RM_x-abcdef"})
                 for i, who in enumerate(["alice", "bob"], 1)]
        for info in [room, *files]:
            await store.write_bytes(catalog.recording_key(info.name), b"mp4")
            await catalog.save_metadata(info)
        page = RecordingsPage(catalog, AsyncRunner(), RecordingsService(catalog, server))
        qtbot.addWidget(page)
        page.show()
        loaded = next_emission(page.loaded)
        page.refresh()
        await asyncio.wait_for(loaded, 30)
        try:
            assert page.model.visible_names() == ["RM_x-abcdef", room.name]
            page.table.selectRow(0)
            assert page.selected_names() == [files[1].name, files[0].name]
            assert page.play_button.isEnabled()  # the first file
            assert not page.download_button.isEnabled()  # one file at a time
            qtbot.keyClick(page.table, Qt.Key.Key_Right)  # opens, as in a tree
            assert page.model.rowCount() == 4
            qtbot.keyClick(page.table, Qt.Key.Key_Left)
            assert page.model.rowCount() == 2
            page.table.doubleClicked.emit(page.model.index(0, 0))
            assert page.model.visible_names() == ["RM_x-abcdef", files[1].name,
                                                  files[0].name, room.name]
            page.table.selectRow(2)
            assert page.selected_names() == [files[0].name]
            assert page.download_button.isEnabled()
            page.table.selectRow(0)
            asked: list[str] = []
            page.confirm = lambda question: asked.append(question) is None  # answers "yes"
            finished = next_emission(page.deleted)
            page.delete_selected()
            assert await asyncio.wait_for(finished, 20) == (2, 0)
            assert asked[0].startswith("Delete these 2 recordings?")
            assert page.model.visible_names() == [room.name]
            for info in files:
                assert not await store.exists(catalog.recording_key(info.name))
        finally:
            await server.aclose()
            await store.aclose()

    qloop.run_until_complete(scenario())
