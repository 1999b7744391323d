"""Access tokens for joining rooms, minted from the API key and secret."""

from __future__ import annotations

import json
from datetime import timedelta

import aiohttp
from livekit import api

from recconsole.core.errors import TokenServerError


def mint_token(
    api_key: str,
    api_secret: str,
    room: str,
    identity: str,
    name: str = "",
    *,
    observer: bool = False,
    ttl: timedelta = timedelta(hours=6),
) -> str:
    """A JWT that lets ``identity`` join ``room``.

    A moderator may publish and record; an observer joins hidden and only subscribes.
    """
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        room_record=not observer,
        can_publish=not observer,
        can_publish_data=not observer,
        can_subscribe=True,
        hidden=observer,
    )
    return (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_name(name or identity)
        .with_grants(grants)
        .with_ttl(ttl)
        .to_jwt()
    )


async def fetch_token(
    app_server_url: str, room: str, participant: str, *, timeout: float = 10.0
) -> str:
    """A token from an application server's ``POST /token`` (the tutorials' endpoint).

    Sends ``{roomName, participantName}`` and expects ``{token}``.
    """
    url = app_server_url.rstrip("/") + "/token"
    body = {"roomName": room, "participantName": participant}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
            http.post(url, json=body) as resp,
        ):
            text = await resp.text()
            if resp.status != 200:
                raise TokenServerError(
                    f"The application server at {url} refused the token"
                    f" ({resp.status}): {_error_message(text)}"
                )
    except (aiohttp.ClientError, TimeoutError) as err:
        raise TokenServerError(
            f"Cannot reach the application server at {url}: {err or type(err).__name__}"
        ) from None
    try:
        token = json.loads(text)["token"]
    except (ValueError, KeyError, TypeError):
        token = None
    if not isinstance(token, str) or not token:
        raise TokenServerError(f"The application server at {url} answered without a token.")
    return token


def _error_message(text: str) -> str:
    try:
        message = json.loads(text).get("errorMessage")
    except (ValueError, AttributeError):
        message = None
    return str(message or text[:200] or "no details")
