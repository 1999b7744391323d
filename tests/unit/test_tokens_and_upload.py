"""Grants of minted tokens and the egress upload block built from settings."""

from __future__ import annotations

import json

import pytest
from livekit import api

from recconsole.core.recorder import upload_from_settings
from recconsole.core.tokens import mint_token
from recconsole.settings import Settings
from recconsole_devtools.devstack import API_KEY, API_SECRET

pytestmark = pytest.mark.unit


def test_observer_token_is_hidden_and_subscribe_only() -> None:
    claims = api.TokenVerifier(API_KEY, API_SECRET).verify(
        mint_token(API_KEY, API_SECRET, "r", "obs", observer=True))
    grants = claims.video
    assert grants is not None
    assert (grants.room, grants.room_join, grants.hidden) == ("r", True, True)
    assert (grants.can_publish, grants.can_publish_data, grants.room_record) == (
        False, False, False)
    moderator = api.TokenVerifier(API_KEY, API_SECRET).verify(
        mint_token(API_KEY, API_SECRET, "r", "mod", "Moderator"))
    assert moderator.video is not None
    assert moderator.video.room_record
    assert moderator.video.can_publish
    assert moderator.name == "Moderator"


def test_upload_block_follows_recording_upload() -> None:
    base = {"S3_ENDPOINT": "http://127.0.0.1:9000", "S3_BUCKET": "rec", "AWS_REGION": "eu",
            "AZURE_ACCOUNT_NAME": "acct", "AZURE_ACCOUNT_KEY": "k3y",
            "AZURE_CONTAINER_NAME": "cont"}
    assert upload_from_settings(Settings.from_env(base)) is None
    s3 = upload_from_settings(Settings.from_env({**base, "RECORDING_UPLOAD": "s3"}))
    assert isinstance(s3, api.S3Upload)
    assert (s3.endpoint, s3.bucket, s3.region, s3.access_key, s3.force_path_style) == (
        "http://127.0.0.1:9000", "rec", "eu", "minioadmin", True)
    azure = upload_from_settings(Settings.from_env({**base, "RECORDING_UPLOAD": "azure"}))
    assert isinstance(azure, api.AzureBlobUpload)
    assert (azure.account_name, azure.account_key, azure.container_name) == (
        "acct", "k3y", "cont")
    assert json.dumps(str(Settings.from_env(base))).count("k3y") == 0
