"""``recconsole recordings list|delete|url`` as real processes, against real MinIO and
Azurite (recordings written in the tutorial's layout: files under RECORDINGS_PATH,
metadata under ``.metadata/``, HLS playlists with their segments folder), the real
LiveKit server (deletions ask it whether the file is still being recorded), and a real
``recconsole listen`` for PROXY links. Every URL printed is fetched."""

from __future__ import annotations

import asyncio
import calendar
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from recconsole.core.recording_info import RecordingInfo, segments_folder
from recconsole.settings import Settings
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.factory import store_from_settings
from recconsole_devtools.devstack import DevStack, StackConfig
from tests.helpers.rooms import TEST_APP, unique_room

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

Backend = tuple[dict[str, str], RecordingsCatalog]


def _env(stack: StackConfig, **more: str) -> dict[str, str]:
    return {**os.environ, **stack.env(), "REDIS_URL": "", "APP_NAME": TEST_APP,
            "RECORDINGS_PATH": f"cli-{uuid.uuid4().hex[:8]}/", "PYTHONWARNINGS": "ignore",
            **more}


async def _keys(catalog: RecordingsCatalog) -> set[str]:
    """Every object under RECORDINGS_PATH, metadata and segments included."""
    return {o.key async for page in catalog.store.list_pages(catalog.recordings_path)
            for o in page}


async def _cleanup(catalog: RecordingsCatalog) -> None:
    for key in await _keys(catalog):
        await catalog.store.delete(key)
    await catalog.store.aclose()


@pytest_asyncio.fixture(params=["s3", "azure"])
async def backend(request: pytest.FixtureRequest, livekit_server: StackConfig,
                  minio_server: StackConfig) -> AsyncIterator[Backend]:
    """The CLI's environment and a catalog of the same store, MinIO or Azurite."""
    if request.param == "azure":
        request.getfixturevalue("azurite_server")
    env = _env(livekit_server, RECORDINGS_STORAGE=request.param)
    settings = Settings.from_env(env)
    catalog = RecordingsCatalog(store_from_settings(settings), settings.recordings_path)
    yield env, catalog
    await _cleanup(catalog)


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "recconsole", "--env-file", os.devnull, "recordings", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(90):
        out, err = await proc.communicate()
    text = err.decode(errors="replace")
    assert "Traceback" not in text, text
    return await proc.wait(), out.decode(), text


async def _get(url: str, **headers: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(
            URL(url, encoded=True), headers=headers,
            timeout=aiohttp.ClientTimeout(total=15)) as resp:
        return resp.status, await resp.read()


async def _recording(catalog: RecordingsCatalog, name: str, body: bytes,
                     info: RecordingInfo | None = None) -> None:
    await catalog.store.write_bytes(catalog.recording_key(name), body, "video/mp4")
    if info is not None:
        await catalog.save_metadata(info)


async def _hls(catalog: RecordingsCatalog, name: str, room: str) -> list[bytes]:
    """A playlist and its two segments in the folder beside it, as egress writes them."""
    folder = segments_folder(name)
    relative = folder.rsplit("/", 2)[-2]  # the segments folder, from the playlist's folder
    bodies = [b"segment zero " * 10, b"segment one " * 10]
    playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n" + "".join(
        f"#EXTINF:2.0,\n{relative}/segment_{i:05d}.ts\n" for i in range(2)) + "#EXT-X-ENDLIST\n"
    await catalog.store.write_bytes(catalog.recording_key(name), playlist.encode(),
                                    "application/vnd.apple.mpegurl")
    for i, body in enumerate(bodies):
        await catalog.store.write_bytes(f"{catalog.recordings_path}{folder}segment_{i:05d}.ts",
                                        body, "video/mp2t")
    await catalog.save_metadata(RecordingInfo("EG_hls", name, room, "RM_a1",
                                              1_718_273_413_000, 4.0, 400,
                                              extra={"options": {"output": "hls"}}))
    return bodies


async def test_list_url_and_delete_in_the_tutorial_layout(backend: Backend) -> None:
    env, catalog = backend
    room = unique_room("cli é 🎉 #1 & 50%")
    mp4 = f"{room}-RM_a1-2024-06-13T101010-3fa9c1.mp4"
    ogg = f"{room}-RM_a1-2024-06-13T101011-123456abcdef.ogg"
    bare = f"{room}-RM_a1-2024-06-13T101012-aaaaaa.mp4"
    hls = f"{room}-RM_a1-2024-06-13T101013-bbbbbb.m3u8"
    sub = f"team/{room}-RM_a2-2024-06-13T101014-cccccc.mp4"
    other = unique_room("other room") + "-RM_b1-2024-06-13T101015-dddddd.mp4"
    body = os.urandom(70_000)
    await _recording(catalog, mp4, body, RecordingInfo("EG_mp4", mp4, room, "RM_a1",
                                                       1_718_273_410_000, 61.5, len(body)))
    # An egress manifest beside the file: it goes with the recording.
    await catalog.store.write_bytes(catalog.manifest_key(mp4), b"{}", "application/json")
    await _recording(catalog, ogg, b"ogg", RecordingInfo(
        "EG_ogg", ogg, room, "RM_a1", 1_718_273_411_000, 3.0, 3,
        extra={"kind": "participant", "participant": "zoë", "session": "RM_a1-123456",
               "options": {"content": "audio", "output": "ogg"}}))
    await _recording(catalog, bare, b"bare")  # egress ended while no listener ran
    await _hls(catalog, hls, room)
    await _recording(catalog, sub, b"sub", RecordingInfo("EG_sub", sub, f"team/{room}",
                                                         "RM_a2", 1_718_273_414_000, 1.0, 3))
    await _recording(catalog, other, b"other", RecordingInfo(
        "EG_other", other, other.split("-RM_")[0], "RM_b1", 1_718_273_415_000, 1.0, 5))

    code, out, err = await _cli(env, "list", "--json")
    assert (code, err) == (0, "")
    rows = {r["name"]: r for r in json.loads(out)["recordings"]}
    assert list(rows) == [other, sub, hls, bare, ogg, mp4]  # newest first
    assert rows[mp4] == {
        "name": mp4, "room": room, "roomId": "RM_a1", "egressId": "EG_mp4", "format": "mp4",
        "startedAt": 1_718_273_410_000, "endedAt": 1_718_273_471_500, "duration": 61.5,
        "size": len(body), "metadata": "ok", "status": "COMPLETE", "error": None,
        "kind": "room", "participant": None, "session": None, "extra": {}}
    assert (rows[ogg]["kind"], rows[ogg]["participant"], rows[ogg]["session"],
            rows[ogg]["extra"]) == ("participant", "zoë", "RM_a1-123456",
                                    {"options": {"content": "audio", "output": "ogg"}})
    assert (rows[bare]["metadata"], rows[bare]["room"], rows[bare]["size"],
            rows[bare]["duration"]) == ("missing", room, 4, None)
    assert (rows[hls]["format"], rows[sub]["room"]) == ("hls", f"team/{room}")

    code, out, _ = await _cli(env, "list", "--json", "--room", room)
    assert [r["name"] for r in json.loads(out)["recordings"]] == [hls, bare, ogg, mp4]
    code, out, _ = await _cli(env, "list", "--room", room)
    lines = out.splitlines()
    assert (code, lines[-1]) == (0, "4 recordings")
    assert lines[4].startswith(mp4)
    assert "0:01:02" in lines[4]

    code, out, err = await _cli(env, "url", mp4)
    assert (code, err) == (0, "")
    assert await _get(out.strip()) == (200, body)
    code, out, _ = await _cli(env, "url", "--expires", "120", "--json", "--", mp4)
    link = json.loads(out)
    assert (link["name"], link["via"]) == (mp4, env["RECORDINGS_STORAGE"])
    query = parse_qs(urlsplit(link["url"]).query)
    if env["RECORDINGS_STORAGE"] == "s3":
        assert query["X-Amz-Expires"] == ["120"]
    else:  # the SAS's expiry, to the second, is what --json says
        se = calendar.timegm(time.strptime(query["se"][0], "%Y-%m-%dT%H:%M:%SZ"))
        assert abs(se - link["expiresAt"] / 1000) <= 2
    assert await _get(link["url"]) == (200, body)

    # A metadata file whose recording is gone (a deletion cut short) goes too.
    orphan = f"{room}-RM_a1-2024-06-13T101016-eeeeee.mp4"
    await catalog.save_metadata(RecordingInfo("EG_o", orphan, room, "RM_a1", 1, 1.0, 1))
    code, out, err = await _cli(env, "delete", mp4, hls, bare, orphan)
    assert (code, err) == (0, "")
    assert out.splitlines() == [f"deleted {n}" for n in (mp4, hls, bare, orphan)]
    # Nothing of them is left for the tutorial's server (or anyone) to list: no file,
    # no metadata, no manifest, no segment.
    keep = {catalog.recording_key(n) for n in (ogg, sub, other)} | {
        catalog.metadata_key(n) for n in (ogg, sub, other)}
    assert await _keys(catalog) == keep
    assert [r.name for r in await catalog.list_recordings()] == [other, sub, ogg]

    code, out, err = await _cli(env, "delete", "--json", mp4, sub)
    assert code == 6
    result = json.loads(out)
    assert [(r["name"], r["deleted"], r["exitCode"]) for r in result["results"]] == [
        (mp4, False, 6), (sub, True, 0)]
    assert err == (f"recconsole recordings delete: no recording {mp4!r}"
                   " (recconsole recordings list shows them)\n")
    code, out, err = await _cli(env, "url", hls)
    assert (code, out) == (6, "")
    assert "no recording" in err


@pytest_asyncio.fixture
async def listen(livekit_server: StackConfig, minio_server: StackConfig, unused_tcp_port: int,
                 tmp_path: Path) -> AsyncIterator[Backend]:
    """A running ``recconsole listen`` that wants a credential even on loopback, and the
    environment a CLI beside it has (PROXY strategy, the listener's port)."""
    env = _env(livekit_server, SERVER_PORT=str(unused_tcp_port), PLAYBACK_AUTH="required",
               RECORDING_PLAYBACK_STRATEGY="PROXY")
    settings = Settings.from_env(env)
    catalog = RecordingsCatalog(store_from_settings(settings), settings.recordings_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "recconsole", "--env-file", os.devnull, "listen",
        "--data-dir", str(tmp_path / "listener"), env=env, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    async with asyncio.timeout(60):
        while b"recconsole listen: http" not in (line := await proc.stderr.readline()):
            assert line, "the listener ended before it listened"
    yield env, catalog
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        await proc.communicate()
    await _cleanup(catalog)


async def test_proxy_and_hls_urls_play_through_the_running_listener(listen: Backend) -> None:
    env, catalog = listen
    room = unique_room("proxy ü ?&=")
    mp4 = f"{room}-RM_a1-2024-06-13T101010-3fa9c1.mp4"
    hls = f"sub/{room}-RM_a1-2024-06-13T101013-bbbbbb.m3u8"
    body = os.urandom(10_000)
    await _recording(catalog, mp4, body)
    segments = await _hls(catalog, hls, room)
    base = f"http://127.0.0.1:{env['SERVER_PORT']}/recordings/"

    code, out, err = await _cli(env, "url", "--json", mp4)
    assert (code, err) == (0, "")
    link = json.loads(out)
    assert link["via"] == "proxy"
    assert link["url"].startswith(base)
    assert await _get(link["url"]) == (200, body)
    assert (await _get(link["url"].split("?")[0]))[0] == 401  # the signature opens it

    # HLS always plays through PROXY, whatever the strategy: a presigned playlist could
    # not sign the segments it lists.
    code, out, _ = await _cli({**env, "RECORDING_PLAYBACK_STRATEGY": "S3"}, "url", hls)
    assert code == 0
    status, playlist = await _get(out.strip())
    assert status == 200
    links = [line for line in playlist.decode().splitlines() if not line.startswith("#")]
    assert [await _get(f"http://127.0.0.1:{env['SERVER_PORT']}{seg}") for seg in links] == [
        (200, segment) for segment in segments]


async def test_storage_down_is_one_line_and_exit_1_and_nothing_is_lost(
    livekit_server: StackConfig, private_minio: DevStack,
) -> None:
    env = _env(livekit_server, S3_ENDPOINT=private_minio.cfg.s3_endpoint)
    settings = Settings.from_env(env)
    catalog = RecordingsCatalog(store_from_settings(settings), settings.recordings_path)
    name = f"{unique_room('down')}-RM_a1-2024-06-13T101010-3fa9c1.mp4"
    await _recording(catalog, name, b"kept", RecordingInfo("EG_1", name, "down", "RM_a1",
                                                           1, 1.0, 4))
    await asyncio.to_thread(private_minio.down, ["minio"])
    try:
        for args in (["list"], ["url", name], ["delete", name]):
            code, out, err = await _cli(env, *args)
            assert (code, out) == (1, "")
            assert err.startswith(f"recconsole recordings {args[0]}: ")
            assert f"storage unreachable at {private_minio.cfg.s3_endpoint}" in err
            assert len(err.splitlines()) == 1
        code, out, _ = await _cli(env, "delete", "--json", name)
        assert code == 1
        assert json.loads(out)["results"][0]["exitCode"] == 1
    finally:
        await asyncio.to_thread(private_minio.start, "minio")
    assert await catalog.store.read_bytes(catalog.recording_key(name)) == b"kept"
    assert await catalog.store.exists(catalog.metadata_key(name))
    code, out, _ = await _cli(env, "delete", name)
    assert (code, out) == (0, f"deleted {name}\n")
    assert await _keys(catalog) == set()
    await catalog.store.aclose()


async def test_storage_that_never_answers_is_given_up_on(livekit_server: StackConfig) -> None:
    """A server that takes the connection and says nothing: the command's storage
    calls are bounded by their timeouts, and it ends with the reason."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        code, out, err = await _cli(_env(livekit_server,
                                         S3_ENDPOINT=f"http://127.0.0.1:{port}"),
                                    "list", "--json")
    finally:
        server.close()
        for writer in held:
            writer.close()
    assert code == 1
    assert "did not answer within" in err
    assert json.loads(out)["exitCode"] == 1
