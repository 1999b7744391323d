"""The window beside other apps: a reason the other app erased, the identity an
application server gives, and one set of recording locks for the window and its
listener. Real LiveKit server throughout; where a failed egress must exist, the egress
calls go to StandInEgressServer (named in the test)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from livekit import api
from PySide6.QtWidgets import QComboBox, QLineEdit
from pytestqt.qtbot import QtBot

from recconsole.core.errors import AlreadyRecording
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recording_limits import LimitEnforcer
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.tokens import mint_token
from recconsole.settings import Settings
from recconsole.ui.app import build_services, shutdown, start_listener
from recconsole.ui.main_window import MainWindow
from recconsole.ui.settings_dialog import SettingsDialog
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.e2e.conftest import next_emission
from tests.helpers.egress_stand_in import StandInEgressServer
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.secrets import DictSecrets
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e


async def _join(window: MainWindow) -> None:
    joined = next_emission(window.joinedChanged)
    window.join_button.click()
    assert await asyncio.wait_for(joined, 20) == (True,)


def _settings(livekit_server: StackConfig, **more: str) -> Settings:
    return Settings.from_env({**livekit_server.env(), "APP_NAME": TEST_APP, "REDIS_URL": "",
                              **more})


def test_a_failure_whose_reason_another_app_erased_is_explained_from_the_egress_stand_in(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
) -> None:
    """The tutorial rewrites the room metadata whole: FAILED arrives without
    recordingError. The window asks the egress why (StandInEgressServer holds the
    failed egress; the room and its metadata are the real server's)."""
    settings = _settings(livekit_server)
    room = unique_room("why")
    services = build_services(settings)
    stand_in = StandInEgressServer(settings.livekit_url, API_KEY, API_SECRET,
                                   app_name=TEST_APP)
    stand_in.egresses["EG_failed"] = api.EgressInfo(
        egress_id="EG_failed", room_name=room, status=api.EgressStatus.EGRESS_FAILED,
        error="Start signal not received", updated_at=1)
    real_egress = services.server
    services.server = services.recorder.server = stand_in
    window = MainWindow(services, room=room)
    qtbot.addWidget(window)
    window.show()

    async def scenario() -> None:
        try:
            await _join(window)
            await stand_in.lkapi.room.update_room_metadata(api.UpdateRoomMetadataRequest(
                room=room, metadata=json.dumps({"createdBy": "openvidu-recording-advanced-node",
                                                "recordingStatus": "FAILED"})))
            await eventually(lambda: window.status, RecordingStatus.FAILED)
            await eventually(lambda: window.badge.toolTip(), "Start signal not received")
            assert "Start signal not received" in window.event_log.toPlainText()
        finally:
            await shutdown(window)
            await real_egress.aclose()

    qloop.run_until_complete(scenario())


def test_the_window_and_its_listener_hold_the_same_recording_locks(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
    listener_port: int,
) -> None:
    settings = _settings(livekit_server, SERVER_PORT=str(listener_port))
    room = unique_room("shared")
    window = MainWindow(build_services(settings), room=room)
    qtbot.addWidget(window)

    async def scenario() -> None:
        listener = await start_listener(window)
        assert listener is not None, window.event_log.toPlainText()
        try:
            assert listener.server is window.services.server  # metadata one change at a time
            # A start in progress elsewhere in this console holds the room...
            token = await listener.locks.acquire(room, 60)
            assert token is not None
            async with LiveKitServer(settings.livekit_url, API_KEY, API_SECRET,
                                     app_name=TEST_APP) as server:
                await server.ensure_room(room)
            # ...so the window's recorder refuses, before asking any egress.
            with pytest.raises(AlreadyRecording, match="sharing this lock"):
                await window.services.recorder.start(room)
        finally:
            await shutdown(window, listener)

    qloop.run_until_complete(scenario())


async def _token_server(port: int, identity: str) -> AsyncIterator[str]:
    async def token(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"token": mint_token(
            API_KEY, API_SECRET, body["roomName"], identity, body["participantName"])})

    app = web.Application()
    app.router.add_post("/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def test_joining_through_an_application_server_counts_the_identity_it_gave(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
    unused_tcp_port: int,
) -> None:
    """The application server names the participant itself: that identity, not one the
    console made up, is the console's (stop-when-empty does not count it as a person)."""
    identity = f"app-user-{uuid.uuid4().hex[:6]}"

    async def scenario() -> None:
        servers = _token_server(unused_tcp_port, identity)
        url = await anext(servers)
        settings = _settings(livekit_server, APP_SERVER_URL=url)
        window = MainWindow(build_services(settings), room=unique_room("appserver"))
        qtbot.addWidget(window)
        try:
            await _join(window)
            assert window.session is not None
            assert window.session.room.local_participant.identity == identity
            assert identity in window.services.recorder.console_identities
        finally:
            await shutdown(window)
            await servers.aclose()

    qloop.run_until_complete(scenario())


def test_stop_when_everyone_has_left_shows_its_countdown_then_stops_stand_in(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The room holds only the console: the countdown shows beside the badge and the
    recording stops when it ends (the egress calls go to StandInEgressServer; the room,
    its participants and metadata are the real server's)."""
    monkeypatch.setattr("recconsole.ui.joined_room.STOP_WHEN_EMPTY_AFTER", 3.0)
    settings = _settings(livekit_server)
    room = unique_room("countdown")
    services = build_services(settings)
    stand_in = StandInEgressServer(settings.livekit_url, API_KEY, API_SECRET,
                                   app_name=TEST_APP)
    real_egress = services.server
    recorder = services.recorder
    services.server = recorder.server = stand_in
    recorder.poll_interval, recorder.webhook_grace = 0.1, 0.1  # no webhooks here
    recorder.limits = LimitEnforcer(stand_in, recorder.started, every=0.2,
                                    stopped=recorder._limit_reached)
    window = MainWindow(services, room=room)
    qtbot.addWidget(window)

    async def scenario() -> None:
        limits = asyncio.ensure_future(recorder.limits.run())  # as a listener runs it
        try:
            await _join(window)
            window.stop_when_empty.setChecked(True)
            window.record_button.click()
            await eventually(lambda: window.status, RecordingStatus.STARTED, within=20)
            await eventually(lambda: window.stage.text().startswith(
                "Everyone has left: stops in "), True, within=10)
            await eventually(lambda: len(stand_in.stops), 1, within=15)
            await eventually(lambda: window.status, RecordingStatus.STOPPED, within=15)
            assert window.stage.text() == ""
        finally:
            limits.cancel()
            await shutdown(window)
            await real_egress.aclose()

    qloop.run_until_complete(scenario())


def test_settings_show_only_the_chosen_storage_and_test_the_connection(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
    minio_server: StackConfig,
) -> None:
    """Against the real LiveKit server (no egress service connected to it) and MinIO."""
    settings = Settings.from_env({**livekit_server.env(), **minio_server.env(),
                                  "REDIS_URL": ""})
    dialog = SettingsDialog(settings, secrets=DictSecrets())
    qtbot.addWidget(dialog)
    dialog.show()
    storage = dialog.inputs["RECORDINGS_STORAGE"]
    assert isinstance(storage, QComboBox)
    assert dialog.groups["S3"].isVisible()
    assert not dialog.groups["Azure"].isVisible()
    storage.setCurrentText("azure")
    assert dialog.groups["Azure"].isVisible()
    assert not dialog.groups["S3"].isVisible()
    storage.setCurrentText("s3")

    async def tested() -> str:
        done = next_emission(dialog.runner.busyChanged)
        dialog.test_button.click()
        assert await asyncio.wait_for(done, 5) == (True,)
        assert await asyncio.wait_for(next_emission(dialog.runner.busyChanged), 30) == (False,)
        return dialog.results.text()

    async def scenario() -> None:
        lines = (await tested()).splitlines()
        assert lines[0].startswith("✓ LiveKit: credentials accepted")
        assert lines[1].startswith("✗ Egress: no egress service answers")
        assert lines[2].startswith("✓ Storage: s3 ")
        secret = dialog.inputs["LIVEKIT_API_SECRET"]
        bucket = dialog.inputs["S3_BUCKET"]
        assert isinstance(secret, QLineEdit)
        assert isinstance(bucket, QLineEdit)
        secret.setText("not-the-secret-not-the-secret-xx")
        bucket.setText(f"missing-{uuid.uuid4().hex[:6]}")
        lines = (await tested()).splitlines()
        assert lines[0].startswith("✗ LiveKit: The credentials were rejected by the server")
        assert lines[1].startswith("✗ Storage: bucket")
        assert "does not exist" in lines[1]

    qloop.run_until_complete(scenario())
