"""The real object stores: MinIO (S3) with presigned URLs, Azurite (Azure Blob) with SAS URLs."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas
from botocore.config import Config

from recconsole_devtools.devstack import (
    AZURE_ACCOUNT,
    AZURE_CONTAINER,
    AZURE_KEY,
    MINIO_PASSWORD,
    MINIO_USER,
    S3_BUCKET,
    StackConfig,
)

pytestmark = pytest.mark.integration


def _http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read()


def test_minio_object_round_trip_and_presigned_get(minio_server: StackConfig) -> None:
    s3 = boto3.client(
        "s3", endpoint_url=minio_server.s3_endpoint, aws_access_key_id=MINIO_USER,
        aws_secret_access_key=MINIO_PASSWORD, region_name="us-east-1",
        config=Config(connect_timeout=5, read_timeout=10, signature_version="s3v4"),
    )
    key = f"recordings/ground-{uuid.uuid4().hex}.mp4"
    payload = uuid.uuid4().bytes * 1000
    s3.put_object(Bucket=S3_BUCKET, Key=key, Body=payload, ContentType="video/mp4")

    assert s3.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read() == payload
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": S3_BUCKET, "Key": key}, ExpiresIn=60
    )
    assert _http_get(url) == (200, payload)
    # A presigned URL is bound to its key: pointing it elsewhere is refused.
    status, _ = _http_get(url.replace(key, key + "x"))
    assert status == 403


def test_azurite_blob_round_trip_and_read_only_sas(azurite_server: StackConfig) -> None:
    service = BlobServiceClient(
        azurite_server.azure_endpoint,
        credential={"account_name": AZURE_ACCOUNT, "account_key": AZURE_KEY},
    )
    name = f"recordings/ground-{uuid.uuid4().hex}.mp4"
    payload = uuid.uuid4().bytes * 1000
    blob = service.get_blob_client(AZURE_CONTAINER, name)
    blob.upload_blob(payload, timeout=10)

    assert blob.download_blob(timeout=10).readall() == payload
    sas = generate_blob_sas(
        AZURE_ACCOUNT, AZURE_CONTAINER, name, account_key=AZURE_KEY,
        permission=BlobSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(minutes=5),
    )
    assert _http_get(f"{blob.url}?{sas}") == (200, payload)
    # Read-only: the same SAS cannot write.
    request = urllib.request.Request(
        f"{blob.url}?{sas}", data=b"x", method="PUT", headers={"x-ms-blob-type": "BlockBlob"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    with refused.value:
        assert refused.value.code == 403
