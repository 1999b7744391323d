"""Errors the user reads: each carries a message meant for a moderator, not a developer."""

from __future__ import annotations


class ConsoleError(Exception):
    """Base of every error whose message is shown to the user as it is."""


class ServerUnreachable(ConsoleError):
    """The LiveKit server did not answer (wrong URL, server down, network)."""


class CredentialsRejected(ConsoleError):
    """The server refused the API key/secret or the token."""


class EgressUnavailable(ConsoleError):
    """No egress service is deployed or connected, so nothing can be recorded."""


class AlreadyRecording(ConsoleError):
    """The room already has an active recording."""


class NotRecording(ConsoleError):
    """Stop was asked of a room with no active recording."""


class RecordingInProgress(ConsoleError):
    """A recording that is still being made cannot be deleted."""


class RoomNotFound(ConsoleError):
    """The room does not exist (any more) on the server."""


class TokenServerError(ConsoleError):
    """An application server's token endpoint failed or answered something unusable."""
