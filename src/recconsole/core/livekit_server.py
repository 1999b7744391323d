"""The LiveKit server APIs the console uses, with errors a moderator can read.

Rooms (create with the app's metadata, read and update ``recordingStatus``), the
``RECORDING_DELETED`` data message, and egress (start, stop, list). Every call has
a timeout; failures become the typed errors of :mod:`recconsole.core.errors`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, Final, TypeVar

import aiohttp
from livekit import api

from recconsole.core.errors import (
    ConsoleError,
    CredentialsRejected,
    EgressUnavailable,
    RoomNotFound,
    ServerUnreachable,
)
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.room_locks import LocalRoomLocks

log = logging.getLogger(__name__)

T = TypeVar("T")

RECORDING_DELETED_TOPIC: Final = "RECORDING_DELETED"
# Sent by the server API (never by a participant) to a console recording a room on its
# own computer: stop and upload.
STOP_LOCAL_RECORDING_TOPIC: Final = "recconsole-stop-local-recording"


def ws_url(url: str) -> str:
    """The SDK wants ws(s)://; the tutorials' settings give http(s)://."""
    if url.startswith("http://"):
        return "ws://" + url[len("http://"):]
    if url.startswith("https://"):
        return "wss://" + url[len("https://"):]
    return url


def parse_metadata(raw: str) -> dict[str, Any]:
    """Room metadata as a dict; anything that is not a JSON object reads as empty."""
    try:
        data = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


TOKEN_REUSE: Final = 300.0  # s a signed request token is used again (it is valid 6 h)


def _reuse_tokens(service: Any) -> None:
    """Let a livekit-api service sign the token for a set of grants once every
    TOKEN_REUSE s, not at every request: signing one (the grants turned into claims,
    then the JWT) costs about as much CPU as the request itself, and a listener applying
    webhooks makes several requests for each."""
    sign = service._auth_header
    signed: dict[str, tuple[float, dict[str, str]]] = {}

    def auth_header(grants: Any, sip: Any = None) -> dict[str, str]:
        key, now = f"{grants!r}|{sip!r}", time.monotonic()
        hit = signed.get(key)
        if hit is not None and now - hit[0] < TOKEN_REUSE:
            return dict(hit[1])
        if len(signed) >= 1024:  # one per room at most, in practice
            signed.clear()
        header = sign(grants, sip)
        signed[key] = (now, header)
        return dict(header)

    service._auth_header = auth_header


class LiveKitServer:
    """One LiveKit server, reached with the API key and secret."""

    def __init__(
        self,
        url: str,
        api_key: str,
        api_secret: str,
        *,
        app_name: str,
        timeout: float = 10.0,
        egress_start_timeout: float = 15.0,
    ) -> None:
        self.url = url
        self.app_name = app_name
        self.egress_start_timeout = egress_start_timeout
        self._key, self._secret, self._timeout = api_key, api_secret, timeout
        self._api: api.LiveKitAPI | None = None
        # Metadata is read, changed and written back: one change per room at a time in
        # this process, so the recorder and webhook effects never undo each other.
        self._metadata_turns = LocalRoomLocks()

    @property
    def lkapi(self) -> api.LiveKitAPI:
        # Created on first use: aiohttp sessions belong to the running loop.
        if self._api is None:
            self._api = api.LiveKitAPI(
                self.url, self._key, self._secret,
                timeout=aiohttp.ClientTimeout(total=self._timeout, connect=min(5.0, self._timeout)),
            )
            for service in vars(self._api).values():
                if callable(getattr(service, "_auth_header", None)):
                    _reuse_tokens(service)
        return self._api

    async def aclose(self) -> None:
        if self._api is not None:
            await self._api.aclose()
            self._api = None

    async def __aenter__(self) -> LiveKitServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- errors -------------------------------------------------------------------

    @asynccontextmanager
    async def _errors(self, what: str, *, egress: bool = False) -> AsyncIterator[None]:
        try:
            yield
        except ConsoleError:
            raise
        except api.ServerError as err:
            raise self._translate(err, what, egress) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            reason = str(err) or type(err).__name__
            if isinstance(err, TimeoutError):
                reason = f"no answer within {self._timeout:.0f} s"
            raise ServerUnreachable(
                f"Cannot reach the LiveKit server at {self.url} ({what}): {reason}"
            ) from None

    def _translate(self, err: api.ServerError, what: str, egress: bool) -> ConsoleError:
        message = err.message.removeprefix("twirp error unknown: ")
        if err.status == 401 or err.code in ("unauthenticated", "permission_denied"):
            return CredentialsRejected(
                "The credentials were rejected by the server: check LIVEKIT_API_KEY and"
                " LIVEKIT_API_SECRET."
            )
        if egress and ("egress not connected" in message or err.code == "unavailable"):
            return EgressUnavailable(
                "Recording is not available on this server: no egress service is connected"
                f" ({message})."
            )
        if err.code == "not_found":
            return RoomNotFound(f"{what}: {message}")
        return ConsoleError(f"The LiveKit server could not {what}: {message or err.code}")

    async def _call(self, what: str, call: Awaitable[T], *, egress: bool = False) -> T:
        async with self._errors(what, egress=egress):
            return await call

    # --- rooms --------------------------------------------------------------------

    async def get_room(self, name: str) -> api.Room | None:
        rooms = await self._call("list rooms", self.lkapi.room.list_rooms(
            api.ListRoomsRequest(names=[name])
        ))
        return next((room for room in rooms.rooms if room.name == name), None)

    async def list_rooms(self) -> list[api.Room]:
        rooms = await self._call("list rooms", self.lkapi.room.list_rooms(api.ListRoomsRequest()))
        return list(rooms.rooms)

    async def ensure_room(self, name: str) -> api.Room:
        """The room, created with ``{createdBy, recordingStatus: STOPPED}`` if missing."""
        room = await self.get_room(name)
        if room is not None:
            return room
        metadata = json.dumps({"createdBy": self.app_name,
                               "recordingStatus": RecordingStatus.STOPPED.value})
        return await self._call("create the room", self.lkapi.room.create_room(
            api.CreateRoomRequest(name=name, metadata=metadata)
        ))

    def created_by_app(self, room: api.Room) -> bool:
        return parse_metadata(room.metadata).get("createdBy") == self.app_name

    async def update_metadata(self, name: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` into the room's metadata, keeping its other keys.

        A change to ``None`` removes that key. Metadata that already says all of it is
        not written again (the participants would be told of a change that is none).
        """
        async with self._metadata_turns.hold(name):
            room = await self.get_room(name)
            if room is None:
                raise RoomNotFound(f"The room {name!r} does not exist.")
            current = parse_metadata(room.metadata)
            metadata = {k: v for k, v in {**current, **changes}.items() if v is not None}
            if metadata == current and room.metadata:
                return metadata
            await self._call("update the room metadata", self.lkapi.room.update_room_metadata(
                api.UpdateRoomMetadataRequest(room=name, metadata=json.dumps(metadata))
            ))
        return metadata

    async def set_recording_status(
        self, name: str, status: RecordingStatus, error: str | None = None,
        more: dict[str, Any] | None = None,
    ) -> None:
        """Publish the room's recording state to everyone in it (RoomMetadataChanged).

        ``recordingError`` says why a FAILED recording failed; any other status clears it.
        ``more``: other metadata keys changed in the same update.
        """
        changes: dict[str, Any] = {**(more or {}), "recordingStatus": status.value,
                                   "recordingError": None}
        if status is RecordingStatus.FAILED:
            changes["recordingError"] = error or "the recording failed"
        await self.update_metadata(name, changes)

    async def last_failure(self, name: str) -> str:
        """Why the room's most recent failed recording failed, as its egress tells it."""
        egresses = await self.list_egress(name, active=False)
        failed = [e for e in egresses if e.error and e.status in (
            api.EgressStatus.EGRESS_FAILED, api.EgressStatus.EGRESS_ABORTED,
            api.EgressStatus.EGRESS_LIMIT_REACHED)]
        if not failed:
            return ""
        return max(failed, key=lambda e: e.updated_at or e.ended_at).error

    async def recording_status(self, name: str) -> RecordingStatus | None:
        room = await self.get_room(name)
        if room is None:
            return None
        raw = parse_metadata(room.metadata).get("recordingStatus")
        if not isinstance(raw, str):
            return None
        try:
            return RecordingStatus(raw)
        except ValueError:
            return None

    async def list_participants(self, name: str) -> list[api.ParticipantInfo]:
        resp = await self._call("list participants", self.lkapi.room.list_participants(
            api.ListParticipantsRequest(room=name)
        ))
        return list(resp.participants)

    async def delete_room(self, name: str) -> None:
        """Close the room: everyone in it is disconnected."""
        await self._call("close the room", self.lkapi.room.delete_room(
            api.DeleteRoomRequest(room=name)))

    async def remove_participant(self, room: str, identity: str) -> None:
        await self._call("remove the participant", self.lkapi.room.remove_participant(
            api.RoomParticipantIdentity(room=room, identity=identity)))

    async def mute_track(self, room: str, identity: str, track_sid: str) -> None:
        """Mute one of a participant's published tracks (its publisher is told)."""
        await self._call("mute the track", self.lkapi.room.mute_published_track(
            api.MuteRoomTrackRequest(room=room, identity=identity, track_sid=track_sid,
                                     muted=True)))

    async def send_recording_deleted(self, room_name: str, recording_name: str) -> bool:
        """Tell everyone in the room that a recording was deleted; False if the room is gone."""
        if await self.get_room(room_name) is None:
            return False
        payload = json.dumps({"recordingName": recording_name}).encode()
        await self._call("send the deletion message", self.lkapi.room.send_data(
            api.SendDataRequest(room=room_name, data=payload, kind=api.DataPacket.Kind.RELIABLE,
                                topic=RECORDING_DELETED_TOPIC)
        ))
        return True

    async def send_to(self, room: str, identity: str, topic: str, payload: bytes = b"") -> None:
        """A reliable data message from the server to one participant of the room."""
        await self._call("send a message", self.lkapi.room.send_data(
            api.SendDataRequest(room=room, data=payload, kind=api.DataPacket.Kind.RELIABLE,
                                topic=topic, destination_identities=[identity])))

    # --- egress -------------------------------------------------------------------

    async def list_egress(self, room_name: str, *, active: bool = True) -> list[api.EgressInfo]:
        resp = await self._call("list recordings in progress", self.lkapi.egress.list_egress(
            api.ListEgressRequest(room_name=room_name, active=active)
        ), egress=True)
        return list(resp.items)

    async def get_egress(self, egress_id: str) -> api.EgressInfo | None:
        resp = await self._call("look up the recording", self.lkapi.egress.list_egress(
            api.ListEgressRequest(egress_id=egress_id)
        ), egress=True)
        return resp.items[0] if resp.items else None

    async def start_room_composite(
        self, room_name: str, output: api.EncodedFileOutput, *, layout_url: str = ""
    ) -> api.EgressInfo:
        """Record the room into ``output``; ``layout_url``: a custom layout page to record."""
        request = api.RoomCompositeEgressRequest(room_name=room_name, file_outputs=[output],
                                                 custom_base_url=layout_url)
        return await self.start_egress(request)

    async def start_egress(
        self, request: api.RoomCompositeEgressRequest | api.ParticipantEgressRequest
    ) -> api.EgressInfo:
        """Start a room or participant recording; EgressUnavailable if nothing answers."""
        if isinstance(request, api.ParticipantEgressRequest):
            call = self.lkapi.egress.start_participant_egress(request)
        else:
            call = self.lkapi.egress.start_room_composite_egress(request)
        try:
            async with asyncio.timeout(self.egress_start_timeout):
                return await self._call("start the recording", call, egress=True)
        except TimeoutError:
            # A busy egress may take the request after all: if it did, that is our
            # recording, not a missing service (falling back would record the room twice).
            late = await self._egress_of(request)
            if late is not None:
                return late
            raise EgressUnavailable(
                f"The egress service did not answer within {self.egress_start_timeout:.0f} s:"
                " it may not be deployed or connected to this server."
            ) from None

    async def _egress_of(
        self, request: api.RoomCompositeEgressRequest | api.ParticipantEgressRequest
    ) -> api.EgressInfo | None:
        """The egress started from ``request`` (known by its outputs' paths), if any."""
        ours = _output_paths(request)
        try:
            async with asyncio.timeout(self.egress_start_timeout):
                found = await self.list_egress(request.room_name, active=False)
        except (TimeoutError, ConsoleError):
            return None
        kind = "participant" if isinstance(request, api.ParticipantEgressRequest) else (
            "room_composite")
        return next((e for e in found if e.WhichOneof("request") == kind
                     and ours & _output_paths(getattr(e, kind))), None)

    async def stop_egress(self, egress_id: str) -> api.EgressInfo:
        return await self._call("stop the recording", self.lkapi.egress.stop_egress(
            api.StopEgressRequest(egress_id=egress_id)
        ), egress=True)


def _output_paths(
    request: api.RoomCompositeEgressRequest | api.ParticipantEgressRequest,
) -> set[str]:
    """The file paths and segment prefixes a request records to (our tags make them unique)."""
    return ({o.filepath for o in request.file_outputs if o.filepath}
            | {o.filename_prefix for o in request.segment_outputs if o.filename_prefix})
