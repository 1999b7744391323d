"""PROXY playback over real HTTP, from MinIO and from a local folder."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from recconsole.server.app import init_app, start_server
from recconsole.server.playback import PORTION_SIZE
from recconsole.settings import Settings
from recconsole.storage.base import ObjectStore
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.local import LocalStore
from recconsole.storage.s3 import S3Store
from recconsole_devtools.devstack import MINIO_PASSWORD, MINIO_USER, S3_BUCKET, StackConfig

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

NAME = "daily-RM_abc-2024-06-13T101010.mp4"
BODY = os.urandom(1500)


@pytest_asyncio.fixture(params=["s3", "local"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    if request.param == "s3":
        cfg: StackConfig = request.getfixturevalue("minio_server")
        s3 = S3Store(cfg.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET)
        yield s3
        await s3.aclose()
    else:
        yield LocalStore(tmp_path / "bucket")


@pytest_asyncio.fixture
async def served(
    store: ObjectStore, unused_tcp_port: int
) -> AsyncIterator[tuple[str, RecordingsCatalog]]:
    prefix = f"play-{uuid.uuid4().hex[:8]}/"
    catalog = RecordingsCatalog(store, prefix)
    await store.write_bytes(catalog.recording_key(NAME), BODY, "video/mp4")
    app = init_app(Settings(recordings_path=prefix), catalog)
    runner = await start_server(app, "127.0.0.1", unused_tcp_port)
    yield f"http://127.0.0.1:{unused_tcp_port}", catalog
    await runner.cleanup()


async def _get(url: str, headers: dict[str, str] | None = None,
               method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as http, http.request(
        method, url, headers=headers or {}, timeout=aiohttp.ClientTimeout(total=10)
    ) as resp:
        return resp.status, dict(resp.headers), await resp.read()


@pytest.mark.parametrize(
    ("range_header", "first", "last"),
    [("bytes=0-0", 0, 0), ("bytes=100-", 100, 1499), ("bytes=-500", 1000, 1499),
     ("bytes=10-19", 10, 19), ("bytes=1000-999999", 1000, 1499), ("bytes=0-1499", 0, 1499)],
)
async def test_ranges_get_206_with_exactly_those_bytes(
    served: tuple[str, RecordingsCatalog], range_header: str, first: int,
    last: int,
) -> None:
    base, _ = served
    status, headers, body = await _get(f"{base}/recordings/{NAME}", {"Range": range_header})
    assert status == 206
    assert headers["Content-Range"] == f"bytes {first}-{last}/1500"
    assert headers["Accept-Ranges"] == "bytes"
    assert int(headers["Content-Length"]) == last - first + 1
    assert body == BODY[first:last + 1]


@pytest.mark.parametrize("range_header", ["bytes=1500-", "bytes=9999-10000", "bytes=-0"])
async def test_unsatisfiable_ranges_get_416(
    served: tuple[str, RecordingsCatalog], range_header: str
) -> None:
    base, _ = served
    status, headers, _ = await _get(f"{base}/recordings/{NAME}", {"Range": range_header})
    assert status == 416
    assert headers["Content-Range"] == "bytes */1500"


async def test_without_range_the_whole_file_is_streamed(
    served: tuple[str, RecordingsCatalog],
) -> None:
    base, _ = served
    status, headers, body = await _get(f"{base}/recordings/{NAME}")
    assert (status, body) == (200, BODY)
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Type"] == "video/mp4"
    status, headers, body = await _get(f"{base}/recordings/{NAME}", method="HEAD")
    assert (status, headers["Content-Length"], body) == (200, "1500", b"")


async def test_large_files_are_served_in_bounded_portions(
    served: tuple[str, RecordingsCatalog],
) -> None:
    base, catalog = served
    big = os.urandom(PORTION_SIZE + 4096)
    await catalog.store.write_bytes(catalog.recording_key("big-RM_a-1.mp4"), big)
    status, headers, body = await _get(f"{base}/recordings/big-RM_a-1.mp4", {"Range": "bytes=0-"})
    assert status == 206
    assert headers["Content-Range"] == f"bytes 0-{PORTION_SIZE - 1}/{len(big)}"
    assert body == big[:PORTION_SIZE]


async def test_missing_and_invalid_names(
    served: tuple[str, RecordingsCatalog],
) -> None:
    base, _ = served
    status, _, body = await _get(f"{base}/recordings/nope-RM_a-1.mp4")
    assert status == 404
    assert b"Recording not found" in body
    for bad in ("..%2F..%2Fetc%2Fpasswd", "%2E%2E%2Fx.mp4", "a%2F..%2F..%2Fx.mp4", "%2Etmp",
                ".metadata%2Fx.mp4", f"{NAME}.json", "x.json"):
        status, _, _ = await _get(f"{base}/recordings/{bad}")
        assert status == 400, bad
    status, _, _ = await _get(f"{base}/recordings/a..b.mp4")  # a name like any other
    assert status == 404
    status, _, _ = await _get(f"{base}/recordings/nope-RM_a-1.mp4/url")
    assert status == 404


async def test_url_route_answers_per_strategy(
    served: tuple[str, RecordingsCatalog], store: ObjectStore,
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    base, catalog = served
    status, _, body = await _get(f"{base}/recordings/{NAME}/url")
    assert status == 200
    url = json.loads(body)["recordingUrl"]
    if isinstance(store, S3Store):
        status, _, content = await _get(url)  # a presigned URL straight to MinIO
        assert (status, content) == (200, BODY)
    else:
        assert url.startswith("file://")
    proxy = init_app(Settings(recordings_path=catalog.recordings_path,
                              recording_playback_strategy="PROXY"), catalog)
    port = unused_tcp_port_factory()
    runner = await start_server(proxy, "127.0.0.1", port)
    try:
        status, _, body = await _get(f"http://127.0.0.1:{port}/recordings/{NAME}/url")
    finally:
        await runner.cleanup()
    assert json.loads(body) == {"recordingUrl": f"/recordings/{NAME}"}


HLS = "daily-RM_abc-2024-06-13T101010-a1b2c3.m3u8"
PLAYLIST = ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.000,\n"
            "daily-RM_abc-2024-06-13T101010-a1b2c3/segment_00000.ts\n#EXTINF:2.500,\n"
            "daily-RM_abc-2024-06-13T101010-a1b2c3/segment_00001.ts\n#EXT-X-ENDLIST\n")


async def test_an_hls_recording_plays_through_the_proxy_segments_and_all(
    served: tuple[str, RecordingsCatalog],
) -> None:
    base, catalog = served
    await catalog.store.write_bytes(catalog.recording_key(HLS), PLAYLIST.encode(),
                                    "application/vnd.apple.mpegurl")
    segment = "daily-RM_abc-2024-06-13T101010-a1b2c3/segment_00001.ts"
    await catalog.store.write_bytes(catalog.segment_key(segment), BODY, "video/mp2t")
    status, headers, body = await _get(f"{base}/recordings/{HLS}")
    assert status == 200
    assert headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    lines = body.decode().splitlines()
    # Each segment is a PROXY path (on loopback no link needs signing).
    assert lines[4] == "/recordings/daily-RM_abc-2024-06-13T101010-a1b2c3%2Fsegment_00000.ts"
    assert lines[0] == "#EXTM3U"
    status, headers, body = await _get(base + lines[6])
    assert (status, headers["Content-Type"], body) == (200, "video/mp2t", BODY)
    # Only a segment beside a playlist: never a metadata file or anything else.
    status, _, _ = await _get(f"{base}/recordings/.metadata%2Fx.ts")
    assert status == 400
    status, _, _ = await _get(f"{base}/recordings/loose.ts")
    assert status == 400
