"""``recconsole rooms [--json]`` and ``recconsole rooms close ROOM`` as a real process,
against the real LiveKit server and MinIO."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from livekit import api, rtc

from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recording_info import RecordingInfo
from recconsole.core.recording_status import RecordingStatus
from recconsole.settings import Settings
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.factory import store_from_settings
from recconsole_devtools.bot import BotOptions, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.rooms import TEST_APP, unique_room

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@pytest.fixture
def env(livekit_server: StackConfig, minio_server: StackConfig) -> dict[str, str]:
    """A `recconsole` process's environment: the test LiveKit and MinIO, its own folder."""
    return {**os.environ, **livekit_server.env(), **minio_server.env(), "REDIS_URL": "",
            "APP_NAME": TEST_APP, "RECORDINGS_PATH": f"cli-{uuid.uuid4().hex[:8]}/",
            "PYTHONWARNINGS": "ignore"}


async def _rooms(env: dict[str, str], tmp_path: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "recconsole", "--env-file", str(tmp_path / "no.env"), "rooms",
        *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert "Traceback" not in err.decode(errors="replace"), err.decode(errors="replace")
    return await proc.wait(), out.decode(), err.decode(errors="replace")


async def test_rooms_json_lists_each_room_with_its_recording_and_recordings_stored(
    env: dict[str, str], tmp_path: Path,
) -> None:
    settings = Settings.from_env(env)
    room, bare = unique_room("cli é #1"), unique_room("cli-bare")
    catalog = RecordingsCatalog(store_from_settings(settings), settings.recordings_path)
    async with LiveKitServer(settings.livekit_url, API_KEY, API_SECRET,
                             app_name=TEST_APP) as server:
        await server.ensure_room(room)
        await server.lkapi.room.create_room(api.CreateRoomRequest(name=bare))
        await server.set_recording_status(room, RecordingStatus.FAILED, "the disk was full")
        for i in range(2):
            name = f"{room}-RM_x-{i}.mp4"
            await catalog.store.write_bytes(catalog.recording_key(name), b"\0" * 10, "video/mp4")
            await catalog.save_metadata(RecordingInfo(f"EG_{i}", name, room, "RM_x",
                                                      1_700_000_000_000, 3.0, 10))
        await catalog.store.aclose()

        code, out, _ = await _rooms(env, tmp_path, "--json")
        assert code == 0
        listed = json.loads(out)
        assert listed["egressKnown"] is False  # the test server runs no egress service
        assert "no egress service" in listed["egressNote"]
        assert listed["recordingsError"] is None
        rooms = {r["name"]: r for r in listed["rooms"]}
        ours = rooms[room]
        assert 0 <= ours.pop("ageSeconds") < 60
        assert ours.pop("sid").startswith("RM_")
        assert abs(ours.pop("createdAt") / 1000 - (await server.get_room(room)).creation_time) < 2  # type: ignore[union-attr]
        assert ours == {"name": room, "createdBy": TEST_APP, "participants": 0,
                        "publishers": 0, "recordingStatus": "FAILED",
                        "recordingError": "the disk was full", "egress": None,
                        "disagreement": None, "recordings": 2}
        assert rooms[bare]["createdBy"] is None
        assert rooms[bare]["recordings"] == 0

        code, out, _ = await _rooms(env, tmp_path, "--no-recordings")
        assert code == 0
        header, *lines = out.splitlines()
        assert header.split() == ["Room", "Created", "by", "People", "Publishing", "Age",
                                  "Recording", "Metadata", "Time", "Recordings"]
        line = next(line for line in lines if line.startswith(room))
        assert " unknown " in line
        assert " FAILED " in line
        assert line.rstrip().endswith("?")  # not counted


async def test_rooms_close_disconnects_everyone_and_a_missing_room_is_an_error(
    env: dict[str, str], tmp_path: Path, livekit_server: StackConfig,
) -> None:
    room = unique_room("cli-close")
    (bot,) = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 1,
                              BotOptions(width=64, height=64, fps=5))
    gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    bot.room.on("disconnected", lambda reason: gone.done() or gone.set_result(
        rtc.DisconnectReason.Name(reason)))
    try:
        code, out, _ = await _rooms(env, tmp_path, "close", room)
        assert (code, out) == (0, f"closed room {room!r}\n")
        assert await asyncio.wait_for(gone, 10) == "ROOM_DELETED"
        code, out, _ = await _rooms(env, tmp_path, "--json", "--no-recordings")
        assert room not in {r["name"] for r in json.loads(out)["rooms"]}
        code, out, err = await _rooms(env, tmp_path, "close", room)
        assert code == 1
        assert out == ""
        assert "does not exist" in err
    finally:
        await bot.stop()
