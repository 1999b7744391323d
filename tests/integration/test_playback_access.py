"""What the listener's web server gives, and to whom: PROXY playback credentials, names
that hold any character, storage failures and access keys that stay private, slow
webhook senders.

Every test runs a real ``WebhookListener`` on 127.0.0.1 serving recordings from a real
MinIO. Behaviour meant for a public bind (``--host 0.0.0.0``) is tested on loopback
with the setting that turns it on, ``PLAYBACK_AUTH=required``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol.webhook import WebhookEvent
from yarl import URL

from recconsole.core.redaction import RedactingFilter, install_redaction
from recconsole.server.listener import WebhookListener
from recconsole.server.playback_access import PlaybackAccess, recording_path
from recconsole.settings import Settings
from recconsole.storage.base import StoreError
from recconsole_devtools.devstack import DevStack, StackConfig
from tests.helpers.webhooks import post, sign

TOKEN = "playback-token-" + "7" * 24
NAME = "daily-RM_abc-2026-01-01T000000.mp4"
BODY = os.urandom(3000)

Started = Callable[..., Awaitable[WebhookListener]]


def _settings(env: dict[str, str], **more: str) -> Settings:
    """The stack's settings, recordings under a folder of this test's own, no Redis."""
    return Settings.from_env({
        **env, "RECORDINGS_PATH": f"access-{uuid.uuid4().hex[:8]}/", "REDIS_URL": "",
        "PLAYBACK_TOKEN": TOKEN, **more,
    })


@pytest_asyncio.fixture
async def start(tmp_path: Path, unused_tcp_port: int) -> AsyncIterator[Started]:
    """Starts the listener with these settings (on ``unused_tcp_port``); stops it after."""
    started: list[WebhookListener] = []

    async def _start(settings: Settings, recordings: dict[str, bytes] | None = None,
                     ) -> WebhookListener:
        listener = WebhookListener(settings, host="127.0.0.1", port=unused_tcp_port,
                                   data_dir=tmp_path / f"data{len(started)}",
                                   reconcile_every=None)
        for name, content in (recordings or {}).items():
            await listener.store.write_bytes(listener.catalog.recording_key(name), content,
                                             "video/mp4")
        await listener.start()
        started.append(listener)
        return listener

    yield _start
    for listener in started:
        await listener.stop()


def _base(listener: WebhookListener) -> str:
    return f"http://127.0.0.1:{listener.port}"


async def _get(url: str, headers: dict[str, str] | None = None, method: str = "GET",
               ) -> tuple[int, dict[str, str], bytes]:
    """One request, its URL sent exactly as written (already percent-encoded)."""
    async with aiohttp.ClientSession() as http, http.request(
        method, URL(url, encoded=True), headers=headers or {},
        timeout=aiohttp.ClientTimeout(total=20),
    ) as resp:
        return resp.status, dict(resp.headers), await resp.read()


def _bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _with_query(path: str, link: str) -> str:
    """``path`` with the query of another signed link."""
    return f"{path}?{urlsplit(link).query}"


# --- when a credential is asked for ------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "10.1.2.3", "recorder.example",
                                  "my-laptop"])
def test_auto_asks_for_a_credential_beyond_loopback(host: str) -> None:
    settings = Settings(playback_auth="auto")
    assert PlaybackAccess.for_listener(settings, host).required is True


@pytest.mark.unit
@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_auto_on_loopback_asks_for_none(host: str) -> None:
    settings = Settings(playback_auth="auto")
    assert PlaybackAccess.for_listener(settings, host).required is False


@pytest.mark.unit
@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "0.0.0.0", "::",
                                  "192.0.2.1", "recorder.example"])
def test_required_asks_everywhere_and_off_nowhere(host: str) -> None:
    assert PlaybackAccess.for_listener(Settings(playback_auth="required"), host).required is True
    assert PlaybackAccess.for_listener(Settings(playback_auth="off"), host).required is False


@pytest.mark.unit
def test_off_beyond_loopback_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    PlaybackAccess.for_listener(Settings(playback_auth="off"), "127.0.0.1")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    PlaybackAccess.for_listener(Settings(playback_auth="off"), "0.0.0.0")
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "open to the network" in warning.getMessage()


# --- credentials over real HTTP ------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.asyncio
async def test_without_a_credential_both_routes_answer_401_before_touching_storage(
    minio_server: StackConfig, start: Started, unused_tcp_port_factory: Callable[[], int],
) -> None:
    # Storage that is not there: a route that looked at it would answer 502, not 401.
    nowhere = f"http://127.0.0.1:{unused_tcp_port_factory()}"
    listener = await start(_settings({**minio_server.env(), "S3_ENDPOINT": nowhere},
                                     PLAYBACK_AUTH="required"))
    base = _base(listener)
    for path in (recording_path(NAME), recording_path(NAME) + "/url"):
        for headers in ({}, _bearer("wrong"), _bearer(TOKEN + "x"), _bearer(""),
                        {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}):
            status, _, body = await _get(base + path, headers)
            assert status == 401, (path, headers)
            assert json.loads(body) == {
                "errorMessage": "A signed link or a bearer token is needed"}
        status, _, _ = await _get(base + path, method="HEAD")
        assert status == 401
        # The right token gets past the gate, to the storage that is not there.
        status, _, _ = await _get(base + path, _bearer())
        assert status == 502, path


@pytest.mark.integration
@pytest.mark.asyncio
async def test_a_non_utf8_authorization_header_is_refused_not_an_error(
    minio_server: StackConfig, start: Started,
) -> None:
    listener = await start(_settings(minio_server.env(), PLAYBACK_AUTH="required"),
                           {NAME: BODY})
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    try:
        writer.write(f"GET {recording_path(NAME)} HTTP/1.1\r\nHost: x\r\n".encode()
                     + b"Authorization: Bearer \xed\xa0\x80\xff\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(10):
            answer = await reader.read()
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_the_playback_token_opens_both_routes(
    minio_server: StackConfig, start: Started,
) -> None:
    listener = await start(_settings(minio_server.env(), PLAYBACK_AUTH="required"),
                           {NAME: BODY})
    base = _base(listener)
    status, headers, body = await _get(base + recording_path(NAME), _bearer())
    assert (status, headers["Content-Type"], body) == (200, "video/mp4", BODY)
    status, headers, body = await _get(base + recording_path(NAME),
                                       {**_bearer(), "Range": "bytes=100-199"})
    assert (status, headers["Content-Range"], body) == (206, "bytes 100-199/3000", BODY[100:200])
    # S3 strategy: a presigned URL straight to MinIO, which needs no credential of ours.
    status, _, body = await _get(base + recording_path(NAME) + "/url", _bearer())
    assert status == 200
    presigned = json.loads(body)["recordingUrl"]
    assert presigned.startswith(minio_server.s3_endpoint)
    assert (await _get(presigned))[::2] == (200, BODY)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_a_signed_link_opens_its_recording_and_nothing_else(
    minio_server: StackConfig, start: Started,
) -> None:
    other = "other-RM_abc-2026-01-01T000000.mp4"
    settings = _settings(minio_server.env(), PLAYBACK_AUTH="required")
    listener = await start(settings, {NAME: BODY, other: b"other"})
    base = _base(listener)
    link = listener.access.link(NAME, 60)
    assert re.fullmatch(re.escape(recording_path(NAME)) + r"\?expires=\d+&sig=[\w-]+", link)
    assert (await _get(base + link))[::2] == (200, BODY)
    assert (await _get(base + link, {"Range": "bytes=0-9"}))[::2] == (206, BODY[:10])

    # Any listener with the same LiveKit API secret accepts it (and mints the same).
    same_secret = PlaybackAccess(settings.livekit_api_secret.value, required=True)
    assert (await _get(base + same_secret.link(NAME, 60)))[0] == 200

    sig = parse_qs(urlsplit(link).query)["sig"][0]
    expires = parse_qs(urlsplit(link).query)["expires"][0]
    tampered = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    another_secret = PlaybackAccess("another-api-secret-of-32-characters", required=True)
    refused = {
        "expired": listener.access.link(NAME, 60, now=time.time() - 120),
        "tampered signature": link.replace(sig, tampered),
        "expiry moved": link.replace(f"expires={expires}", f"expires={int(expires) + 3600}"),
        "minted for another name": _with_query(recording_path(NAME),
                                               listener.access.link(other, 60)),
        "minted with another API secret": another_secret.link(NAME, 60),
        "no signature": recording_path(NAME) + f"?expires={expires}",
        "no expiry": recording_path(NAME) + f"?sig={sig}",
        "expiry not ASCII digits": recording_path(NAME) + f"?expires=%C2%B2&sig={sig}",
        "expiry of 5000 digits": recording_path(NAME) + f"?expires={'9' * 5000}&sig={sig}",
    }
    for why, path in refused.items():
        status, _, body = await _get(base + path)
        assert status == 401, why
        assert BODY not in body
    # A link to one recording is no key to its neighbour.
    assert (await _get(base + _with_query(recording_path(other), link)))[0] == 401


@pytest.mark.integration
@pytest.mark.asyncio
async def test_with_proxy_the_url_route_answers_a_signed_link_that_needs_no_bearer(
    minio_server: StackConfig, start: Started,
) -> None:
    name = "café #1?&-RM_abc-2026-01-01T000000.mp4"
    listener = await start(_settings(minio_server.env(), PLAYBACK_AUTH="required",
                                     RECORDING_PLAYBACK_STRATEGY="PROXY",
                                     RECORDING_URL_EXPIRY="900"),
                           {name: BODY})
    base = _base(listener)
    assert (await _get(base + recording_path(name) + "/url"))[0] == 401
    before = time.time()
    status, _, body = await _get(base + recording_path(name) + "/url", _bearer())
    assert status == 200
    link = json.loads(body)["recordingUrl"]
    parts = urlsplit(link)
    assert parts.path == "/recordings/" + quote(name, safe="")
    assert (parts.scheme, parts.netloc) == ("", "")  # relative: the player's own server
    expires = int(parse_qs(parts.query)["expires"][0])
    assert before + 900 - 1 <= expires <= time.time() + 900
    status, headers, content = await _get(base + link)  # no bearer
    assert (status, headers["Content-Type"], content) == (200, "video/mp4", BODY)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_webhooks_still_arrive_when_playback_wants_a_credential(
    livekit_server: StackConfig, minio_server: StackConfig, start: Started,
) -> None:
    listener = await start(_settings(livekit_server.env(), PLAYBACK_AUTH="required"))
    room = f"auth-{uuid.uuid4().hex[:8]}"
    event = WebhookEvent(event="room_finished", room=api.Room(name=room, sid="RM_auth"),
                         id=f"EV_{uuid.uuid4().hex[:12]}", created_at=int(time.time()))
    body = MessageToJson(event).encode()
    assert await post(listener.url, body) == (401, "invalid signature")
    assert await post(listener.url, body, sign(body)) == (200, "ok")
    await listener.queue.drained()
    status = await listener.status(room)
    assert (status.pending, status.done, status.dead) == (0, 1, 0)


# --- names ----------------------------------------------------------------------------------

ODD_NAMES = [
    "a/b-RM_x-2026-01-01T000000.mp4",  # the room "a/b" records into a subfolder
    "hash#1-RM_x-2026-01-01T000000.mp4",
    "what?-RM_x-2026-01-01T000000.mp4",
    "tom&jerry-RM_x-2026-01-01T000000.mp4",
    "100%-RM_x-2026-01-01T000000.mp4",
    "already%2Fencoded%20-RM_x-2026-01-01T000000.mp4",
    "two words-RM_x-2026-01-01T000000.mp4",
    "réunion été-RM_x-2026-01-01T000000.mp4",
    "会议室-RM_x-2026-01-01T000000.mp4",
    "x/y #?&% é 会-RM_x-2026-01-01T000000.mp4",
]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_names_with_any_character_are_served_by_their_encoded_path(
    minio_server: StackConfig, start: Started,
) -> None:
    recordings = {name: name.encode() + os.urandom(64) for name in ODD_NAMES}
    listener = await start(_settings(minio_server.env(),
                                     RECORDING_PLAYBACK_STRATEGY="PROXY"), recordings)
    base = _base(listener)
    for name, content in recordings.items():
        status, headers, body = await _get(base + recording_path(name))
        assert (status, headers["Content-Type"], body) == (200, "video/mp4", content), name
        status, _, body = await _get(base + recording_path(name) + "/url")
        assert status == 200, name
        url = json.loads(body)["recordingUrl"]
        assert url == "/recordings/" + quote(name, safe=""), name
        assert (await _get(base + url))[::2] == (200, content), name


@pytest.mark.integration
@pytest.mark.asyncio
async def test_presigned_urls_of_odd_names_open_in_storage(
    minio_server: StackConfig, start: Started,
) -> None:
    recordings = {name: os.urandom(64) for name in ODD_NAMES}
    listener = await start(_settings(minio_server.env()), recordings)
    for name, content in recordings.items():
        status, _, body = await _get(_base(listener) + recording_path(name) + "/url")
        assert status == 200, name
        assert (await _get(json.loads(body)["recordingUrl"]))[::2] == (200, content), name


@pytest.mark.integration
@pytest.mark.asyncio
async def test_manifests_and_metadata_files_are_refused_never_served_as_video(
    minio_server: StackConfig, start: Started,
) -> None:
    listener = await start(_settings(minio_server.env()), {NAME: BODY})
    catalog = listener.catalog
    manifest_key = catalog.manifest_key(NAME)  # what an egress may write beside the file
    await listener.store.write_bytes(manifest_key, b'{"egress": "manifest"}', "application/json")
    await listener.store.write_bytes(catalog.metadata_key(NAME), b'{"id": "EG_1"}',
                                     "application/json")
    base = _base(listener)
    for name in (manifest_key.removeprefix(catalog.recordings_path),
                 catalog.metadata_key(NAME).removeprefix(catalog.recordings_path),
                 ".metadata/" + NAME):
        for path in (recording_path(name), recording_path(name) + "/url"):
            status, headers, body = await _get(base + path)
            assert status == 400, path
            assert headers["Content-Type"].startswith("application/json")
            assert json.loads(body) == {"errorMessage": "Invalid recording name"}


# --- failures --------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.asyncio
async def test_storage_down_answers_502_without_naming_the_storage(
    private_minio: DevStack, start: Started,
) -> None:
    cfg = private_minio.cfg
    listener = await start(_settings(cfg.env()), {NAME: BODY})
    base = _base(listener)
    assert (await _get(base + recording_path(NAME)))[::2] == (200, BODY)
    private_minio.stop("minio")
    where = urlsplit(cfg.s3_endpoint).netloc
    for path in (recording_path(NAME), recording_path(NAME) + "/url"):
        status, _, body = await _get(base + path)
        assert status == 502, path
        text = body.decode()
        assert json.loads(text) == {"errorMessage": "Recording storage unavailable"}
        for secret in (where, str(cfg.ports.minio), "127.0.0.1", "http", "bucket"):
            assert secret not in text


@pytest.mark.integration
@pytest.mark.asyncio
async def test_verbose_logs_never_show_the_storage_access_key(
    minio_server: StackConfig, start: Started, caplog: pytest.LogCaptureFixture,
) -> None:
    """``-v`` logs botocore's requests, Authorization header included: its
    ``Credential=<access key>/...`` is masked. The key is made up (MinIO refuses it),
    so the test can look for that exact string."""
    access_key = "AKIARECCONSOLE7ZQXW3"
    install_redaction()
    assert any(isinstance(f, RedactingFilter) for f in caplog.handler.filters)
    caplog.set_level(logging.DEBUG)
    listener = await start(_settings(minio_server.env(), S3_ACCESS_KEY=access_key))
    status, _, body = await _get(_base(listener) + recording_path(NAME))  # a boto3 HEAD
    assert status == 502
    assert access_key.encode() not in body
    store = listener.store
    with pytest.raises(StoreError, match="credentials rejected"):
        await store.write_bytes(listener.catalog.recording_key(NAME), b"x")  # a boto3 PUT
    with pytest.raises(StoreError, match="credentials rejected"):
        await store.list_page(listener.catalog.recordings_path)  # a signed aiohttp GET
    lines = [caplog.handler.format(record) for record in caplog.records]
    assert any("Credential=<redacted>" in line for line in lines)  # the header was logged
    assert [line for line in lines if access_key in line] == []
    assert access_key not in caplog.text


@pytest.mark.integration
@pytest.mark.asyncio
async def test_a_webhook_body_slower_than_the_timeout_gets_408_and_the_socket_back(
    minio_server: StackConfig, start: Started, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("recconsole.server.webhooks.BODY_TIMEOUT", 0.5)
    listener = await start(_settings(minio_server.env()))
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    try:
        writer.write(b"POST /livekit/webhook HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/webhook+json\r\nContent-Length: 1000\r\n\r\n"
                     b"0123456789")  # then nothing more
        await writer.drain()
        async with asyncio.timeout(5):
            status_line = await reader.readline()
        assert status_line.startswith(b"HTTP/1.1 408 "), status_line
        # The socket is given back within the listener's lingering time (1 s), not the
        # 10 s aiohttp would read on by default.
        async with asyncio.timeout(4):
            rest = await reader.read()
        assert rest.endswith(b"request body too slow")
        assert reader.at_eof()
    finally:
        writer.close()
    assert (await listener.status()).pending == 0
