"""Who may fetch recordings through the PROXY playback routes, and the links the console
mints for its own player. Apart from the routes (:mod:`recconsole.server.playback`), so
the window can mint links without loading the web server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import time
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from recconsole.core.recording_info import HLS_SUFFIX
from recconsole.settings import Settings

if TYPE_CHECKING:
    from aiohttp import web

    from recconsole.storage.catalog import RecordingsCatalog

log = logging.getLogger(__name__)

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


def proxied(settings: Settings, name: str) -> bool:
    """Whether ``name`` plays through the PROXY route: RECORDING_PLAYBACK_STRATEGY=PROXY,
    and always for HLS (a presigned playlist cannot sign the segments it lists)."""
    return settings.recording_playback_strategy == "PROXY" or name.endswith(HLS_SUFFIX)


async def playback_url(settings: Settings, catalog: RecordingsCatalog, access: PlaybackAccess,
                       name: str, expires_in: int | None = None) -> str:
    """The URL a player opens for a recording: a link straight to storage (presigned, SAS,
    a file), or the signed PROXY route of the listener on this machine (:func:`proxied`)."""
    expires = settings.recording_url_expiry if expires_in is None else expires_in
    if proxied(settings, name):
        catalog.recording_key(name)  # refuses unsafe names
        return f"http://127.0.0.1:{settings.server_port}{access.link(name, expires)}"
    return await catalog.playback_url(name, expires)
