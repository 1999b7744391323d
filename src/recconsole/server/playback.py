"""PROXY playback: ``GET /recordings/{name}`` streamed from storage with HTTP Range.

Like the tutorials' server, a ranged request gets ``206`` with a bounded portion
(``Content-Range``, ``Accept-Ranges: bytes``); unsatisfiable ranges get ``416``.
A request without Range gets the whole file, streamed. ``GET
/recordings/{name}/url`` answers ``{"recordingUrl": ...}`` for the configured strategy.

Only recordings are served (never a metadata file or an egress manifest), with
the content type of their kind. Beyond loopback the routes want a credential
(:class:`PlaybackAccess`): a short-lived signed link, which the console mints for
its own player, or the ``PLAYBACK_TOKEN`` bearer token, for scripts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import time
from typing import Final
from urllib.parse import quote

from aiohttp import web

from recconsole.core.recording_info import (
    HLS_SUFFIX,
    SEGMENT_SUFFIX,
    RecordingNameError,
    media_type,
    segment_names,
)
from recconsole.settings import Settings
from recconsole.storage.base import InvalidRange, ObjectNotFound, StoreError
from recconsole.storage.catalog import RecordingsCatalog

log = logging.getLogger(__name__)

PORTION_SIZE: Final = 5 * 1024 * 1024  # the tutorials' RECORDING_FILE_PORTION_SIZE

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*(?:,.*)?$")
_LINK_CONTEXT: Final = b"recconsole playback link v1"
_EXPIRES: Final = re.compile(r"[0-9]{1,15}")


def is_loopback(host: str) -> bool:
    """Whether a bind address reaches this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


class PlaybackAccess:
    """Who may fetch recordings through the PROXY routes.

    Links are signed with a key derived from the LiveKit API secret, so every
    listener of one deployment accepts the links any of them minted.
    """

    def __init__(self, api_secret: str, *, required: bool, token: str = "") -> None:
        self._key = hmac.new(api_secret.encode(), _LINK_CONTEXT, hashlib.sha256).digest()
        self.required = required
        self._token = token

    @classmethod
    def for_listener(cls, settings: Settings, host: str) -> PlaybackAccess:
        """``PLAYBACK_AUTH``: ``auto`` wants a credential when bound beyond loopback."""
        required = settings.playback_auth == "required" or (
            settings.playback_auth == "auto" and not is_loopback(host))
        if settings.playback_auth == "off" and not is_loopback(host):
            log.warning("PLAYBACK_AUTH=off on %s: every recording is open to the network", host)
        return cls(settings.livekit_api_secret.value, required=required,
                   token=settings.playback_token.value)

    def _signature(self, name: str, expires: int) -> str:
        mac = hmac.new(self._key, f"{name}\n{expires}".encode("utf-8", "surrogatepass"),
                       hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:24]).decode()

    def link(self, name: str, expires_in: int, now: float | None = None) -> str:
        """The path of a recording, signed for ``expires_in`` seconds."""
        expires = int((time.time() if now is None else now) + expires_in)
        return (f"{recording_path(name)}?expires={expires}"
                f"&sig={self._signature(name, expires)}")

    def allows(self, request: web.Request, name: str) -> bool:
        if not self.required:
            return True
        auth = request.headers.get("Authorization", "")
        # Header bytes that are not UTF-8 arrive as surrogates: compared, never a 500.
        if self._token and auth.startswith("Bearer ") and hmac.compare_digest(
                auth.removeprefix("Bearer ").strip().encode("utf-8", "surrogateescape"),
                self._token.encode()):
            return True
        expires, sig = request.query.get("expires", ""), request.query.get("sig", "")
        # ASCII digits only: str.isdigit() takes "²", and int() refuses 5000 digits.
        if not _EXPIRES.fullmatch(expires) or not sig or int(expires) < time.time():
            return False
        return hmac.compare_digest(sig.encode("utf-8", "surrogateescape"),
                                   self._signature(name, int(expires)).encode())


def recording_path(name: str) -> str:
    """``/recordings/{name}`` with the name percent-encoded (it may hold ``#``, ``?``, ``%``)."""
    return f"/recordings/{quote(name, safe='')}"


SETTINGS: Final = web.AppKey("settings", Settings)
CATALOG: Final = web.AppKey("catalog", RecordingsCatalog)
ACCESS: Final = web.AppKey("access", PlaybackAccess)


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


def _unavailable(name: str, err: StoreError) -> web.Response:
    # The reason names the storage endpoint: it goes to the log, not to the client.
    log.warning("playback of %r: storage failed: %s", name, err)
    return _error(502, "Recording storage unavailable")


def _refused(request: web.Request, name: str) -> web.Response | None:
    if request.app[ACCESS].allows(request, name):
        return None
    log.info("refused playback of %r to %s: no valid credential", name, request.remote)
    return _error(401, "A signed link or a bearer token is needed")


async def get_recording(request: web.Request) -> web.StreamResponse:
    catalog = request.app[CATALOG]
    name = request.match_info["name"]
    refused = _refused(request, name)
    if refused is not None:
        return refused
    try:
        if name.endswith(HLS_SUFFIX) and "Range" not in request.headers:
            return await _playlist(request, name)
        key = (catalog.segment_key(name) if name.endswith(SEGMENT_SUFFIX)
               else catalog.recording_key(name))
        obj = await catalog.store.head(key)
    except RecordingNameError:
        return _error(400, "Invalid recording name")
    except ObjectNotFound:
        return _error(404, "Recording not found")
    except StoreError as err:
        return _unavailable(name, err)
    try:
        span = parse_range(request.headers.get("Range"), obj.size, PORTION_SIZE)
    except Unsatisfiable:
        return web.Response(status=416, headers={"Content-Range": f"bytes */{obj.size}"})
    start, end = span if span else (0, obj.size - 1)
    response = web.StreamResponse(
        status=206 if span else 200,
        headers={"Accept-Ranges": "bytes",
                 "Content-Type": media_type(name) or ("video/mp2t" if name.endswith(
                     SEGMENT_SUFFIX) else "application/octet-stream")},
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
        log.warning("playback of %r stopped: %s", name, err)
        raise ConnectionResetError("storage failed") from None
    await response.write_eof()
    return response


async def _playlist(request: web.Request, name: str) -> web.Response:
    """An HLS playlist whose segments are PROXY links too (signed when links must be:
    a player fetches each segment without the playlist's query)."""
    catalog, access = request.app[CATALOG], request.app[ACCESS]
    text = (await catalog.store.read_bytes(catalog.recording_key(name))).decode()
    lines = text.splitlines()
    expiry = request.app[SETTINGS].recording_url_expiry
    for number, segment in segment_names(name, text):
        lines[number] = (access.link(segment, expiry) if access.required
                         else recording_path(segment))
    return web.Response(text="\n".join(lines) + "\n", content_type=media_type(name))


async def get_recording_url(request: web.Request) -> web.Response:
    catalog, settings, access = request.app[CATALOG], request.app[SETTINGS], request.app[ACCESS]
    name = request.match_info["name"]
    refused = _refused(request, name)
    if refused is not None:
        return refused
    try:
        key = catalog.recording_key(name)
        if not await catalog.store.exists(key):
            return _error(404, "Recording not found")
        if settings.recording_playback_strategy == "PROXY":
            url = (access.link(name, settings.recording_url_expiry) if access.required
                   else recording_path(name))
        else:
            url = await catalog.playback_url(name, settings.recording_url_expiry)
    except RecordingNameError:
        return _error(400, "Invalid recording name")
    except StoreError as err:
        return _unavailable(name, err)
    return web.json_response({"recordingUrl": url})


def add_playback_routes(app: web.Application) -> None:
    # A name may hold a "/" (a room called "a/b" records into a subfolder). No
    # recording name ends in "/url", so that suffix always means the URL route.
    # Any character, a newline too: rooms are named by people.
    app.router.add_get(r"/recordings/{name:[\s\S]+}/url", get_recording_url)
    app.router.add_get(r"/recordings/{name:[\s\S]+}", get_recording)
