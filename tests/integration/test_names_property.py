"""Any room name, through everything: webhook → durable queue → metadata file →
listing → PROXY playback, against the real listener, MinIO and LiveKit server.

Property-based (hypothesis): arbitrary Unicode room names (any script, controls,
``/``, ``..``, ``%``, ``#``, ``?``...). For each, an egress_ended is posted (signed)
and then an egress_started of the same room. Whatever the name: nothing stays
pending, the room's next event is applied, and a refused name is dead-lettered at
once for a reason that can never change (never retried); a name kept is listed
under its room and served by PROXY byte for byte. At the end no key of the bucket
lies outside RECORDINGS_PATH.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import boto3
import pytest
from google.protobuf.json_format import MessageToJson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from livekit import api
from livekit.protocol.webhook import WebhookEvent
from yarl import URL

from recconsole.core.recording_info import RecordingNameError, validate_recording_name
from recconsole.server.listener import WebhookListener
from recconsole.settings import Settings
from recconsole_devtools.devstack import MINIO_PASSWORD, MINIO_USER, StackConfig
from tests.helpers.webhooks import sign

pytestmark = pytest.mark.integration

T = TypeVar("T")
APP = "recconsole-names"
PREFIX = "recordings/"
_tags = itertools.count(0x100000)


class Served:
    """A real listener on its own loop thread, so hypothesis can drive it synchronously."""

    def __init__(self, settings: Settings, data: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.listener = WebhookListener(settings, data_dir=data, reconcile_every=None)
        self.base = f"http://127.0.0.1:{settings.server_port}"
        self.call(self.listener.start())

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def close(self) -> None:
        self.call(self.listener.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def bucket(minio_server: StackConfig) -> Iterator[str]:
    """A bucket of this test's own, so every key in it can be checked at the end."""
    name = f"names-{uuid.uuid4().hex[:8]}"
    s3 = boto3.session.Session().client(
        "s3", endpoint_url=minio_server.s3_endpoint, aws_access_key_id=MINIO_USER,
        aws_secret_access_key=MINIO_PASSWORD, region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    yield name
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name)
            for o in page.get("Contents", [])]
    for key in keys:
        s3.delete_object(Bucket=name, Key=key)
    s3.delete_bucket(Bucket=name)
    s3.close()


@pytest.fixture(scope="module")
def served(
    livekit_server: StackConfig, minio_server: StackConfig, bucket: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings.from_env({
        **livekit_server.env(), "S3_ENDPOINT": minio_server.s3_endpoint, "S3_BUCKET": bucket,
        "APP_NAME": APP, "RECORDINGS_PATH": PREFIX, "SERVER_PORT": str(port), "REDIS_URL": "",
        "RECORDING_PLAYBACK_STRATEGY": "PROXY"})
    server = Served(settings, tmp_path_factory.mktemp("names"))
    yield server
    server.close()


def _event(kind: str, room: str, egress_id: str, status: int, file: str = "") -> bytes:
    """An egress webhook of a room this app created (its metadata rides along)."""
    info = api.EgressInfo(egress_id=egress_id, room_name=room, room_id="RM_prop",
                          status=status, started_at=1_700_000_000_000_000_000,
                          updated_at=time.time_ns())
    if file:
        info.file_results.add(filename=file, duration=2_000_000_000, size=3)
    event = WebhookEvent(event=kind, egress_info=info, id=f"EV_{uuid.uuid4().hex}",
                         room=api.Room(name=room, metadata=json.dumps({"createdBy": APP})))
    return MessageToJson(event).encode()


async def _post(url: str, body: bytes) -> int:
    async with aiohttp.ClientSession() as http, http.post(
        url, data=body, headers={"Authorization": sign(body)},
        timeout=aiohttp.ClientTimeout(total=10),
    ) as resp:
        return resp.status


async def _get(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(
        URL(url, encoded=True), timeout=aiohttp.ClientTimeout(total=10)) as resp:
        return resp.status, await resp.read()


async def _one_room(served: Served, room: str) -> None:
    listener = served.listener
    hook = f"{served.base}/livekit/webhook"
    name = f"{room}-RM_prop-2026-12-03T101010-{next(_tags):06x}.mp4"
    ended = _event("egress_ended", room, f"EG_{uuid.uuid4().hex[:8]}",
                   api.EgressStatus.EGRESS_COMPLETE, PREFIX + name)
    started = _event("egress_started", room, f"EG_{uuid.uuid4().hex[:8]}",
                     api.EgressStatus.EGRESS_STARTING)
    dead_before = {d.id for d in await listener.queue.dead_letters()}
    assert await _post(hook, ended) == 200
    assert await _post(hook, started) == 200
    async with asyncio.timeout(30):  # nothing blocks: both are applied or given up on
        await listener.queue.drained()
    status = await listener.status(room)
    assert status.pending == 0
    assert status.done >= 1  # the room's later event went on, whatever became of the first
    dead = [d for d in await listener.queue.dead_letters() if d.id not in dead_before]
    for letter in dead:  # refused for good, at once: never a transient failure given up on
        assert letter.attempts == 1, letter
        assert letter.kind == "egress_ended"
    try:
        validate_recording_name(name)
    except RecordingNameError:
        assert len(dead) == 1
        assert "not a valid recording name" in dead[0].error
        return
    if dead:  # the store cannot hold this key (MinIO: a part over 255 bytes)
        assert "cannot hold the key" in dead[0].error
        return
    catalog = listener.catalog
    stored = json.loads(await listener.store.read_bytes(catalog.metadata_key(name)))
    assert (stored["name"], stored["roomName"]) == (name, room)
    await listener.store.write_bytes(catalog.recording_key(name), b"mp4", "video/mp4")
    rows = {r.name: r for r in await catalog.list_recordings()}
    assert rows[name].room_name == room
    path = f"/recordings/{quote(name, safe='')}"
    assert await _get(served.base + path) == (200, b"mp4")
    status_code, body = await _get(served.base + path + "/url")
    assert status_code == 200
    link = json.loads(body)["recordingUrl"]
    assert await _get(served.base + link) == (200, b"mp4")


room_names = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
    st.lists(st.sampled_from(["..", ".", "/", "a", "é", "会", "#", "&", "?", "%", "%2F", " ",
                              "\\", "\n", "+", "~", "\u202e", "\ufffe", "RM_x", "-"]),
             min_size=1, max_size=8).map("".join),
)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(room=room_names)
@example(room="reunión")
@example(room="../../outside")
@example(room="team/alpha")
@example(room="/absolute")
@example(room="a" * 250)
@example(room="ü" * 130)  # a 260-byte part: MinIO keeps objects as files
def test_any_room_name_goes_through_without_blocking_or_escaping(
    served: Served, room: str
) -> None:
    served.call(_one_room(served, room))


def test_no_key_of_the_bucket_lies_outside_the_recordings_path(
    served: Served, bucket: str, minio_server: StackConfig
) -> None:
    """Runs after the property above (same module): everything written stayed inside."""
    s3 = boto3.session.Session().client(
        "s3", endpoint_url=minio_server.s3_endpoint, aws_access_key_id=MINIO_USER,
        aws_secret_access_key=MINIO_PASSWORD, region_name="us-east-1")
    try:
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for o in page.get("Contents", [])]
    finally:
        s3.close()
    assert keys  # the property wrote metadata and files
    outside = [k for k in keys if not k.startswith(PREFIX)]
    assert outside == []
