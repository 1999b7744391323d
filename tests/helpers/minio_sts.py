"""Real temporary credentials from MinIO's own STS (AssumeRole signed by the root user).

Kept apart from the tests (only boto3 imported) so a profile's ``credential_process``
can run it as a script: ``python minio_sts.py ENDPOINT USER PASSWORD EXPIRES_IN CALLS``
prints the credentials as botocore wants them, saying they expire in EXPIRES_IN
seconds, and appends the access key it got to the file CALLS.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import boto3


def assume_role(endpoint: str, user: str, password: str, seconds: int = 900) -> dict[str, str]:
    """Credentials valid for ``seconds`` (MinIO's minimum is 900)."""
    sts = boto3.session.Session().client(
        "sts", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=user, aws_secret_access_key=password)
    try:
        answer = sts.assume_role(RoleArn="arn:xxx:xxx:xxx:xxxx", RoleSessionName="tests",
                                 DurationSeconds=seconds)["Credentials"]
    finally:
        sts.close()
    return {"AccessKeyId": answer["AccessKeyId"], "SecretAccessKey": answer["SecretAccessKey"],
            "SessionToken": answer["SessionToken"],
            "Expiration": answer["Expiration"].astimezone(UTC).isoformat()}


if __name__ == "__main__":
    endpoint, user, password, expires_in, calls = sys.argv[1:]
    credentials = {"Version": 1, **assume_role(endpoint, user, password)}
    credentials["Expiration"] = (datetime.now(UTC)
                                 + timedelta(seconds=float(expires_in))).isoformat()
    with open(calls, "a", encoding="utf-8") as log:
        log.write(credentials["AccessKeyId"] + "\n")
    print(json.dumps(credentials))
