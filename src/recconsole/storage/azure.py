"""Azure Blob storage (Azure, Azurite) through azure-storage-blob's asyncio client.

Keys are blob names in one container; a "folder" is a name prefix ending in ``/``, as
in S3. The SDK's own retry policy backs off for 15 s and more before giving up, which
would leave a moderator waiting on a server that is down, so it is replaced by a single
immediate retry, and every call also runs under a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import SplitResult, urlsplit

from azure.core import MatchConditions
from azure.core.async_paging import AsyncItemPaged, AsyncPageIterator
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.storage.blob import (
    BlobBlock,
    BlobProperties,
    BlobSasPermissions,
    ContentSettings,
    generate_blob_sas,
)
from azure.storage.blob.aio import ContainerClient, LinearRetry

from recconsole.storage.base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_PAGE_SIZE,
    InvalidRange,
    KeyRefused,
    ObjectChanged,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StoreError,
    UploadJournal,
    check_range,
    folder_entry,
    quoted_etag,
)

if TYPE_CHECKING:
    from recconsole.settings import Settings

# Azure allows longer SAS lifetimes; the same bound as S3 presigning keeps the backends alike.
_MAX_SAS_SECONDS: Final = 7 * 24 * 3600
# Bytes one download request fetches: bounds the memory a streamed read holds.
_GET_SIZE: Final = 4 * 1024 * 1024
# Largest body one upload request sends: aiohttp warns that a bytes body over 1 MiB
# blocks the event loop, so larger objects go up as a list of blocks of this size.
_PUT_SIZE: Final = 1024 * 1024
# A transfer slower than this (bytes/s) is given up on once its deadline has passed.
_MIN_RATE: Final = 256 * 1024
_CREDENTIAL_CODES: Final = frozenset({"AuthenticationFailed", "InvalidAuthenticationInfo"})


def _code(err: HttpResponseError) -> str:
    """The service's error code (``x-ms-error-code``) as a plain string."""
    code = getattr(err, "error_code", None)  # set by the storage SDK, not azure-core
    return str(getattr(code, "value", code) or "")


def _summary(err: HttpResponseError) -> str:
    """The first line of the service's message (the rest is request ids and raw XML)."""
    lines = str(err.message or err.reason or "").strip().splitlines()
    return lines[0][:200] if lines else ""


def _block_id(prefix: str, number: int) -> str:
    """The id of block ``number`` of one upload (the SDK sends it base64-encoded; the ids
    of one blob must all be of one length)."""
    return f"{prefix}-{number:08d}"


def _block_number(block_id: str, prefix: str) -> int | None:
    """The number in an id :func:`_block_id` made with ``prefix``; None if another's."""
    head, _, number = str(block_id).partition("-")
    return int(number) if head == prefix and number.isdigit() else None


def _read_block(path: Path, number: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek((number - 1) * _PUT_SIZE)
        return handle.read(_PUT_SIZE)


def _http_url(url: str) -> SplitResult | None:
    """``url`` split, if it is a plain http(s) URL; StoreError if it holds a secret."""
    secret = StoreError("the Azure endpoint URL must not carry credentials or a SAS")
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0  # out of range raises ValueError
    except ValueError:
        if "@" in url or "?" in url:
            raise secret from None
        return None
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise secret  # said without the URL: it may hold a password or a SAS
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        return None
    return parts


class AzureStore(ObjectStore):
    """Objects in one container of an Azure Blob storage account (or of Azurite)."""

    def __init__(
        self,
        account_name: str,
        account_key: str,
        container: str,
        endpoint: str = "",
        *,
        timeout: float = 10.0,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        if not account_name:
            raise StoreError("an Azure storage account name is needed (AZURE_ACCOUNT_NAME)")
        if not container:
            raise StoreError("an Azure container name is needed (AZURE_CONTAINER_NAME)")
        try:
            valid_key = bool(account_key) and bool(base64.b64decode(account_key, validate=True))
        except (binascii.Error, ValueError):
            valid_key = False
        if not valid_key:
            # Said without the key: it is the secret.
            raise StoreError("the Azure account key must be the account's base64 access key "
                             "(AZURE_ACCOUNT_KEY)")
        endpoint = (endpoint or f"https://{account_name}.blob.core.windows.net").rstrip("/")
        parts = _http_url(endpoint)
        if parts is None:
            raise StoreError(f"not an Azure Blob endpoint URL: {endpoint!r}")
        if not 1 <= page_size <= 5000:
            raise ValueError(f"page_size must be 1..5000, not {page_size}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        self._account = account_name
        self._key = account_key
        self._container_name = container
        self._endpoint = endpoint
        self._https = parts.scheme == "https"
        self._timeout = timeout
        # Two attempts, each bounded by the socket timeouts, and a little slack.
        self._deadline = 2 * timeout + 1
        self._page_size = page_size
        self._client: ContainerClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> AzureStore:
        """The store the settings (SPEC names AZURE_*) point at."""
        return cls(
            settings.azure_account_name, settings.azure_account_key.value,
            settings.azure_container_name, settings.azure_endpoint, **kwargs,
        )

    @property
    def describe(self) -> str:
        return f"azure {self._endpoint} container {self._container_name}"

    def __repr__(self) -> str:
        return f"<AzureStore {self.describe}>"

    # -- the SDK client ------------------------------------------------------------------

    def _container(self) -> ContainerClient:
        """The container client of the running loop (its aiohttp session is bound to it)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = ContainerClient(
                self._endpoint,
                self._container_name,
                credential={"account_name": self._account, "account_key": self._key},
                connection_timeout=self._timeout,
                read_timeout=self._timeout,
                # Mostly for a kept-alive connection the server closed as it was reused;
                # a refused connection is refused again within milliseconds.
                retry_policy=LinearRetry(backoff=0, random_jitter_range=0, retry_total=1),
                max_single_get_size=_GET_SIZE,
                max_chunk_get_size=_GET_SIZE,
                max_single_put_size=_PUT_SIZE,
                max_block_size=_PUT_SIZE,
                # Two INFO records per request would drown the application's log.
                http_logging_level=logging.DEBUG,
            )
            self._client_loop = loop
        return self._client

    def _deadline_for(self, size: int) -> float:
        return self._deadline + size / _MIN_RATE

    # -- errors --------------------------------------------------------------------------

    def _error(self, err: HttpResponseError, key: str | None) -> StoreError:
        status, code = err.status_code or 0, _code(err)
        where = f"at {self._endpoint}"
        container = f'container "{self._container_name}"'
        if code == "ContainerNotFound":
            return StoreError(f"{container} does not exist {where}")
        if code == "BlobNotFound" or (status == 404 and not code and key is not None):
            return ObjectNotFound(f'"{key}" not found in {container}')
        # Azurite answers a wrong key with AuthorizationFailure where Azure says
        # AuthenticationFailed; both say the server "failed to authenticate" the request.
        text = f"{err.reason or ''} {err.message or ''}".lower()
        if code in _CREDENTIAL_CODES or (status == 403 and "failed to authenticate" in text):
            return StoreError(f"credentials rejected by the storage {where} ({code or 403})")
        if status == 403:
            return StoreError(f"access to {container} denied by the storage {where} "
                              f"({code or 403})")
        if code in ("InvalidResourceName", "InvalidUri", "OutOfRangeInput"):
            return KeyRefused(f'the storage {where} cannot hold the key "{key}" ({code})')
        if code == "InvalidRange" or status == 416:
            return InvalidRange(f'range not satisfiable for "{key}"')
        # ConditionNotMet (the SDK's ResourceModifiedError): an If-Match read of a replaced blob.
        if code == "ConditionNotMet" or status == 412:
            return ObjectChanged(f'"{key}" was replaced in {container} '
                                 "(it is not the version asked for)")
        summary = _summary(err)
        detail = f"{code}: {summary}" if code else f"HTTP {status} {summary}".rstrip()
        return StoreError(f"storage error {where}: {detail}")

    def _unreachable(self, reason: str) -> StoreError:
        return StoreError(f"storage unreachable at {self._endpoint}: {reason}")

    def _silent(self, seconds: float) -> StoreError:
        return StoreError(f"storage at {self._endpoint} did not answer within {seconds:g} s")

    def _connect_failed(self, err: ServiceRequestError) -> StoreError:
        inner = getattr(err, "inner_exception", None)
        os_error = getattr(inner, "os_error", None)
        if isinstance(os_error, ConnectionRefusedError):
            return self._unreachable("connection refused")
        return self._unreachable(f"could not connect ({os_error or inner or err.message})")

    @contextlib.asynccontextmanager
    async def _call(self, key: str | None, deadline: float | None = None) -> AsyncIterator[None]:
        """Runs the body under a deadline; its SDK failures come out as StoreError."""
        deadline = self._deadline if deadline is None else deadline
        try:
            async with asyncio.timeout(deadline):
                yield
        except TimeoutError as err:  # the SDK turns its own timeouts into AzureErrors
            raise self._silent(deadline) from err
        except HttpResponseError as err:
            raise self._error(err, key) from err
        except ServiceRequestTimeoutError as err:
            raise self._unreachable(f"no connection within {self._timeout:g} s") from err
        except ServiceRequestError as err:
            raise self._connect_failed(err) from err
        except ServiceResponseTimeoutError as err:
            raise self._silent(self._timeout) from err
        except ServiceResponseError as err:
            raise self._unreachable(f"connection lost ({err.message})") from err
        except AzureError as err:
            raise StoreError(
                f"storage request to {self._endpoint} failed: {type(err).__name__}"
            ) from err

    # -- operations ----------------------------------------------------------------------

    @staticmethod
    def _info(props: BlobProperties) -> ObjectInfo:
        # Listings give the ETag bare, HEAD answers quoted: the same tag either way.
        return ObjectInfo(
            key=props.name,
            size=int(props.size),
            etag=str(props.etag).strip('"'),
            last_modified=props.last_modified.astimezone(UTC),
        )

    async def list_page(
        self, prefix: str, token: str | None = None, *, recursive: bool = True,
        folders: bool = False,
    ) -> tuple[list[ObjectInfo], str | None]:
        container = self._container()
        start = prefix or None
        listing: AsyncItemPaged[Any] = (
            container.list_blobs(name_starts_with=start, results_per_page=self._page_size)
            if recursive else
            container.walk_blobs(name_starts_with=start, delimiter="/",
                                 results_per_page=self._page_size))
        pages = cast(AsyncPageIterator[Any], listing.by_page(continuation_token=token))
        async with self._call(None):
            page = await anext(pages, None)
            items = [] if page is None else [item async for item in page]
        # Folders (BlobPrefix items of a delimited listing) only when asked for.
        objects = [self._info(item) if isinstance(item, BlobProperties) else folder_entry(item.name)
                   for item in items
                   if isinstance(item, BlobProperties) or (folders and not recursive)]
        return objects, (pages.continuation_token or None) if page is not None else None

    async def head(self, key: str) -> ObjectInfo:
        blob = self._container().get_blob_client(key)
        async with self._call(key):
            props = await blob.get_blob_properties()
        return self._info(props)

    async def read(
        self,
        key: str,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        *,
        if_match: str | None = None,
    ) -> AsyncIterator[bytes]:
        check_range(start, end)
        ranged = start > 0 or end is not None
        blob = self._container().get_blob_client(key)
        # The SDK itself sends If-Match with the first answer's ETag for the later chunks.
        condition: dict[str, Any] = {} if if_match is None else {
            "etag": quoted_etag(if_match),
            "match_condition": MatchConditions.IfNotModified,
        }
        async with self._call(key, self._deadline_for(_GET_SIZE)):
            downloader = await blob.download_blob(
                offset=start if ranged else None,
                length=None if end is None else end - start + 1,
                max_concurrency=1,
                **condition,
            )
        # Azure answers 416 for a start past the end; Azurite sends nothing instead.
        if ranged and downloader.size <= 0:
            raise InvalidRange(f'range not satisfiable for "{key}" (from byte {start})')
        while True:
            async with self._call(key, self._deadline_for(_GET_SIZE)):
                chunk = await downloader.read(chunk_size)
            if not chunk:
                return
            yield chunk

    async def read_bytes(self, key: str) -> bytes:
        blob = self._container().get_blob_client(key)
        async with self._call(key):
            downloader = await blob.download_blob(max_concurrency=1)
        async with self._call(key, self._deadline_for(downloader.size)):
            return await downloader.readall()

    async def write_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        blob = self._container().get_blob_client(key)
        async with self._call(key, self._deadline_for(len(data))):
            await blob.upload_blob(
                data, overwrite=True, max_concurrency=4,
                content_settings=ContentSettings(content_type=content_type),
            )

    async def write_file(
        self, key: str, path: Path, content_type: str = "application/octet-stream",
        journal: UploadJournal | None = None,
    ) -> None:
        """Upload a file; with a journal and above one block, block by block.

        The blocks the service holds uncommitted are found again by a later call with
        the same journal, which stages only the missing ones before committing them all.
        """
        stat = await asyncio.to_thread(path.stat)
        size = stat.st_size
        if journal is None or size <= _PUT_SIZE:
            if journal is not None:
                journal.clear()
            await super().write_file(key, path, content_type)
            return
        version = f"{size}-{stat.st_mtime_ns}"
        blob = self._container().get_blob_client(key)
        state = journal.load() or {}
        done: set[int] = set()
        if (state.get("key"), state.get("version"), state.get("block_size")) == (
                key, version, _PUT_SIZE) and state.get("prefix"):
            prefix = str(state["prefix"])
            async with self._call(key):
                _committed, staged = await blob.get_block_list("uncommitted")
            done = {number for block in staged
                    if (number := _block_number(block.id, prefix)) is not None
                    and block.size == min(_PUT_SIZE, size - (number - 1) * _PUT_SIZE)}
        else:
            prefix = secrets.token_hex(3)
        state = {"key": key, "version": version, "block_size": _PUT_SIZE, "prefix": prefix}
        journal.save({**state, "parts": {str(n): "" for n in sorted(done)}})
        count = -(-size // _PUT_SIZE)
        for number in range(1, count + 1):
            if number in done:
                continue
            data = await asyncio.to_thread(_read_block, path, number)
            async with self._call(key, self._deadline_for(len(data))):
                await blob.stage_block(_block_id(prefix, number), data, length=len(data))
            done.add(number)
            journal.save({**state, "parts": {str(n): "" for n in sorted(done)}})
        async with self._call(key):
            await blob.commit_block_list(
                [BlobBlock(block_id=_block_id(prefix, n)) for n in range(1, count + 1)],
                content_settings=ContentSettings(content_type=content_type))
        journal.clear()

    async def delete(self, key: str) -> None:
        blob = self._container().get_blob_client(key)
        with contextlib.suppress(ObjectNotFound):
            async with self._call(key):
                await blob.delete_blob(delete_snapshots="include")

    async def playback_url(self, key: str, expires_in: int = 3600) -> str:
        """A read-only shared access signature URL for the blob, valid ``expires_in`` s."""
        if not 1 <= expires_in <= _MAX_SAS_SECONDS:
            raise ValueError(f"expires_in must be 1..{_MAX_SAS_SECONDS} s, not {expires_in}")
        sas = generate_blob_sas(
            account_name=self._account,
            container_name=self._container_name,
            blob_name=key,
            account_key=self._key,
            permission=BlobSasPermissions(read=True),
            expiry=datetime.now(UTC) + timedelta(seconds=expires_in),
            protocol="https" if self._https else "https,http",
        )
        return f"{self._container().get_blob_client(key).url}?{sas}"

    async def aclose(self) -> None:
        client, self._client, self._client_loop = self._client, None, None
        if client is not None:
            await client.close()
