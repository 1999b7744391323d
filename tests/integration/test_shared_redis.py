"""Several listeners and consoles sharing one Redis: each event applied once, one
recording per room."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import pytest
from livekit import api
from redis.asyncio import Redis

from recconsole.core.errors import AlreadyRecording
from recconsole.core.recorder import Recorder
from recconsole.server.locks import RedisRecordingLocks
from recconsole.settings import Settings
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.egress_stand_in import StandInEgressServer
from tests.helpers.rooms import TEST_APP
from tests.helpers.webhooks import egress_event, post, sign

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

APP = TEST_APP



async def _listen(settings: Settings, port: int, data: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, **settings.to_env(), "SERVER_PORT": str(port)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "recconsole", "--env-file", str(data / "none"), "listen",
        "--data-dir", str(data), env=env, stderr=asyncio.subprocess.PIPE)
    await _lines(proc, [b"recconsole listen: http"])
    return proc


async def _lines(proc: asyncio.subprocess.Process, wanted: list[bytes],
                 count: int = 1) -> list[bytes]:
    """Read the process's log until ``count`` lines containing any of ``wanted``."""
    assert proc.stderr is not None
    found: list[bytes] = []
    async with asyncio.timeout(30):
        while len(found) < count:
            line = await proc.stderr.readline()
            if not line:
                raise AssertionError(f"listener ended (exit {await proc.wait()})")
            if any(w in line for w in wanted):
                found.append(line)
    return found


async def test_two_listeners_apply_each_event_once(
    livekit_server: StackConfig, minio_server: StackConfig, redis_server: StackConfig,
    unused_tcp_port_factory: object, tmp_path: Path, app_room: str,
) -> None:
    room = app_room
    ports = [unused_tcp_port_factory() for _ in range(2)]  # type: ignore[operator]
    settings = Settings.from_env({**livekit_server.env(), "APP_NAME": APP,
                                  "RECORDINGS_PATH": f"shared-{uuid.uuid4().hex[:6]}/",
                                  "REDIS_URL": redis_server.redis_url})
    listeners = [await _listen(settings, port, tmp_path / f"l{i}")
                 for i, port in enumerate(ports)]
    try:
        bodies = [egress_event("egress_updated", room, f"EG_{i}", api.EgressStatus.EGRESS_ACTIVE)
                  for i in range(6)]
        # Every event reaches both listeners at the same time (a retry behind a balancer).
        answers = await asyncio.gather(*(
            post(f"http://127.0.0.1:{port}/livekit/webhook", body, sign(body))
            for body in bodies for port in ports))
        assert {status for status, _ in answers} == {200}
        outcomes = [await _lines(proc, [b"applied egress_updated", b"skipped egress_updated"],
                                 count=len(bodies)) for proc in listeners]
    finally:
        for proc in listeners:
            proc.terminate()
            await proc.wait()
    lines = [line for per_listener in outcomes for line in per_listener]
    assert sum(b": applied egress_updated" in line for line in lines) == len(bodies)
    assert sum(b": skipped egress_updated" in line for line in lines) == len(bodies)


async def test_two_consoles_sharing_redis_start_one_recording_stand_in(
    livekit_server: StackConfig, redis_server: StackConfig, app_room: str,
) -> None:
    room = app_room
    clients = [Redis.from_url(redis_server.redis_url) for _ in range(2)]
    servers = [StandInEgressServer(livekit_server.livekit_url, API_KEY, API_SECRET, app_name=APP)
               for _ in range(2)]
    # Each console has its own egress view; only the shared lock can stop a double start.
    recorders = [Recorder(server, recording_locks=RedisRecordingLocks(client))
                 for server, client in zip(servers, clients, strict=True)]
    try:
        results = await asyncio.gather(*(r.start(room) for r in recorders),
                                       return_exceptions=True)
        assert sum(isinstance(r, api.EgressInfo) for r in results) == 1
        assert sum(isinstance(r, AlreadyRecording) for r in results) == 1
        assert sum(s.starts for s in servers) == 1
        assert await RedisRecordingLocks(clients[0]).held(room)
    finally:
        for recorder in recorders:
            await recorder.aclose()
        for server in servers:
            await server.aclose()
        for client in clients:
            await client.aclose()
