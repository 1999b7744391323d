"""The console beside another app on the same rooms, with the real LiveKit egress service.

Nothing is posted by these tests: the egress records into MinIO and LiveKit sends its
own webhooks to the console's listener. "Another app" is what the OpenVidu tutorial
server does: a RoomComposite egress to ``recordings/{room_name}-{room_id}-{time}``,
started with the server API and no lock shared with the console.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from livekit import api, rtc

from recconsole.core.events import DuplicateStopped, LimitReached, RecordingSaved
from recconsole.core.livekit_server import LiveKitServer, parse_metadata, ws_url
from recconsole.core.recorder import Recorder, StartOptions
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.tokens import mint_token
from recconsole.server.listener import SharedState, WebhookListener
from recconsole.settings import Settings
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import (
    API_KEY,
    API_SECRET,
    MINIO_PASSWORD,
    MINIO_USER,
    StackConfig,
)
from tests.helpers.rooms import TEST_APP, make_leave, unique_room
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]
S = api.EgressStatus
TUTORIAL_PATH = "recordings/{room_name}-{room_id}-{time}"


@pytest_asyncio.fixture
async def room(server: LiveKitServer, egress_stack: StackConfig) -> AsyncIterator[str]:
    """A room this app created, with two publisher bots in it."""
    name = unique_room("coexist")
    await server.ensure_room(name)
    bots: list[PublisherBot] = await start_bots(egress_stack.livekit_url, API_KEY, API_SECRET,
                                                name, 2, BotOptions(width=320, height=180, fps=15))
    yield name
    await asyncio.gather(*(bot.stop() for bot in bots))


async def _live(server: LiveKitServer, room: str) -> list[api.EgressInfo]:
    return [e for e in await server.list_egress(room, active=True)
            if e.status in (S.EGRESS_STARTING, S.EGRESS_ACTIVE)]


async def _ended(server: LiveKitServer, egress_id: str) -> bool:
    info = await server.get_egress(egress_id)
    return info is not None and info.status not in (S.EGRESS_STARTING, S.EGRESS_ACTIVE,
                                                     S.EGRESS_ENDING)


async def _status(server: LiveKitServer, egress_id: str) -> int | None:
    info = await server.get_egress(egress_id)
    return None if info is None else int(info.status)


async def _other_app_starts(server: LiveKitServer, room: str) -> api.EgressInfo:
    output = api.EncodedFileOutput(file_type=api.EncodedFileType.MP4, filepath=TUTORIAL_PATH)
    return await server.lkapi.egress.start_room_composite_egress(
        api.RoomCompositeEgressRequest(room_name=room, file_outputs=[output]))


async def test_another_app_starting_at_the_same_instant_leaves_one_recording(
    server: LiveKitServer, room: str, listener: WebhookListener,
) -> None:
    """Both start at once (neither sees the other's egress before starting). The other
    app's recording goes on, the console's is stopped and says so, and no file is
    written over another."""
    recorder = Recorder(server, recording_locks=listener.locks, started=listener.shared.started,
                        poll_interval=0.5)
    stopped: asyncio.Queue[DuplicateStopped] = asyncio.Queue()
    recorder.events.subscribe(DuplicateStopped, stopped.put_nowait)
    try:
        ours, theirs = await asyncio.gather(recorder.start(room), _other_app_starts(server, room))
        event = await asyncio.wait_for(stopped.get(), 60)
        assert (event.stopped_egress_id, event.kept_egress_id) == (ours.egress_id,
                                                                   theirs.egress_id)
        assert event.kept_by == "another app"
        await eventually(lambda: _ended(server, ours.egress_id), True, within=60)
        assert [e.egress_id for e in await _live(server, room)] == [theirs.egress_id]
        # The room says it is recording: the other app's recording is.
        assert await server.recording_status(room) in (RecordingStatus.STARTING,
                                                       RecordingStatus.STARTED)
        await eventually(lambda: _status(server, theirs.egress_id), S.EGRESS_ACTIVE, within=60)
        await server.stop_egress(theirs.egress_id)
        await eventually(lambda: _ended(server, theirs.egress_id), True, within=60)
        await listener.queue.drained()
    finally:
        await recorder.aclose()
    kept = await server.get_egress(theirs.egress_id)
    assert kept is not None
    assert kept.status == S.EGRESS_COMPLETE
    mine = await server.get_egress(ours.egress_id)
    assert mine is not None
    names = {r.name: r for r in await listener.catalog.list_recordings()
             if r.room_name == room}
    kept_name = kept.file_results[0].filename.removeprefix("recordings/")
    assert names[kept_name].id == theirs.egress_id  # its file, its metadata
    if mine.file_results and mine.file_results[0].size:  # ours had begun recording
        own_name = mine.file_results[0].filename.removeprefix("recordings/")
        assert own_name != kept_name
        assert names[own_name].id == ours.egress_id
    else:  # stopped before it recorded: no file, and no metadata for one
        assert set(names) == {kept_name}
    # No manifest beside the console's file; the other app did not ask egress for none.
    assert not any(n.endswith(".json") for n in names)


async def test_stop_then_start_never_shows_stopped_over_the_new_recording(
    server: LiveKitServer, room: str, listener: WebhookListener, egress_stack: StackConfig,
) -> None:
    recorder = Recorder(server, recording_locks=listener.locks, started=listener.shared.started,
                        poll_interval=0.5)
    watcher = rtc.Room()
    seen: list[str] = []
    watcher.on("room_metadata_changed", lambda _old, new: seen.append(
        str(parse_metadata(new).get("recordingStatus"))))
    await watcher.connect(ws_url(egress_stack.livekit_url),
                          mint_token(API_KEY, API_SECRET, room, "watcher", observer=True))
    saved: asyncio.Queue[RecordingSaved] = asyncio.Queue()
    listener.events.subscribe(RecordingSaved, saved.put_nowait)
    try:
        await recorder.start(room)
        await eventually(lambda: server.recording_status(room), RecordingStatus.STARTED,
                         within=60)
        await recorder.stop(room)
        second = await recorder.start(room)  # at once: the first is still ending
        mark = len(seen)
        # The first recording's end reaches the listener while the second starts.
        assert (await asyncio.wait_for(saved.get(), 60)).room == room
        await listener.queue.drained()
        assert await server.recording_status(room) in (RecordingStatus.STARTING,
                                                       RecordingStatus.STARTED)
        await eventually(lambda: server.recording_status(room), RecordingStatus.STARTED,
                         within=60)
        assert "STOPPED" not in seen[mark:], seen
        assert await listener.locks.owner(room) == second.egress_id
        await recorder.stop(room)
        await eventually(lambda: _ended(server, second.egress_id), True, within=60)
        await eventually(lambda: server.recording_status(room), RecordingStatus.STOPPED,
                         within=30)
        assert not await listener.locks.held(room)
    finally:
        await watcher.disconnect()
        await recorder.aclose()


async def test_a_maximum_duration_is_kept_by_a_headless_listener_after_the_window_closed(
    settings: Settings, server: LiveKitServer, room: str, tmp_path: Path,
    egress_stack: StackConfig,
) -> None:
    """The window starts a recording limited to a few seconds and closes. `recconsole
    listen`, started afterwards on the same data folder, stops it when its time is up."""
    data = tmp_path / "data"
    window = Recorder(server, started=SharedState.from_settings(settings, data).started,
                      start_timeout=60)  # a slow egress start is not what this tests
    started = await window.start(room, StartOptions(max_duration=4))
    await window.aclose()  # closed: nothing of the window is left to stop it
    env = {**os.environ, **settings.to_env(), "SERVER_PORT": str(egress_stack.ports.webhook)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "recconsole", "--env-file", str(tmp_path / "none"), "listen",
        "--data-dir", str(data), env=env, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    try:
        began = time.monotonic()
        async with asyncio.timeout(90):
            while b"maximum duration" not in (line := await proc.stderr.readline()):
                assert line, f"listener ended (exit {await proc.wait()})"
        assert started.egress_id.encode() in line
        await eventually(lambda: _ended(server, started.egress_id), True, within=60)
        await eventually(lambda: server.recording_status(room), RecordingStatus.STOPPED,
                         within=30)
    finally:
        proc.terminate()
        await proc.wait()
    assert time.monotonic() - began < 60
    assert await _status(server, started.egress_id) == S.EGRESS_COMPLETE


async def test_with_recording_upload_s3_the_egress_uploads_where_the_console_says(
    egress_stack: StackConfig, server: LiveKitServer, room: str,
) -> None:
    """RECORDING_UPLOAD=s3: the egress gets the console's own S3 block (endpoint, keys,
    bucket) instead of its default storage, so the file lands in the console's bucket."""
    import boto3

    from recconsole.core.recorder import upload_from_settings

    bucket = f"upload-{uuid.uuid4().hex[:8]}"
    s3 = boto3.session.Session().client(
        "s3", endpoint_url=egress_stack.s3_endpoint, aws_access_key_id=MINIO_USER,
        aws_secret_access_key=MINIO_PASSWORD, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    settings = Settings.from_env({**egress_stack.env(), "APP_NAME": TEST_APP, "REDIS_URL": "",
                                  "RECORDING_UPLOAD": "s3", "S3_BUCKET": bucket})
    recorder = Recorder(server, upload=upload_from_settings(settings), poll_interval=0.5)
    try:
        started = await recorder.start(room)
        await eventually(lambda: _status(server, started.egress_id), S.EGRESS_ACTIVE, within=60)
        await recorder.stop(room)
        await eventually(lambda: _ended(server, started.egress_id), True, within=60)
    finally:
        await recorder.aclose()
    ended = await server.get_egress(started.egress_id)
    assert ended is not None
    assert ended.status == S.EGRESS_COMPLETE, ended.error
    key = ended.file_results[0].filename
    head = s3.head_object(Bucket=bucket, Key=key)  # in the console's bucket...
    assert head["ContentLength"] == ended.file_results[0].size > 0
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == [key]  # ...and no manifest beside it
    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)
    s3.close()


async def test_stop_when_everyone_has_left_ends_a_real_recording(
    egress_stack: StackConfig, server: LiveKitServer, listener: WebhookListener,
) -> None:
    """The people leave; once the room has stayed empty for the grace period, the
    listener's limit enforcer stops the recording, and the egress finishes the file."""
    room = unique_room("emptied")
    await server.ensure_room(room)
    bots = await start_bots(egress_stack.livekit_url, API_KEY, API_SECRET, room, 2,
                            BotOptions(width=320, height=180, fps=15))
    recorder = Recorder(server, recording_locks=listener.locks, started=listener.shared.started,
                        poll_interval=0.5)
    reached: asyncio.Queue[LimitReached] = asyncio.Queue()
    listener.events.subscribe(LimitReached, reached.put_nowait)
    try:
        started = await recorder.start(room, StartOptions(stop_when_empty_after=2.0))
        await eventually(lambda: _status(server, started.egress_id), S.EGRESS_ACTIVE, within=60)
        assert reached.empty()  # people are there: it records on
        for bot in bots:
            await make_leave(bot, egress_stack.livekit_url, room)
        event = await asyncio.wait_for(reached.get(), 60)
        assert (event.egress_id, event.why) == (started.egress_id, "everyone left the room")
        await eventually(lambda: _status(server, started.egress_id), S.EGRESS_COMPLETE,
                         within=60)
        await eventually(lambda: server.recording_status(room), RecordingStatus.STOPPED,
                         within=30)
    finally:
        await recorder.aclose()
        await asyncio.gather(*(bot.stop() for bot in bots))
