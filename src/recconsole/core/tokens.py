"""Access tokens for joining rooms, minted from the API key and secret."""

from __future__ import annotations

from datetime import timedelta

from livekit import api


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
