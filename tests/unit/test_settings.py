"""Settings under the tutorials' names, with their defaults and validation."""

from __future__ import annotations

import pytest

from recconsole.settings import Secret, Settings, SettingsError

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
