"""Typed, validated settings under the names the OpenVidu recording tutorials use.

Names, defaults and meanings follow the tutorials' ``config.js`` so that one
environment can drive both a tutorial server and this console.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names it and says why."""


@dataclass(frozen=True)
class Secret:
    """A secret string that never shows itself in ``repr``, ``str`` or logs."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('***')" if self.value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)


PLAYBACK_STRATEGIES: Final = ("S3", "PROXY")

# env name -> (Settings field, default); the tutorial's defaults.
_ENV: Final[dict[str, tuple[str, str]]] = {
    "LIVEKIT_URL": ("livekit_url", "http://localhost:7880"),
    "LIVEKIT_API_KEY": ("livekit_api_key", "devkey"),
    "LIVEKIT_API_SECRET": ("livekit_api_secret", "secret"),
    "S3_ENDPOINT": ("s3_endpoint", "http://localhost:9000"),
    "S3_ACCESS_KEY": ("s3_access_key", "minioadmin"),
    "S3_SECRET_KEY": ("s3_secret_key", "minioadmin"),
    "AWS_REGION": ("aws_region", "us-east-1"),
    "S3_BUCKET": ("s3_bucket", "openvidu"),
    "RECORDINGS_PATH": ("recordings_path", "recordings/"),
    "RECORDING_PLAYBACK_STRATEGY": ("recording_playback_strategy", "S3"),
    "AZURE_ACCOUNT_NAME": ("azure_account_name", ""),
    "AZURE_ACCOUNT_KEY": ("azure_account_key", ""),
    "AZURE_CONTAINER_NAME": ("azure_container_name", "openvidu-appdata"),
    "AZURE_ENDPOINT": ("azure_endpoint", ""),
    "SERVER_PORT": ("server_port", "6080"),
}

_SECRET_FIELDS: Final = frozenset(
    {"livekit_api_secret", "s3_access_key", "s3_secret_key", "azure_account_key"}
)


@dataclass(frozen=True)
class Settings:
    """Everything the console needs to reach LiveKit and the recordings storage."""

    livekit_url: str = "http://localhost:7880"
    livekit_api_key: str = "devkey"
    livekit_api_secret: Secret = Secret("secret")
    s3_endpoint: str = "http://localhost:9000"
    s3_access_key: Secret = Secret("minioadmin")
    s3_secret_key: Secret = Secret("minioadmin")
    aws_region: str = "us-east-1"
    s3_bucket: str = "openvidu"
    recordings_path: str = "recordings/"
    recording_playback_strategy: str = "S3"
    azure_account_name: str = ""
    azure_account_key: Secret = Secret("")
    azure_container_name: str = "openvidu-appdata"
    azure_endpoint: str = ""
    server_port: int = 6080

    def __post_init__(self) -> None:
        _check_url("LIVEKIT_URL", self.livekit_url, ("http", "https", "ws", "wss"))
        _check_url("S3_ENDPOINT", self.s3_endpoint, ("http", "https"))
        if self.azure_endpoint:
            _check_url("AZURE_ENDPOINT", self.azure_endpoint, ("http", "https"))
        if self.recording_playback_strategy not in PLAYBACK_STRATEGIES:
            raise SettingsError(
                f"RECORDING_PLAYBACK_STRATEGY must be one of {', '.join(PLAYBACK_STRATEGIES)},"
                f" not {self.recording_playback_strategy!r}"
            )
        if not 0 < self.server_port < 65536:
            raise SettingsError(f"SERVER_PORT must be a TCP port, not {self.server_port}")
        if not self.s3_bucket:
            raise SettingsError("S3_BUCKET must not be empty")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from environment-style names, with the tutorial's defaults."""
        values: dict[str, object] = {}
        for env_name, (attr, default) in _ENV.items():
            raw = environ.get(env_name, default)
            if attr in _SECRET_FIELDS:
                values[attr] = Secret(raw)
            elif attr == "server_port":
                try:
                    values[attr] = int(raw)
                except ValueError:
                    raise SettingsError(f"SERVER_PORT must be a number, not {raw!r}") from None
            else:
                values[attr] = raw
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The settings under their environment names (secrets included: never log this)."""
        env: dict[str, str] = {}
        for env_name, (attr, _default) in _ENV.items():
            value = getattr(self, attr)
            env[env_name] = value.value if isinstance(value, Secret) else str(value)
        return env

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _check_url(name: str, value: str, schemes: tuple[str, ...]) -> None:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise SettingsError(
            f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)},"
            f" not {value!r}"
        )
