"""``recconsole record start ROOM --local`` and ``recconsole record stop ROOM`` as real
processes, against the real LiveKit server (no egress service), bots and MinIO."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from livekit import rtc

from recconsole.core.errors import AlreadyRecording
from recconsole.core.livekit_server import LiveKitServer, parse_metadata, ws_url
from recconsole.core.recorder import Recorder
from recconsole.core.tokens import mint_token
from recconsole.settings import Settings
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.factory import store_from_settings
from recconsole_devtools.bot import BotOptions, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.sound import PITCH_HZ
from tests.helpers.waiting import eventually
from tests.integration.test_local_recording import read_content

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
TONE_HZ = 830.0


@pytest.fixture
def env(livekit_server: StackConfig, minio_server: StackConfig, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, **livekit_server.env(), **minio_server.env(), "REDIS_URL": "",
            "APP_NAME": TEST_APP, "RECORDINGS_PATH": f"cli-{uuid.uuid4().hex[:8]}/",
            "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONWARNINGS": "ignore"}


@pytest_asyncio.fixture
async def room(livekit_server: StackConfig) -> AsyncIterator[tuple[str, list[str]]]:
    """A room with two bots, and the recording statuses a watcher sees in it."""
    name = unique_room("cli-local")
    bots = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, name, 2,
                            BotOptions(width=320, height=180, fps=15, tone_hz=TONE_HZ))
    watcher, statuses = rtc.Room(), []
    watcher.on("room_metadata_changed", lambda _old, new: statuses.append(
        str(parse_metadata(new).get("recordingStatus"))))
    await watcher.connect(ws_url(livekit_server.livekit_url),
                          mint_token(API_KEY, API_SECRET, name, "watcher", observer=True))
    yield name, statuses
    await watcher.disconnect()
    await asyncio.gather(*(bot.stop() for bot in bots))


async def _recconsole(
    env: dict[str, str], tmp_path: Path, *args: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "recconsole", "--env-file", str(tmp_path / "no.env"), *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def _finish(proc: asyncio.subprocess.Process) -> tuple[int, str, str]:
    async with asyncio.timeout(90):
        out, err = await proc.communicate()
    text = err.decode(errors="replace")
    assert "Traceback" not in text, text
    return await proc.wait(), out.decode(), text


async def _recording_started(proc: asyncio.subprocess.Process) -> str:
    assert proc.stderr is not None
    async with asyncio.timeout(60):
        while b"on this computer (LOCAL_" not in (line := await proc.stderr.readline()):
            assert line, "the recorder ended before recording"
    return line.decode()


async def _check_stored(
    env: dict[str, str], key: str, room: str, at_least: float
) -> tuple[int, int]:
    """Check the stored recording and its metadata; the picture's size."""
    settings = Settings.from_env(env)
    catalog = RecordingsCatalog(store_from_settings(settings), settings.recordings_path)
    try:
        name = key.removeprefix(settings.recordings_path)
        info = await catalog.get(name)
        assert info.room_name == room
        assert info.id.startswith("LOCAL_")
        assert info.extra == {"recordedBy": "console"}
        assert info.duration >= at_least
        content = read_content(await catalog.store.read_bytes(key))
        assert content.pitch == pytest.approx(TONE_HZ, abs=PITCH_HZ)
        assert content.change > 1.0
        return content.size
    finally:
        await catalog.store.aclose()


async def test_record_start_local_records_for_its_duration_and_uploads(
    env: dict[str, str], tmp_path: Path, room: tuple[str, list[str]],
) -> None:
    name, statuses = room
    code, out, err = await _finish(
        await _recconsole(env, tmp_path, "record", "start", name, "--local", "--duration", "4",
                          "--width", "640", "--height", "360", "--fps", "25"))
    assert code == 0, err
    assert "stopping: 4 s recorded" in err
    key = out.strip()
    assert key.startswith(env["RECORDINGS_PATH"] + name)
    size = await _check_stored(env, key, name, at_least=3.5)
    assert size == (640, 360)
    await eventually(lambda: statuses, ["STARTING", "STARTED", "STOPPING", "STOPPED"])


async def test_record_start_local_each_participant_uploads_their_own_files_too(
    env: dict[str, str], tmp_path: Path, room: tuple[str, list[str]],
) -> None:
    name, _statuses = room
    code, out, err = await _finish(
        await _recconsole(env, tmp_path, "record", "start", name, "--local",
                          "--each-participant", "--duration", "4", "--width", "640",
                          "--height", "360"))
    assert code == 0, err
    key = out.strip()
    await _check_stored(env, key, name, at_least=3.5)  # the room's grid, as without
    settings = Settings.from_env(env)
    catalog = RecordingsCatalog(store_from_settings(settings), settings.recordings_path)
    try:
        info = await catalog.get(key.removeprefix(settings.recordings_path))
        own = [r for r in await catalog.list_recordings(info.room_id)
               if r.extra.get("kind") == "participant"]
        assert sorted(r.extra["participant"] for r in own) == ["bot-1", "bot-2"]
        assert len({r.extra["session"] for r in own}) == 1
        assert all(r.extra["recordedBy"] == "console" and r.duration > 2.5 for r in own)
        assert f"recording {own[0].name} uploaded" in err
    finally:
        await catalog.store.aclose()


async def test_record_stop_from_elsewhere_stops_the_hidden_recorder(
    env: dict[str, str], tmp_path: Path, room: tuple[str, list[str]],
) -> None:
    name, statuses = room
    recording = await _recconsole(env, tmp_path, "record", "start", name, "--local")
    await _recording_started(recording)
    # Hidden, yet the room is known to be recorded: nothing else starts on it.
    async with LiveKitServer(env["LIVEKIT_URL"], API_KEY, API_SECRET,
                             app_name=TEST_APP) as server:
        recorder = Recorder(server)
        with pytest.raises(AlreadyRecording):
            await recorder.start(name)
        participants = await server.list_participants(name)
        assert all(not p.identity.startswith("recorder-") or p.permission.hidden
                   for p in participants)
    await asyncio.sleep(2)
    code, _out, err = await _finish(await _recconsole(env, tmp_path, "record", "stop", name))
    assert code == 0, err
    assert "the recording is STOPPED" in err
    code, out, err = await _finish(recording)
    assert code == 0, err
    assert "asked to stop" in err
    await _check_stored(env, out.strip(), name, at_least=1.5)
    assert statuses[-4:] == ["STARTING", "STARTED", "STOPPING", "STOPPED"]


async def test_ctrl_c_stops_the_recorder_cleanly_and_uploads(
    env: dict[str, str], tmp_path: Path, room: tuple[str, list[str]],
) -> None:
    name, _statuses = room
    recording = await _recconsole(env, tmp_path, "record", "start", name, "--local")
    await _recording_started(recording)
    await asyncio.sleep(2.5)
    recording.send_signal(signal.SIGINT)
    code, out, err = await _finish(recording)
    assert code == 0, err
    assert "stopping: interrupted" in err
    await _check_stored(env, out.strip(), name, at_least=2.0)


async def test_egress_only_options_are_refused_with_local(
    env: dict[str, str], tmp_path: Path,
) -> None:
    code, _out, err = await _finish(await _recconsole(
        env, tmp_path, "record", "start", "some-room", "--local", "--layout", "speaker"))
    assert code == 2
    assert "--layout apply to egress recordings only" in err
