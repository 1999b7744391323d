"""PROXY playback: ``GET /recordings/{name}`` streamed from storage with HTTP Range.

Like the tutorials' server, a ranged request gets ``206`` with a bounded portion
(``Content-Range``, ``Accept-Ranges: bytes``); unsatisfiable ranges get ``416``.
A request without Range gets the whole file, streamed. ``GET
/recordings/{name}/url`` answers ``{"recordingUrl": ...}`` for the configured strategy.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from aiohttp import web

from recconsole.core.recording_info import RecordingNameError
from recconsole.settings import Settings
from recconsole.storage.base import InvalidRange, ObjectNotFound, StoreError
from recconsole.storage.catalog import RecordingsCatalog

log = logging.getLogger(__name__)

SETTINGS: Final = web.AppKey("settings", Settings)
CATALOG: Final = web.AppKey("catalog", RecordingsCatalog)
PORTION_SIZE: Final = 5 * 1024 * 1024  # the tutorials' RECORDING_FILE_PORTION_SIZE

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*(?:,.*)?$")


class Unsatisfiable(Exception):
    """The Range asks only for bytes the file does not have."""


def parse_range(header: str | None, size: int, portion: int) -> tuple[int, int] | None:
    """The first byte range of ``header`` as inclusive (start, end), bounded to ``portion``.

    None when there is no usable Range header (serve the whole file); raises
    :class:`Unsatisfiable` when the range lies past the end of the file.
    """
    match = _RANGE.match(header or "")
    if not match or not (match[1] or match[2]):
        return None
    if match[1]:
        start = int(match[1])
        end = int(match[2]) if match[2] else size - 1
        if match[2] and end < start:
            return None  # invalid: ignored, as RFC 9110 says
    else:  # suffix: the last N bytes
        suffix = int(match[2])
        if suffix == 0:
            raise Unsatisfiable
        start, end = max(0, size - suffix), size - 1
    if start >= size:
        raise Unsatisfiable
    return start, min(end, size - 1, start + portion - 1)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"errorMessage": message}, status=status)


async def get_recording(request: web.Request) -> web.StreamResponse:
    catalog = request.app[CATALOG]
    name = request.match_info["name"]
    try:
        key = catalog.recording_key(name)
        obj = await catalog.store.head(key)
    except RecordingNameError:
        return _error(400, "Invalid recording name")
    except ObjectNotFound:
        return _error(404, "Recording not found")
    except StoreError as err:
        return _error(502, str(err))
    try:
        span = parse_range(request.headers.get("Range"), obj.size, PORTION_SIZE)
    except Unsatisfiable:
        return web.Response(status=416, headers={"Content-Range": f"bytes */{obj.size}"})
    start, end = span if span else (0, obj.size - 1)
    response = web.StreamResponse(
        status=206 if span else 200,
        headers={"Accept-Ranges": "bytes", "Content-Type": "video/mp4"},
    )
    if span:
        response.headers["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
    response.content_length = max(0, end - start + 1)
    await response.prepare(request)
    if request.method == "HEAD" or obj.size == 0:
        return response
    try:
        async for chunk in catalog.store.read(key, start, end):
            await response.write(chunk)
    except (StoreError, InvalidRange) as err:
        # Headers are gone: all that is left is to cut the connection short.
        log.warning("playback of %s stopped: %s", name, err)
        raise ConnectionResetError(str(err)) from None
    await response.write_eof()
    return response


async def get_recording_url(request: web.Request) -> web.Response:
    catalog, settings = request.app[CATALOG], request.app[SETTINGS]
    name = request.match_info["name"]
    try:
        key = catalog.recording_key(name)
        if not await catalog.store.exists(key):
            return _error(404, "Recording not found")
        if settings.recording_playback_strategy == "PROXY":
            url = f"/recordings/{name}"
        else:
            url = await catalog.playback_url(name, settings.recording_url_expiry)
    except RecordingNameError:
        return _error(400, "Invalid recording name")
    except StoreError as err:
        return _error(502, str(err))
    return web.json_response({"recordingUrl": url})


def add_playback_routes(app: web.Application) -> None:
    app.router.add_get("/recordings/{name}", get_recording)
    app.router.add_get("/recordings/{name}/url", get_recording_url)
