"""Typed, validated settings under the names the OpenVidu recording tutorials use.

Names, defaults and meanings follow the tutorials' ``config.js`` so that one
environment can drive both a tutorial server and this console. Values come from,
highest first: command-line options, the environment, a ``.env`` file, the user's
settings file, and the OS keyring (secrets only) — see :func:`load_settings`.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
KEYRING_SERVICE: Final = "recconsole"


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
PLAYBACK_AUTH_MODES: Final = ("auto", "required", "off")
RECORDING_UPLOADS: Final = ("egress", "s3", "azure")
STORAGE_KINDS: Final = ("s3", "azure", "local")


@dataclass(frozen=True)
class _Spec:
    env: str
    attr: str
    default: str
    kind: str = "str"  # str | secret | int | float


_SPECS: Final = (
    _Spec("LIVEKIT_URL", "livekit_url", "http://localhost:7880"),
    _Spec("LIVEKIT_API_KEY", "livekit_api_key", "devkey"),
    _Spec("LIVEKIT_API_SECRET", "livekit_api_secret", "secret", "secret"),
    _Spec("S3_ENDPOINT", "s3_endpoint", "http://localhost:9000"),
    _Spec("S3_ACCESS_KEY", "s3_access_key", "minioadmin", "secret"),
    _Spec("S3_SECRET_KEY", "s3_secret_key", "minioadmin", "secret"),
    # Beyond the tutorials: temporary keys' token, and the AWS profile asked when no
    # keys are set (see recconsole.storage.s3_credentials).
    _Spec("S3_SESSION_TOKEN", "s3_session_token", "", "secret"),
    _Spec("AWS_PROFILE", "aws_profile", ""),
    _Spec("AWS_REGION", "aws_region", "us-east-1"),
    _Spec("S3_BUCKET", "s3_bucket", "openvidu"),
    _Spec("RECORDINGS_PATH", "recordings_path", "recordings/"),
    _Spec("RECORDING_PLAYBACK_STRATEGY", "recording_playback_strategy", "S3"),
    _Spec("AZURE_ACCOUNT_NAME", "azure_account_name", ""),
    _Spec("AZURE_ACCOUNT_KEY", "azure_account_key", "", "secret"),
    _Spec("AZURE_CONTAINER_NAME", "azure_container_name", "openvidu-appdata"),
    _Spec("AZURE_ENDPOINT", "azure_endpoint", ""),
    _Spec("SERVER_PORT", "server_port", "6080", "int"),
    # Beyond the tutorials: where recordings are uploaded, kept and how long links live.
    _Spec("APP_NAME", "app_name", "openvidu-recording-advanced-node"),
    _Spec("RECORDING_UPLOAD", "recording_upload", "egress"),
    _Spec("RECORDINGS_STORAGE", "recordings_storage", "s3"),
    _Spec("RECORDINGS_DIR", "recordings_dir", ""),
    _Spec("RECORDING_URL_EXPIRY", "recording_url_expiry", "3600", "int"),
    _Spec("RECORDING_START_TIMEOUT", "recording_start_timeout", "20", "float"),
    # A custom recording layout: the web page egress records instead of its own grid.
    _Spec("RECORDING_LAYOUT_URL", "recording_layout_url", ""),
    # What a start records unless the moderator (or the command line) says otherwise.
    _Spec("RECORDING_LAYOUT", "recording_layout", "grid"),
    _Spec("RECORDING_CONTENT", "recording_content", "audio+video"),
    _Spec("RECORDING_PRESET", "recording_preset", ""),
    _Spec("RECORDING_OUTPUT", "recording_output", "mp4"),
    _Spec("APP_SERVER_URL", "app_server_url", ""),
    _Spec("REDIS_URL", "redis_url", ""),
    _Spec("WEBHOOK_FORWARD_URLS", "webhook_forward_urls", ""),
    _Spec("WEBHOOK_FORWARD_SECRET", "webhook_forward_secret", "", "secret"),
    # Who may use the PROXY playback routes: "auto" asks for a credential (a signed link
    # or PLAYBACK_TOKEN) when the listener is bound beyond loopback.
    _Spec("PLAYBACK_AUTH", "playback_auth", "auto"),
    _Spec("PLAYBACK_TOKEN", "playback_token", "", "secret"),
)
ENV_NAMES: Final = tuple(spec.env for spec in _SPECS)
SECRET_NAMES: Final = frozenset(spec.env for spec in _SPECS if spec.kind == "secret")
DEFAULTS: Final = {spec.env: spec.default for spec in _SPECS}

# Where a value can come from, highest first.
COMMAND_LINE: Final = "command line"
ENVIRONMENT: Final = "environment"
DOTENV: Final = ".env"
USER_FILE: Final = "settings file"
KEYRING: Final = "keyring"
DEFAULT: Final = "default"
SOURCES: Final = (COMMAND_LINE, ENVIRONMENT, DOTENV, USER_FILE, KEYRING, DEFAULT)


@dataclass(frozen=True)
class Settings:
    """Everything the console needs to reach LiveKit and the recordings storage."""

    livekit_url: str = "http://localhost:7880"
    livekit_api_key: str = "devkey"
    livekit_api_secret: Secret = Secret("secret")
    s3_endpoint: str = "http://localhost:9000"
    s3_access_key: Secret = Secret("minioadmin")
    s3_secret_key: Secret = Secret("minioadmin")
    s3_session_token: Secret = Secret("")
    aws_profile: str = ""
    aws_region: str = "us-east-1"
    s3_bucket: str = "openvidu"
    recordings_path: str = "recordings/"
    recording_playback_strategy: str = "S3"
    azure_account_name: str = ""
    azure_account_key: Secret = Secret("")
    azure_container_name: str = "openvidu-appdata"
    azure_endpoint: str = ""
    server_port: int = 6080
    app_name: str = "openvidu-recording-advanced-node"
    recording_upload: str = "egress"
    recordings_storage: str = "s3"
    recordings_dir: str = ""
    recording_url_expiry: int = 3600
    recording_start_timeout: float = 20.0
    recording_layout_url: str = ""
    recording_layout: str = "grid"
    recording_content: str = "audio+video"
    recording_preset: str = ""  # empty: egress's default (720p30)
    recording_output: str = "mp4"
    app_server_url: str = ""
    redis_url: str = ""
    webhook_forward_urls: str = ""  # comma-separated
    webhook_forward_secret: Secret = Secret("")
    playback_auth: str = "auto"
    playback_token: Secret = Secret("")
    # Where each setting's value came from (its environment name → one of SOURCES);
    # a name not in it has its default.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def source(self, name: str) -> str:
        """Where ``name``'s value came from: one of :data:`SOURCES`."""
        return self.sources.get(name, DEFAULT)

    def is_set(self, name: str) -> bool:
        """Whether ``name`` was given by any source (not left to its default)."""
        return self.source(name) != DEFAULT

    @property
    def forward_urls(self) -> list[str]:
        return [u.strip() for u in self.webhook_forward_urls.split(",") if u.strip()]

    def __post_init__(self) -> None:
        _check_url("LIVEKIT_URL", self.livekit_url, ("http", "https", "ws", "wss"))
        _check_url("S3_ENDPOINT", self.s3_endpoint, ("http", "https"))
        for name, value in (("AZURE_ENDPOINT", self.azure_endpoint),
                            ("APP_SERVER_URL", self.app_server_url),
                            ("RECORDING_LAYOUT_URL", self.recording_layout_url)):
            if value:
                _check_url(name, value, ("http", "https"))
        if self.redis_url:
            _check_url("REDIS_URL", self.redis_url, ("redis", "rediss", "unix"))
        for url in self.forward_urls:
            _check_url("WEBHOOK_FORWARD_URLS", url, ("http", "https"))
        if self.forward_urls and not self.webhook_forward_secret:
            raise SettingsError("WEBHOOK_FORWARD_SECRET must be set to sign forwarded events")
        _check_choice("RECORDING_PLAYBACK_STRATEGY", self.recording_playback_strategy,
                      PLAYBACK_STRATEGIES)
        _check_choice("PLAYBACK_AUTH", self.playback_auth, PLAYBACK_AUTH_MODES)
        _check_choice("RECORDING_UPLOAD", self.recording_upload, RECORDING_UPLOADS)
        _check_choice("RECORDINGS_STORAGE", self.recordings_storage, STORAGE_KINDS)
        self._check_recording_defaults()
        if not 0 < self.server_port < 65536:
            raise SettingsError(f"SERVER_PORT must be a TCP port, not {self.server_port}")
        if not self.s3_bucket:
            raise SettingsError("S3_BUCKET must not be empty")
        if self.recordings_path and not self.recordings_path.endswith("/"):
            raise SettingsError(f"RECORDINGS_PATH must end with '/', not {self.recordings_path!r}")
        if self.recording_url_expiry <= 0 or self.recording_start_timeout <= 0:
            raise SettingsError("RECORDING_URL_EXPIRY and RECORDING_START_TIMEOUT must be > 0")

    def _check_recording_defaults(self) -> None:
        from recconsole.core.recording_options import (  # the values' one definition
            BadRecordingOptions,
            Content,
            Layout,
            OutputFormat,
            Preset,
            parse_choice,
        )

        try:
            parse_choice(Layout, self.recording_layout, "RECORDING_LAYOUT")
            parse_choice(Content, self.recording_content, "RECORDING_CONTENT")
            if self.recording_preset:
                parse_choice(Preset, self.recording_preset, "RECORDING_PRESET")
            if (parse_choice(OutputFormat, self.recording_output, "RECORDING_OUTPUT")
                    is OutputFormat.OGG and parse_choice(
                        Content, self.recording_content, "RECORDING_CONTENT")
                    is not Content.AUDIO_ONLY):
                raise BadRecordingOptions(
                    "RECORDING_OUTPUT=ogg holds audio only: set RECORDING_CONTENT=audio")
        except BadRecordingOptions as err:
            raise SettingsError(str(err)) from None

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], sources: Mapping[str, str] | None = None
    ) -> Settings:
        """Build settings from environment-style names, with the tutorial's defaults.

        ``sources``: where each value came from; by default, every name present in
        ``environ`` counts as set by the environment.
        """
        values: dict[str, object] = {}
        for spec in _SPECS:
            raw = environ.get(spec.env, spec.default)
            values[spec.attr] = _convert(spec, raw)
        if sources is None:
            sources = {name: ENVIRONMENT for name in environ if name in ENV_NAMES}
        return cls(**values, sources=dict(sources))  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The settings under their environment names (secrets included: never log this)."""
        env: dict[str, str] = {}
        for spec in _SPECS:
            value = getattr(self, spec.attr)
            env[spec.env] = value.value if isinstance(value, Secret) else str(value)
        return env

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


DEVELOPMENT_LIVEKIT_KEYS: Final = ("devkey", "secret")
DEVELOPMENT_S3_KEY: Final = "minioadmin"
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def is_local_url(url: str) -> bool:
    """Whether ``url`` names this machine (a development server)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in _LOOPBACK_HOSTS or host.startswith("127.") or host.endswith(".localhost")


def development_defaults(settings: Settings) -> list[str]:
    """Warnings, in words: the development credentials are aimed at a server elsewhere.

    The tutorials' keys (``devkey``/``secret``, ``minioadmin``) are fine against the
    local dev stack; sent to another machine they are either refused or, worse, accepted.
    """
    warnings: list[str] = []
    livekit = (settings.livekit_api_key, settings.livekit_api_secret.value)
    if livekit == DEVELOPMENT_LIVEKIT_KEYS and not is_local_url(settings.livekit_url):
        warnings.append(f"The LiveKit API credentials are the development defaults (API key"
                        f" devkey), but the server is {settings.livekit_url}.")
    uses_s3 = "s3" in (settings.recordings_storage, settings.recording_upload)
    if uses_s3 and not is_local_url(settings.s3_endpoint):
        keys = (settings.s3_access_key.value, settings.s3_secret_key.value)
        if not (settings.is_set("S3_ACCESS_KEY") or settings.is_set("S3_SECRET_KEY")):
            warnings.append(f"No S3 keys are set: unless AWS credentials are found (AWS_PROFILE,"
                            f" AWS_ACCESS_KEY_ID...), the development keys (minioadmin) are"
                            f" sent to {settings.s3_endpoint}.")
        elif DEVELOPMENT_S3_KEY in keys:
            warnings.append(f"The S3 keys are the development default (minioadmin), but the"
                            f" storage is {settings.s3_endpoint}.")
    return warnings


def _convert(spec: _Spec, raw: str) -> object:
    if spec.kind == "secret":
        return Secret(raw)
    if spec.kind in ("int", "float"):
        try:
            return int(raw) if spec.kind == "int" else float(raw)
        except ValueError:
            raise SettingsError(f"{spec.env} must be a number, not {raw!r}") from None
    return raw


def _check_url(name: str, value: str, schemes: tuple[str, ...]) -> None:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.hostname or parts.scheme == "unix"):
        raise SettingsError(
            f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)},"
            f" not {value!r}"
        )


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


# --- where settings come from ---------------------------------------------------------


class SecretStore(Protocol):
    """Where secrets are kept between runs (the OS keyring)."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...


class KeyringSecrets:
    """Secrets in the OS keyring under the service ``recconsole``."""

    def get(self, name: str) -> str | None:
        import keyring
        from keyring.errors import KeyringError

        try:
            return keyring.get_password(KEYRING_SERVICE, name)
        except KeyringError as err:
            log.debug("no keyring available: %s", type(err).__name__)
            return None

    def set(self, name: str, value: str) -> None:
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.set_password(KEYRING_SERVICE, name, value)
            kept = keyring.get_password(KEYRING_SERVICE, name) == value
        except KeyringError as err:
            raise SettingsError(
                f"The OS keyring cannot store {name}: {type(err).__name__}."
                " Set it in the environment instead."
            ) from None
        if not kept:  # e.g. keyring's "null" backend, which drops everything silently
            raise SettingsError(
                f"The OS keyring ({type(keyring.get_keyring()).__name__}) did not keep {name}."
                " Set it in the environment instead.")


def _platform_dir(xdg_name: str, xdg_default: str) -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    return Path(os.environ.get(xdg_name) or Path.home() / xdg_default)


def user_settings_path() -> Path:
    """The user's settings file, in the platform's configuration folder."""
    return _platform_dir("XDG_CONFIG_HOME", ".config") / "recconsole" / "settings.json"


def user_data_dir() -> Path:
    """Where the console keeps its own data (the webhook queue, local recordings)."""
    return _platform_dir("XDG_DATA_HOME", ".local/share") / "recconsole"


def read_dotenv(path: Path) -> dict[str, str]:
    """A ``.env`` file's values, read by python-dotenv; none if absent.

    A line python-dotenv cannot parse is an error naming the file and line (python-dotenv
    itself would only log it and go on without the value).
    """
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise SettingsError(f"{path} cannot be read: {err}") from None
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise SettingsError(f"{path}:{binding.original.line}: expected NAME=value")
    values = dotenv_values(stream=io.StringIO(text))
    return {key: value for key, value in values.items() if value is not None}


def read_user_settings(path: Path) -> dict[str, str]:
    """The user's saved settings (no secrets: those live in the keyring)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SettingsError(f"The settings file {path} cannot be read: {err}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_VERSION:
        raise SettingsError(
            f"The settings file {path} has an unknown format (schema {data.get('schema')!r}"
            f" where {SCHEMA_VERSION} is expected)" if isinstance(data, dict) else
            f"The settings file {path} is not a settings object"
        )
    values = data.get("settings", {})
    return {k: str(v) for k, v in values.items() if k in ENV_NAMES and k not in SECRET_NAMES}


def save_user_settings(
    values: Mapping[str, str], path: Path | None = None, secrets: SecretStore | None = None
) -> None:
    """Save settings: plain ones to the user file, secrets to the keyring only."""
    path = path or user_settings_path()
    unknown = set(values) - set(ENV_NAMES)
    if unknown:
        raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
    Settings.from_env({**read_user_settings(path), **values})  # refuse bad values before saving
    plain = {**read_user_settings(path),
             **{k: v for k, v in values.items() if k not in SECRET_NAMES}}
    store = secrets or KeyringSecrets()
    for name in SECRET_NAMES & set(values):
        store.set(name, values[name])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"schema": SCHEMA_VERSION, "settings": plain}, indent=2))
    tmp.replace(path)


def load_settings(
    cli: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv: Path | None = Path(".env"),
    user_file: Path | None = None,
    secrets: SecretStore | None = None,
) -> Settings:
    """Settings from every source, highest first: CLI, environment, .env, user file, keyring.

    The settings remember where each value came from (:meth:`Settings.source`).
    """
    environ = os.environ if environ is None else environ
    layers: list[tuple[str, Mapping[str, str]]] = [
        (COMMAND_LINE, cli or {}),
        (ENVIRONMENT, {k: v for k, v in environ.items() if k in ENV_NAMES}),
        (DOTENV, {k: v for k, v in read_dotenv(dotenv).items() if k in ENV_NAMES}
         if dotenv is not None else {}),
        (USER_FILE, read_user_settings(user_file or user_settings_path())),
        (KEYRING, read_secrets(secrets or KeyringSecrets())),
    ]
    merged: dict[str, str] = {}
    sources: dict[str, str] = {}
    for source, values in reversed(layers):
        merged.update(values)
        sources.update(dict.fromkeys(values, source))
    return Settings.from_env(merged, sources)


def read_secrets(store: SecretStore) -> dict[str, str]:
    """The secrets kept in ``store`` (the keyring)."""
    values: dict[str, str] = {}
    for name in sorted(SECRET_NAMES):
        value = store.get(name)
        if value is not None:
            values[name] = value
    return values
