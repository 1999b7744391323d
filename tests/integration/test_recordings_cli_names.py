"""Any room name through ``recconsole recordings list|url|delete``, against real MinIO
and the real LiveKit server.

Property-based (hypothesis, the room names of test_names_property: any script,
controls, ``/``, ``..``, ``%``, ``#``, ``?``...). For each, a recording is written in the
tutorial's layout under a RECORDINGS_PATH of its own and the command line is run (in
this process, through ``main``, for speed; test_recordings_cli runs it as a process):
a valid name is listed under its room, its URL serves the file byte for byte, and its
deletion leaves nothing under the path; an invalid one is refused with exit 2 and
nothing touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import urllib.request
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings

from recconsole.cli import main
from recconsole.core.recording_info import (
    RecordingInfo,
    RecordingNameError,
    validate_recording_name,
)
from recconsole.storage.base import KeyRefused
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.s3 import S3Store
from recconsole_devtools.devstack import MINIO_PASSWORD, MINIO_USER, S3_BUCKET, StackConfig
from tests.integration.test_names_property import room_names

pytestmark = pytest.mark.integration

_tags = itertools.count(0x100000)


def _run(stack: StackConfig, path: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    given = {**stack.env(), "RECORDINGS_PATH": path, "REDIS_URL": ""}
    settings_args = [a for item in given.items() for a in ("--set", "=".join(item))]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--env-file", "/nonexistent/.env", *settings_args, "recordings", *argv])
    return code, out.getvalue(), err.getvalue()


async def _write(stack: StackConfig, path: str, name: str, room: str) -> bool:
    """The recording and its metadata; False if the store cannot hold the key."""
    catalog = RecordingsCatalog(S3Store(stack.s3_endpoint, MINIO_USER, MINIO_PASSWORD,
                                        "us-east-1", S3_BUCKET), path)
    try:
        await catalog.store.write_bytes(catalog.recording_key(name), name.encode(
            "utf-8", "surrogatepass"), "video/mp4")
        await catalog.save_metadata(RecordingInfo("EG_n", name, room, "RM_n", 1, 2.0, 3))
    except KeyRefused:
        return False
    finally:
        await catalog.store.aclose()
    return True


async def _left(stack: StackConfig, path: str) -> list[str]:
    store = S3Store(stack.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET)
    try:
        return [o.key async for page in store.list_pages(path) for o in page]
    finally:
        await store.aclose()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(room=room_names)
@example(room="reunión 🎉 #1 & 50% \"q\" 'x'")
@example(room="team/alpha")
@example(room="-starts with a dash")
@example(room="--")  # argparse takes a value "--" for the end of the options
@example(room="../../outside")
@example(room="line\nbreak\ttab\u202e")
def test_any_room_name_is_listed_played_and_deleted(
    livekit_server: StackConfig, minio_server: StackConfig, room: str,
) -> None:
    stack = livekit_server
    path = f"names-{uuid.uuid4().hex[:8]}/"
    name = f"{room}-RM_n-2024-06-13T101010-{next(_tags):06x}.mp4"
    try:
        validate_recording_name(name)
    except RecordingNameError:
        for argv in (["url", "--", name], ["delete", "--json", "--", name]):
            code, out, err = _run(stack, path, *argv)
            assert code == 2, (argv, err)
            assert "not a valid recording name" in err
        return
    if not asyncio.run(_write(stack, path, name, room)):
        return  # MinIO keeps objects as files: no path part over 255 bytes
    code, out, err = _run(stack, path, "list", "--json", f"--room={room}")  # may start with -
    assert (code, err) == (0, "")
    assert [(r["name"], r["room"]) for r in json.loads(out)["recordings"]] == [(name, room)]
    code, out, err = _run(stack, path, "list")
    assert (code, out.splitlines()[-1]) == (0, "1 recording")
    assert len(out.splitlines()) == 3  # header, one row, total: whatever the name holds

    code, out, err = _run(stack, path, "url", "--", name)
    assert (code, err) == (0, "")
    with urllib.request.urlopen(out.strip(), timeout=10) as response:
        assert response.read() == name.encode("utf-8", "surrogatepass")

    code, out, err = _run(stack, path, "delete", "--json", "--", name)
    assert (code, err) == (0, "")
    assert json.loads(out)["results"] == [{"name": name, "deleted": True, "error": None,
                                           "exitCode": 0}]
    assert asyncio.run(_left(stack, path)) == []
