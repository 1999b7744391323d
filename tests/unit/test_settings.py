"""Settings under the tutorials' names, with their defaults and validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recconsole.settings import (
    Secret,
    Settings,
    SettingsError,
    load_settings,
    read_dotenv,
    save_user_settings,
)
from tests.helpers.secrets import DictSecrets

pytestmark = pytest.mark.unit


def test_defaults_are_the_tutorials() -> None:
    s = Settings.from_env({})
    assert s.livekit_url == "http://localhost:7880"
    assert (s.livekit_api_key, s.livekit_api_secret.value) == ("devkey", "secret")
    assert s.s3_endpoint == "http://localhost:9000"
    assert (s.s3_access_key.value, s.s3_secret_key.value) == ("minioadmin", "minioadmin")
    assert (s.aws_region, s.s3_bucket) == ("us-east-1", "openvidu")
    assert s.recordings_path == "recordings/"
    assert s.recording_playback_strategy == "S3"
    assert s.server_port == 6080


def test_environment_overrides_defaults_and_round_trips() -> None:
    env = {"LIVEKIT_URL": "wss://example.org", "S3_BUCKET": "other", "SERVER_PORT": "7000",
           "RECORDING_PLAYBACK_STRATEGY": "PROXY", "AZURE_ACCOUNT_KEY": "k3y"}
    s = Settings.from_env(env)
    assert (s.livekit_url, s.s3_bucket, s.server_port) == ("wss://example.org", "other", 7000)
    assert s.azure_account_key.value == "k3y"
    assert Settings.from_env(s.to_env()) == s


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"LIVEKIT_URL": "localhost:7880"}, "LIVEKIT_URL"),
        ({"S3_ENDPOINT": "ftp://x"}, "S3_ENDPOINT"),
        ({"RECORDING_PLAYBACK_STRATEGY": "CDN"}, "RECORDING_PLAYBACK_STRATEGY"),
        ({"SERVER_PORT": "eighty"}, "SERVER_PORT"),
        ({"SERVER_PORT": "70000"}, "SERVER_PORT"),
        ({"S3_BUCKET": ""}, "S3_BUCKET"),
        ({"RECORDINGS_PATH": "recordings"}, "RECORDINGS_PATH"),
        ({"RECORDING_UPLOAD": "ftp"}, "RECORDING_UPLOAD"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"RECORDING_URL_EXPIRY": "0"}, "RECORDING_URL_EXPIRY"),
        ({"WEBHOOK_FORWARD_URLS": "http://127.0.0.1:1/x"}, "WEBHOOK_FORWARD_SECRET"),
        ({"WEBHOOK_FORWARD_URLS": "ftp://x", "WEBHOOK_FORWARD_SECRET": "s"},
         "WEBHOOK_FORWARD_URLS"),
    ],
)
def test_bad_values_are_refused_with_the_setting_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_secrets_never_show_in_repr() -> None:
    s = Settings.from_env({"LIVEKIT_API_SECRET": "hunter2-topsecret", "S3_SECRET_KEY": "s3cr3t"})
    assert "hunter2" not in repr(s)
    assert "s3cr3t" not in repr(s)
    assert "hunter2" not in str(s.livekit_api_secret)
    assert repr(Secret("")) == "Secret('')"


def test_sources_apply_in_order_cli_env_dotenv_user_file_keyring(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\nexport S3_BUCKET=from-dotenv\nAWS_REGION='eu-west-1'\n"
        'RECORDINGS_PATH="rec/"  \nLIVEKIT_URL=http://dotenv:7880 # trailing\n'
    )
    user = tmp_path / "settings.json"
    save_user_settings({"S3_BUCKET": "from-user", "AWS_REGION": "from-user",
                        "SERVER_PORT": "7000", "LIVEKIT_API_SECRET": "kept-in-keyring"},
                       path=user, secrets=(keyring := DictSecrets()))
    settings = load_settings(
        cli={"LIVEKIT_URL": "http://cli:7880"},
        environ={"LIVEKIT_URL": "http://env:7880", "S3_ENDPOINT": "http://env:9000",
                 "UNRELATED": "x"},
        dotenv=dotenv, user_file=user, secrets=keyring,
    )
    assert settings.livekit_url == "http://cli:7880"
    assert settings.s3_endpoint == "http://env:9000"
    assert (settings.s3_bucket, settings.aws_region) == ("from-dotenv", "eu-west-1")
    assert settings.recordings_path == "rec/"
    assert settings.server_port == 7000
    assert settings.livekit_api_secret.value == "kept-in-keyring"
    assert {name: settings.source(name) for name in (
        "LIVEKIT_URL", "S3_ENDPOINT", "S3_BUCKET", "SERVER_PORT", "LIVEKIT_API_SECRET",
        "LIVEKIT_API_KEY")} == {
        "LIVEKIT_URL": "command line", "S3_ENDPOINT": "environment", "S3_BUCKET": ".env",
        "SERVER_PORT": "settings file", "LIVEKIT_API_SECRET": "keyring",
        "LIVEKIT_API_KEY": "default"}
    assert not settings.is_set("LIVEKIT_API_KEY")


def test_secrets_go_to_the_keyring_never_to_the_settings_file(tmp_path: Path) -> None:
    user = tmp_path / "settings.json"
    keyring = DictSecrets()
    save_user_settings({"S3_SECRET_KEY": "s3-very-secret", "S3_BUCKET": "b"},
                       path=user, secrets=keyring)
    assert "s3-very-secret" not in user.read_text()
    assert keyring.values == {"S3_SECRET_KEY": "s3-very-secret"}
    assert json.loads(user.read_text()) == {"schema": 1, "settings": {"S3_BUCKET": "b"}}


def test_bad_values_are_refused_before_anything_is_saved(tmp_path: Path) -> None:
    user = tmp_path / "settings.json"
    with pytest.raises(SettingsError, match="RECORDING_PLAYBACK_STRATEGY"):
        save_user_settings({"RECORDING_PLAYBACK_STRATEGY": "CDN"}, path=user,
                           secrets=DictSecrets())
    with pytest.raises(SettingsError, match="unknown settings: NOPE"):
        save_user_settings({"NOPE": "1"}, path=user, secrets=DictSecrets())
    assert not user.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [("{", "cannot be read"), ('{"schema": 99}', "unknown format"), ("[]", "not a settings")],
)
def test_unreadable_settings_file_is_named_in_the_error(
    tmp_path: Path, content: str, message: str
) -> None:
    user = tmp_path / "settings.json"
    user.write_text(content)
    with pytest.raises(SettingsError, match=message):
        load_settings(environ={}, dotenv=None, user_file=user, secrets=DictSecrets())


def test_dotenv_line_that_cannot_be_parsed_is_reported_with_its_line(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("S3_BUCKET=x\nAWS_REGION=y\nnot a setting\n")
    with pytest.raises(SettingsError, match=r"\.env:3: expected NAME=value"):
        read_dotenv(dotenv)


def test_dotenv_is_read_as_python_dotenv_reads_it(tmp_path: Path) -> None:
    """References to earlier values, escapes in double quotes; a bare name sets nothing."""
    dotenv = tmp_path / ".env"
    dotenv.write_text('S3_HOST=s3.example.org\nS3_ENDPOINT="https://${S3_HOST}:9000"\n'
                      'PLAYBACK_TOKEN="tab\\there"\nS3_BUCKET\n')
    assert read_dotenv(dotenv) == {"S3_HOST": "s3.example.org",
                                   "S3_ENDPOINT": "https://s3.example.org:9000",
                                   "PLAYBACK_TOKEN": "tab\there"}
    settings = load_settings(environ={}, dotenv=dotenv, user_file=tmp_path / "none.json",
                             secrets=DictSecrets())
    assert settings.s3_endpoint == "https://s3.example.org:9000"
    assert settings.s3_bucket == "openvidu"
    assert (settings.source("S3_ENDPOINT"), settings.source("S3_BUCKET")) == (".env", "default")


def test_missing_sources_leave_the_tutorial_defaults(tmp_path: Path) -> None:
    settings = load_settings(environ={}, dotenv=tmp_path / "none.env",
                             user_file=tmp_path / "none.json", secrets=DictSecrets())
    assert settings == Settings()
