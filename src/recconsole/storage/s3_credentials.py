"""S3 credentials the way AWS tools find them, refreshed before they expire.

Keys set in the console's settings (``S3_ACCESS_KEY`` / ``S3_SECRET_KEY``, with
``S3_SESSION_TOKEN`` for temporary ones) are used as they are. Without them,
botocore's own credential chain is asked — ``AWS_ACCESS_KEY_ID`` and friends, the
shared config and credentials files (``AWS_PROFILE``, assume-role, SSO,
``credential_process``), web identity, a container role, an instance role — and
only if it finds nothing do the tutorial's development keys (``minioadmin``) apply.

Temporary credentials are renewed by botocore's ``RefreshableCredentials`` before
they expire; :meth:`S3Credentials.current` is cheap while nothing needs renewing,
so the signed fast path asks it before every request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Final

import boto3
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

from recconsole.core.errors import ConsoleError
from recconsole.settings import DEVELOPMENT_S3_KEY, Settings, is_local_url
from recconsole.storage.base import StoreError

log = logging.getLogger(__name__)

DEVELOPMENT_KEY: Final = DEVELOPMENT_S3_KEY
# botocore renews credentials that expire within 15 minutes if it can, and must within 10.
_MUST_RENEW: Final = 10 * 60
# Providers that read no profile.
_NO_PROFILE: Final = frozenset({"env", "assume-role-with-web-identity", "container-role",
                                "iam-role"})
_RETRY_AFTER: Final = 30.0
# What asking a credential source can raise: botocore's own errors, an STS or SSO
# answer refusing (ClientError), RuntimeError for credentials that came back already
# expired, OSError from a credential_process or a token file.
_SOURCE_ERRORS: Final = (BotoCoreError, ClientError, RuntimeError, OSError)
# What botocore's providers are called, in words a user recognises.
_METHODS: Final = {
    "env": "the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment variables",
    "shared-credentials-file": "the shared credentials file",
    "config-file": "the AWS config file",
    "custom-process": "the profile's credential_process",
    "assume-role": "a role the profile assumes",
    "assume-role-with-web-identity": "a web identity token",
    "sso": "AWS IAM Identity Center (SSO)",
    "login": "an AWS console login",
    "container-role": "the container's role",
    "iam-role": "the instance's role",
}


@dataclass(frozen=True)
class S3Keys:
    """One set of S3 keys; ``token`` is the session token of temporary credentials."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str = field(default="", repr=False)


class S3Credentials:
    """Where an S3 store's keys come from: fixed keys, or botocore's credential chain.

    ``instance_role``: also ask the instance metadata service (an AWS machine's role);
    left out for a store on this machine, which no instance role can sign for.
    """

    def __init__(self, keys: S3Keys | None = None, *, profile: str = "",
                 fallback: S3Keys | None = None, instance_role: bool = True) -> None:
        self._fixed = keys
        self._profile = profile
        self._fallback = fallback
        self._instance_role = instance_role
        self._lock = asyncio.Lock()
        self._resolved = False
        self._botocore: Any = None  # the botocore session whose chain found the credentials
        self._chain: Any = None  # botocore Credentials (refreshable or not)
        self._frozen: S3Keys | None = keys
        self._retry_at = 0.0  # monotonic time from which an early renewal is tried again
        self._method = "S3_ACCESS_KEY / S3_SECRET_KEY" if keys else ""

    @classmethod
    def fixed(cls, access_key: str, secret_key: str, token: str = "") -> S3Credentials:
        return cls(S3Keys(access_key, secret_key, token))

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Credentials:
        """Keys set anywhere in the settings win; else the chain; else ``minioadmin``."""
        if settings.is_set("S3_ACCESS_KEY") or settings.is_set("S3_SECRET_KEY"):
            return cls.fixed(settings.s3_access_key.value, settings.s3_secret_key.value,
                             settings.s3_session_token.value)
        return cls(profile=settings.aws_profile,
                   fallback=S3Keys(settings.s3_access_key.value, settings.s3_secret_key.value),
                   instance_role=not is_local_url(settings.s3_endpoint))

    def __repr__(self) -> str:
        return f"<S3Credentials {self.describe}>"

    @property
    def describe(self) -> str:
        """Where the keys come from, in words (known once resolved)."""
        if not self._resolved and self._fixed is None:
            where = f"AWS profile {self._profile!r}" if self._profile else "the AWS chain"
            return f"{where}, not yet asked"
        return self._method

    @property
    def development_keys(self) -> bool:
        """Whether the tutorial's development keys are the ones in use."""
        keys = self._frozen
        return keys is not None and (keys.access_key, keys.secret_key) == (
            DEVELOPMENT_KEY, DEVELOPMENT_KEY)

    async def current(self) -> S3Keys:
        """The keys to sign with now: renewed first if they expire soon."""
        frozen = self._frozen
        if frozen is not None and (self._chain is None or not self._refresh_needed()):
            return frozen
        async with self._lock:
            if not self._resolved and self._fixed is None:
                await asyncio.to_thread(self._resolve)
            if self._chain is not None and (self._frozen is None or self._refresh_needed()):
                self._frozen = await asyncio.to_thread(self._freeze)
            assert self._frozen is not None
            return self._frozen

    async def upload_keys(self) -> S3Keys:
        """:meth:`current` for an egress upload block: a failure is a ConsoleError."""
        try:
            return await self.current()
        except StoreError as err:
            raise ConsoleError(f"No S3 keys for the recording's upload: {err}") from err

    def _refresh_needed(self) -> bool:
        """Renew now: they expire within 10 minutes, or within 15 and the last try to renew
        was over ``_RETRY_AFTER`` ago (the keys in hand still sign while the source is down,
        and requests do not queue behind a renewal that fails each time)."""
        needed = getattr(self._chain, "refresh_needed", None)
        if needed is None:
            return False
        if needed(_MUST_RENEW):
            return True
        return bool(needed()) and time.monotonic() >= self._retry_at

    def _resolve(self) -> None:
        """Ask botocore's chain (blocking: files, and maybe STS, SSO or metadata)."""
        try:
            session = _botocore_session(self._chain_profile())
            if not self._instance_role:
                session.get_component("credential_provider").remove("iam-role")
            chain = session.get_credentials()
        except _SOURCE_ERRORS as err:
            raise StoreError(f"S3 credentials could not be found: {err}") from err
        self._resolved = True
        if chain is None:
            if self._fallback is None:
                raise StoreError("no S3 credentials: set S3_ACCESS_KEY and S3_SECRET_KEY, or"
                                 " AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID...)")
            self._frozen = self._fallback
            self._method = "the development default (minioadmin)"
            return
        self._botocore, self._chain = session, chain
        method = _METHODS.get(chain.method, chain.method)
        profiled = chain.method not in _NO_PROFILE
        profile = self._chain_profile() or "default"
        self._method = f"{method} (AWS profile {profile!r})" if profiled else method
        log.debug("S3 credentials from %s", self._method)

    def _chain_profile(self) -> str | None:
        """The profile the chain reads: the setting, else AWS_PROFILE (None: the default)."""
        return (self._profile or os.environ.get("AWS_PROFILE")
                or os.environ.get("AWS_DEFAULT_PROFILE") or None)

    def _freeze(self) -> S3Keys:
        self._retry_at = time.monotonic() + _RETRY_AFTER
        try:
            frozen = self._chain.get_frozen_credentials()
        except _SOURCE_ERRORS as err:
            raise StoreError(f"S3 credentials from {self._method} could not be renewed: {err}"
                             ) from err
        return S3Keys(frozen.access_key, frozen.secret_key, frozen.token or "")

    def boto3_session(self) -> boto3.session.Session:
        """A private boto3 session signing with these credentials (resolve them first).

        Chain credentials stay botocore's own object, so boto3 renews them too.
        """
        if self._botocore is not None:
            return boto3.session.Session(botocore_session=self._botocore)
        keys = self._frozen
        assert keys is not None, "resolve the credentials (await current()) first"
        # The keys are given: no profile of the environment's (even a missing one) matters.
        return boto3.session.Session(aws_access_key_id=keys.access_key,
                                     aws_secret_access_key=keys.secret_key,
                                     aws_session_token=keys.token or None,
                                     botocore_session=_botocore_session(None))


def _botocore_session(profile: str | None) -> Any:
    """A private botocore session reading ``profile`` (None: the default one).

    The profile is given, never read from AWS_PROFILE by botocore itself: it takes an
    empty AWS_PROFILE for a profile called "", which exists nowhere.
    """
    return botocore.session.Session(profile=profile,
                                    session_vars={"profile": (None, None, None, None)})
