"""S3 credentials as AWS tools find them, against the real MinIO and its own STS.

MinIO's STS hands out real temporary credentials (AssumeRole signed with the root
user): an access key, a secret and a session token that MinIO checks on every
request, so a request without the token, or with a wrong one, is refused.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from livekit import api

from recconsole.core.recorder import Recorder, upload_from_settings
from recconsole.settings import Settings, load_settings
from recconsole.storage.base import ObjectNotFound, StoreError
from recconsole.storage.s3 import S3Store
from recconsole.storage.s3_credentials import S3Credentials, S3Keys
from recconsole_devtools.devstack import (
    API_KEY,
    API_SECRET,
    MINIO_PASSWORD,
    MINIO_USER,
    S3_BUCKET,
    StackConfig,
)
from tests.helpers import minio_sts
from tests.helpers.egress_stand_in import StandInEgressServer
from tests.helpers.minio_sts import assume_role
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.secrets import DictSecrets

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@pytest.fixture
def temporary(minio_server: StackConfig) -> dict[str, str]:
    return assume_role(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD)


@pytest_asyncio.fixture
async def key(minio_server: StackConfig) -> AsyncIterator[str]:
    """A metadata file's key; removed afterwards with the root keys."""
    name = f"recordings/.metadata/creds-{uuid.uuid4().hex[:8]}.json"
    yield name
    root = S3Store(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET)
    try:
        await root.delete(name)
    finally:
        await root.aclose()


def _plain_get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        body: bytes = answer.read()
    return body


async def every_operation_works(store: S3Store, key: str) -> None:
    """Write, list, read (fast path and boto3), presign and delete: each signed request."""
    body = json.dumps({"name": key}).encode()
    await store.write_bytes(key, body, "application/json")
    listed, _ = await store.list_page("recordings/.metadata/")
    assert key in [o.key for o in listed]
    assert await store.read_bytes(key) == body  # the signed aiohttp request
    assert (await store.head(key)).size == len(body)  # boto3
    url = await store.playback_url(key, 60)
    assert await asyncio.to_thread(_plain_get, url) == body  # as a player fetches it
    await store.delete(key)
    with pytest.raises(ObjectNotFound):
        await store.read_bytes(key)


async def test_temporary_keys_in_the_settings_sign_every_request(
    minio_server: StackConfig, temporary: dict[str, str], key: str
) -> None:
    settings = Settings.from_env({
        **minio_server.env(), "S3_ACCESS_KEY": temporary["AccessKeyId"],
        "S3_SECRET_KEY": temporary["SecretAccessKey"],
        "S3_SESSION_TOKEN": temporary["SessionToken"]})
    store = S3Store.from_settings(settings)
    try:
        await every_operation_works(store, key)
        url = await store.playback_url(key, 60)
    finally:
        await store.aclose()
    assert "X-Amz-Security-Token=" in url


async def test_temporary_keys_without_their_token_are_refused(
    minio_server: StackConfig, temporary: dict[str, str]
) -> None:
    """The token is what makes them valid: MinIO checks it (so the tests above mean it)."""
    store = S3Store(minio_server.s3_endpoint, temporary["AccessKeyId"],
                    temporary["SecretAccessKey"], "us-east-1", S3_BUCKET)
    try:
        with pytest.raises(StoreError, match="credentials rejected"):
            await store.list_page("recordings/")
    finally:
        await store.aclose()


async def test_a_wrong_session_token_is_a_clear_error_at_once(
    minio_server: StackConfig, temporary: dict[str, str], key: str
) -> None:
    token = temporary["SessionToken"][:-8] + "AAAAAAAA"
    store = S3Store(minio_server.s3_endpoint, temporary["AccessKeyId"],
                    temporary["SecretAccessKey"], "us-east-1", S3_BUCKET, session_token=token,
                    timeout=5)
    started = time.monotonic()
    try:
        for call in (lambda: store.list_page("recordings/"), lambda: store.read_bytes(key),
                     lambda: store.head(key), lambda: store.write_bytes(key, b"{}")):
            with pytest.raises(StoreError, match="credentials rejected") as raised:
                await call()
            assert "S3_ACCESS_KEY / S3_SECRET_KEY" in str(raised.value)
            assert token not in str(raised.value)
    finally:
        await store.aclose()
    assert time.monotonic() - started < 5  # refused, not waited out


async def test_the_aws_environment_variables_are_used_when_no_keys_are_set(
    minio_server: StackConfig, temporary: dict[str, str], key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", temporary["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", temporary["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", temporary["SessionToken"])
    settings = load_settings(dotenv=None, secrets=DictSecrets(),
                             cli={"S3_ENDPOINT": minio_server.s3_endpoint})
    store = S3Store.from_settings(settings)
    try:
        await every_operation_works(store, key)
    finally:
        await store.aclose()
    assert "AWS_ACCESS_KEY_ID" in store.credentials.describe
    assert not store.credentials.development_keys


def _shared_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str,
                  credentials: str = "") -> None:
    (tmp_path / "aws-config").write_text(config)
    (tmp_path / "aws-credentials").write_text(credentials)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))


async def test_a_profile_of_the_shared_files_chosen_by_aws_profile(
    minio_server: StackConfig, temporary: dict[str, str], key: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _shared_files(tmp_path, monkeypatch, "[profile recordings]\nregion = us-east-1\n",
                  "[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n"
                  "[recordings]\n"
                  f"aws_access_key_id = {temporary['AccessKeyId']}\n"
                  f"aws_secret_access_key = {temporary['SecretAccessKey']}\n"
                  f"aws_session_token = {temporary['SessionToken']}\n")
    monkeypatch.setenv("AWS_PROFILE", "recordings")
    settings = load_settings(dotenv=None, secrets=DictSecrets(),
                             cli={"S3_ENDPOINT": minio_server.s3_endpoint})
    assert settings.aws_profile == "recordings"
    store = S3Store.from_settings(settings)
    try:
        await every_operation_works(store, key)
    finally:
        await store.aclose()
    assert store.credentials.describe == ("the shared credentials file"
                                          " (AWS profile 'recordings')")


async def test_an_empty_aws_profile_is_no_profile(
    minio_server: StackConfig, temporary: dict[str, str], key: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``AWS_PROFILE=`` (as a shell or an exported settings list leaves it) names none:
    fixed keys sign, and the chain reads the default profile."""
    monkeypatch.setenv("AWS_PROFILE", "")
    fixed = S3Store(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1",
                    S3_BUCKET)
    try:
        await every_operation_works(fixed, key)
    finally:
        await fixed.aclose()
    _shared_files(tmp_path, monkeypatch, "", "[default]\n"
                  f"aws_access_key_id = {temporary['AccessKeyId']}\n"
                  f"aws_secret_access_key = {temporary['SecretAccessKey']}\n"
                  f"aws_session_token = {temporary['SessionToken']}\n")
    chain = S3Store.from_settings(load_settings(
        dotenv=None, secrets=DictSecrets(), cli={"S3_ENDPOINT": minio_server.s3_endpoint}))
    try:
        await every_operation_works(chain, key)
    finally:
        await chain.aclose()
    assert chain.credentials.describe == "the shared credentials file (AWS profile 'default')"


async def test_a_missing_profile_is_named(minio_server: StackConfig, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _shared_files(tmp_path, monkeypatch, "[default]\nregion = us-east-1\n")
    settings = Settings.from_env({"S3_ENDPOINT": minio_server.s3_endpoint,
                                  "AWS_PROFILE": "nowhere"})
    store = S3Store.from_settings(settings)
    try:
        with pytest.raises(StoreError, match=r"S3 credentials could not be found.*nowhere"):
            await store.list_page("recordings/")
    finally:
        await store.aclose()


def _credential_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str,
                        valid_for: timedelta) -> Path:
    """A profile "sts" whose credential_process asks MinIO's STS each time it runs and
    says the answer expires after ``valid_for``; the file returned lists each run's key."""
    calls = tmp_path / "calls"
    command = [sys.executable, minio_sts.__file__, endpoint, MINIO_USER, MINIO_PASSWORD,
               str(valid_for.total_seconds()), str(calls)]
    _shared_files(tmp_path, monkeypatch,
                  f"[profile sts]\ncredential_process = {shlex.join(command)}\n")
    return calls


async def test_credentials_that_expire_soon_are_renewed_before_a_request(
    minio_server: StackConfig, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 9 minutes left: inside the 10 minutes in which they must be renewed, so every
    # request first renews them (and each renewal again says 9 minutes).
    calls = _credential_process(tmp_path, monkeypatch, minio_server.s3_endpoint,
                                timedelta(minutes=9))
    settings = Settings.from_env({"S3_ENDPOINT": minio_server.s3_endpoint,
                                  "AWS_PROFILE": "sts"})
    store = S3Store.from_settings(settings)
    try:
        await store.write_bytes(key, b"{}")
        first = calls.read_text().split()
        assert await store.read_bytes(key) == b"{}"
        assert (await store.list_page("recordings/.metadata/"))[0]
        used = calls.read_text().split()
    finally:
        await store.aclose()
    assert len(first) >= 1
    assert len(used) > len(first)  # renewed, and the renewed keys were accepted
    assert len(set(used)) == len(used)  # each renewal is a new temporary key
    assert "credential_process" in store.credentials.describe


async def test_credentials_that_may_be_renewed_are_tried_once_then_kept_a_while(
    minio_server: StackConfig, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """12 minutes left: renewing is tried, but not before every request."""
    root = S3Store(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET)
    try:
        await root.write_bytes(key, b"{}")
    finally:
        await root.aclose()
    calls = _credential_process(tmp_path, monkeypatch, minio_server.s3_endpoint,
                                timedelta(minutes=12))
    store = S3Store.from_settings(Settings.from_env(
        {"S3_ENDPOINT": minio_server.s3_endpoint, "AWS_PROFILE": "sts"}))
    try:
        assert await store.read_bytes(key) == b"{}"
        after_first = calls.read_text().split()
        for _ in range(5):
            assert await store.read_bytes(key) == b"{}"
    finally:
        await store.aclose()
    assert len(after_first) == 2  # found, then renewed once as they may be
    assert calls.read_text().split() == after_first  # and not again within 30 s


async def test_credentials_that_come_back_expired_are_a_clear_error_at_once(
    minio_server: StackConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _credential_process(tmp_path, monkeypatch, minio_server.s3_endpoint,
                        timedelta(minutes=-1))
    store = S3Store.from_settings(Settings.from_env(
        {"S3_ENDPOINT": minio_server.s3_endpoint, "AWS_PROFILE": "sts"}))
    started = time.monotonic()
    try:
        for call in (lambda: store.list_page("recordings/"), lambda: store.head("x"),
                     lambda: store.playback_url("x")):
            with pytest.raises(StoreError, match=r"could not be renewed.*still expired"):
                await call()
    finally:
        await store.aclose()
    assert time.monotonic() - started < 20  # each try runs the process once, no waiting


async def test_credentials_far_from_expiry_are_not_asked_for_again(
    minio_server: StackConfig, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _credential_process(tmp_path, monkeypatch, minio_server.s3_endpoint,
                                timedelta(hours=1))
    store = S3Store.from_settings(Settings.from_env(
        {"S3_ENDPOINT": minio_server.s3_endpoint, "AWS_PROFILE": "sts"}))
    try:
        await store.write_bytes(key, b"{}")
        for _ in range(5):
            assert await store.read_bytes(key) == b"{}"
    finally:
        await store.aclose()
    assert len(calls.read_text().split()) == 1


async def test_no_keys_and_no_aws_credentials_leave_the_development_keys(
    minio_server: StackConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _shared_files(tmp_path, monkeypatch, "")
    store = S3Store.from_settings(Settings.from_env({"S3_ENDPOINT": minio_server.s3_endpoint}))
    try:
        await store.list_page("recordings/")
    finally:
        await store.aclose()
    assert store.credentials.development_keys
    assert store.credentials.describe == "the development default (minioadmin)"


async def test_egress_upload_block_carries_fresh_temporary_credentials(
    minio_server: StackConfig, temporary: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", temporary["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", temporary["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", temporary["SessionToken"])
    settings = Settings.from_env({"S3_ENDPOINT": minio_server.s3_endpoint,
                                  "RECORDING_UPLOAD": "s3"})
    credentials = S3Credentials.from_settings(settings)
    upload = upload_from_settings(settings, credentials.current)
    assert callable(upload)
    block = await upload()
    assert isinstance(block, api.S3Upload)
    assert (block.access_key, block.secret, block.session_token) == (
        temporary["AccessKeyId"], temporary["SecretAccessKey"], temporary["SessionToken"])
    assert (block.endpoint, block.bucket) == (minio_server.s3_endpoint, S3_BUCKET)


async def test_each_start_hands_egress_the_keys_current_then_stand_in(
    minio_server: StackConfig, livekit_server: StackConfig, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keys that must be renewed (9 minutes left): two starts, two fresh temporary keys,
    each with its token, each accepted by MinIO. The egress calls go to
    StandInEgressServer (rooms on the real LiveKit server): what is checked is the
    upload block a start hands over."""
    calls = _credential_process(tmp_path, monkeypatch, minio_server.s3_endpoint,
                                timedelta(minutes=9))
    settings = Settings.from_env({"S3_ENDPOINT": minio_server.s3_endpoint,
                                  "AWS_PROFILE": "sts", "RECORDING_UPLOAD": "s3"})
    credentials = S3Credentials.from_settings(settings)
    server = StandInEgressServer(livekit_server.livekit_url, API_KEY, API_SECRET,
                                 app_name=TEST_APP)
    recorder = Recorder(server, upload=upload_from_settings(settings, credentials.upload_keys))
    blocks = []
    try:
        for _ in range(2):
            room = unique_room("upload")
            await server.ensure_room(room)
            info = await recorder.start(room)
            blocks.append(info.room_composite.file_outputs[0].s3)
    finally:
        await recorder.aclose()
        await server.aclose()
    assert blocks[0].access_key != blocks[1].access_key
    assert set(calls.read_text().split()) >= {b.access_key for b in blocks}
    for block in blocks:
        assert block.session_token
        assert (block.endpoint, block.bucket, block.force_path_style) == (
            minio_server.s3_endpoint, S3_BUCKET, True)
        store = S3Store(block.endpoint, block.access_key, block.secret, "us-east-1",
                        block.bucket, session_token=block.session_token)
        try:
            await store.list_page("recordings/")  # MinIO takes what egress was given
        finally:
            await store.aclose()


async def test_keys_never_show_in_repr() -> None:
    keys = S3Keys("AKIA", "very-secret", "very-token")
    credentials = S3Credentials(keys)
    for shown in (repr(keys), repr(credentials), credentials.describe):
        assert "very-secret" not in shown
        assert "very-token" not in shown

