"""Nothing is lost: storage down during a burst, and a listener killed after answering."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest
from livekit import api

from recconsole.server.listener import WebhookListener
from recconsole.settings import Settings
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.s3 import S3Store
from recconsole_devtools.devstack import DevStack, StackConfig, http_status
from tests.helpers.rooms import TEST_APP
from tests.helpers.webhooks import egress_event, post, sign

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

APP = TEST_APP


def _settings(livekit: StackConfig, minio: StackConfig, port: int, prefix: str) -> Settings:
    return Settings.from_env({
        **livekit.env(), "S3_ENDPOINT": minio.s3_endpoint, "APP_NAME": APP,
        "RECORDINGS_PATH": prefix, "SERVER_PORT": str(port), "REDIS_URL": "",
    })



async def _metadata_names(settings: Settings) -> set[str]:
    store = S3Store.from_settings(settings)
    try:
        catalog = RecordingsCatalog(store, settings.recordings_path)
        return {r.name for r in await catalog.list_recordings() if r.id.startswith("EG_")}
    finally:
        await store.aclose()


async def _seed_files(settings: Settings, names: list[str]) -> None:
    store = S3Store.from_settings(settings)
    try:
        catalog = RecordingsCatalog(store, settings.recordings_path)
        await asyncio.gather(*(store.write_bytes(catalog.recording_key(n), b"mp4") for n in names))
    finally:
        await store.aclose()


async def test_storage_down_during_a_burst_loses_nothing(
    livekit_server: StackConfig, private_minio: DevStack, unused_tcp_port: int, tmp_path: Path,
    app_room: str,
) -> None:
    room = app_room
    settings = _settings(livekit_server, private_minio.cfg, unused_tcp_port,
                         f"burst-{uuid.uuid4().hex[:6]}/")
    names = [f"{room}-RM_test-{i:04d}.mp4" for i in range(40)]
    await _seed_files(settings, names)
    listener = WebhookListener(settings, data_dir=tmp_path, reconcile_every=None)
    await listener.start()
    try:
        private_minio.stop("minio")
        bodies = [egress_event("egress_ended", room, f"EG_{i}", api.EgressStatus.EGRESS_COMPLETE,
                               file_name=n) for i, n in enumerate(names)]
        answers = await asyncio.gather(*(post(listener.url, b, sign(b)) for b in bodies))
        assert {status for status, _ in answers} == {200}
        status = await listener.status(room)
        assert status.pending == 40  # acknowledged, kept, not applied
        private_minio.start("minio")
        await listener.queue.drained()
    finally:
        await listener.stop()
    assert await _metadata_names(settings) == set(names)


async def test_listener_killed_after_answering_applies_on_restart(
    livekit_server: StackConfig, private_minio: DevStack, unused_tcp_port: int, tmp_path: Path,
    app_room: str,
) -> None:
    room = app_room
    settings = _settings(livekit_server, private_minio.cfg, unused_tcp_port,
                         f"kill-{uuid.uuid4().hex[:6]}/")
    name = f"{room}-RM_test-0001.mp4"
    await _seed_files(settings, [name])
    private_minio.stop("minio")  # so the effect cannot be applied before the kill
    env = {**os.environ, **settings.to_env()}
    command = [sys.executable, "-m", "recconsole", "--env-file", str(tmp_path / "none"),
               "listen", "--data-dir", str(tmp_path / "data")]

    first = await _start_listener(command, env)
    url = f"http://127.0.0.1:{unused_tcp_port}/livekit/webhook"
    body = egress_event("egress_ended", room, "EG_killed", api.EgressStatus.EGRESS_COMPLETE,
                        file_name=name)
    assert (await post(url, body, sign(body)))[0] == 200
    first.kill()  # SIGKILL: no chance to finish anything
    await first.wait()
    private_minio.start("minio")
    assert await _metadata_names(settings) == set()

    second = await _start_listener(command, env)
    try:
        await _line(second, b"applied egress_ended")
    finally:
        second.send_signal(signal.SIGTERM)
        assert await second.wait() == 0
    assert await _metadata_names(settings) == {name}
    status = await asyncio.create_subprocess_exec(*command, "--status", env=env,
                                                  stdout=asyncio.subprocess.PIPE)
    out, _ = await status.communicate()
    assert out.decode().startswith("pending 0, retrying 0, done 1")
    assert http_status(url.replace("/livekit/webhook", "/")) is None  # it really stopped


async def _start_listener(command: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(*command, env=env,
                                                stderr=asyncio.subprocess.PIPE)
    await _line(proc, b"recconsole listen: http")
    return proc


async def _line(proc: asyncio.subprocess.Process, text: bytes) -> bytes:
    """Read the process's log until a line containing ``text``."""
    assert proc.stderr is not None
    async with asyncio.timeout(30):
        while line := await proc.stderr.readline():
            if text in line:
                return line
    raise AssertionError(f"the listener ended (exit {await proc.wait()}) without {text!r}")
