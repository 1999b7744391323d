"""One object-store interface for every recordings backend (S3, Azure Blob, a local folder).

Keys are ``/``-separated strings as in S3. Every operation is a coroutine; backends
built on blocking SDKs run them in threads, and every network call has a timeout.
Failures surface as :class:`StoreError` with a message a user can read.
"""

from __future__ import annotations

import asyncio
import json
import os
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

DEFAULT_CHUNK_SIZE: Final = 256 * 1024
DEFAULT_PAGE_SIZE: Final = 1000


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing or a HEAD knows about one object."""

    key: str
    size: int
    etag: str  # opaque; changes whenever the content changes
    last_modified: datetime  # timezone-aware, UTC


EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def folder_entry(key: str) -> ObjectInfo:
    """A listing's entry for a folder (``key`` ends with ``/``)."""
    return ObjectInfo(key=key, size=0, etag="", last_modified=EPOCH)


def is_folder(info: ObjectInfo) -> bool:
    return info.key.endswith("/")


class StoreError(Exception):
    """A storage operation failed; ``str()`` is a message fit to show the user."""


class ObjectNotFound(StoreError):
    """The object does not exist (the bucket or folder itself does)."""


class InvalidRange(StoreError):
    """A ranged read starts at or beyond the end of the object."""


class KeyRefused(StoreError):
    """The store cannot hold an object under this key (too long, a part it does not
    allow): asking again will not help."""


class ObjectChanged(StoreError):
    """The object is no longer the version a conditional read asked for (its ETag changed)."""


class UploadJournal(ABC):
    """Where an upload in parts keeps what it has sent, so that one interrupted (the
    storage down, the process killed) goes on from the parts already in the store."""

    @abstractmethod
    def load(self) -> dict[str, Any] | None:
        """What the last try saved (None: nothing, start afresh)."""

    @abstractmethod
    def save(self, state: dict[str, Any]) -> None:
        """Keep ``state`` (called after each part the store has taken)."""

    @abstractmethod
    def clear(self) -> None:
        """The upload is complete (or abandoned): forget it."""


class FileJournal(UploadJournal):
    """An upload's journal in a JSON file, replaced whole on each save (never half
    written: a crash leaves the previous save)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def save(self, state: dict[str, Any]) -> None:
        partial = self.path.with_name(self.path.name + ".partial")
        with open(partial, "w") as handle:
            json.dump(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def check_range(start: int, end: int | None) -> None:
    """Refuse ranges that no object could satisfy, before any I/O."""
    if start < 0:
        raise ValueError(f"range start must not be negative, not {start}")
    if end is not None and end < start:
        raise ValueError(f"range end {end} is before its start {start}")


def quoted_etag(etag: str) -> str:
    """``etag`` as an HTTP header carries it (:class:`ObjectInfo` keeps it bare)."""
    bare = etag.strip('"')
    return f'"{bare}"'


class ObjectStore(ABC):
    """An S3-like store of objects under string keys."""

    @property
    @abstractmethod
    def describe(self) -> str:
        """Where the objects live, for messages and logs (never any secret)."""

    @abstractmethod
    async def list_page(
        self, prefix: str, token: str | None = None, *, recursive: bool = True,
        folders: bool = False,
    ) -> tuple[list[ObjectInfo], str | None]:
        """One page of the objects whose keys start with ``prefix``, in key order.

        Returns the page and the token of the next one (None after the last page).
        With ``recursive=False`` only keys with no further ``/`` after the prefix are
        listed, as S3 does with the ``/`` delimiter; with ``folders=True`` too, each
        folder below appears once as an entry whose key ends with ``/`` (see
        :func:`is_folder`).
        """

    async def list_pages(
        self, prefix: str, *, recursive: bool = True, folders: bool = False
    ) -> AsyncIterator[list[ObjectInfo]]:
        """Every page of :meth:`list_page`, one after the other."""
        token: str | None = None
        while True:
            page, token = await self.list_page(prefix, token, recursive=recursive,
                                               folders=folders)
            if page:
                yield page
            if token is None:
                return

    @abstractmethod
    async def head(self, key: str) -> ObjectInfo:
        """Size, ETag and date of one object; :class:`ObjectNotFound` if it is missing."""

    async def exists(self, key: str) -> bool:
        """Whether the object exists."""
        try:
            await self.head(key)
        except ObjectNotFound:
            return False
        return True

    @abstractmethod
    def read(
        self,
        key: str,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        *,
        if_match: str | None = None,
    ) -> AsyncIterator[bytes]:
        """Stream bytes ``start``..``end`` (inclusive; None = to the end) in chunks.

        An ``end`` past the object is clipped to its last byte; a ``start`` at or
        past the end of a non-empty object raises :class:`InvalidRange`.

        With ``if_match`` (an ETag as :meth:`head` and listings give it) every byte
        comes from that version of the object: if the object has another ETag when the
        read begins, :class:`ObjectChanged` is raised before the first chunk; a change
        during the read leaves it on the old version or fails it (with ObjectChanged
        where the service says why).
        """

    @abstractmethod
    async def read_bytes(self, key: str) -> bytes:
        """The whole content of a small object (metadata)."""

    @abstractmethod
    async def write_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        """Create or replace an object."""

    async def write_file(
        self, key: str, path: Path, content_type: str = "application/octet-stream",
        journal: UploadJournal | None = None,
    ) -> None:
        """Create or replace an object with a local file's content (a recording).

        Stores that upload large files in parts keep their progress in ``journal``, and
        a later call with the same journal sends only the parts not in the store yet.
        This default reads the file whole (no parts); stores for large files override it.
        """
        data = await asyncio.to_thread(path.read_bytes)
        await self.write_bytes(key, data, content_type)

    async def write_json(self, key: str, obj: object) -> None:
        """Create or replace an object holding ``obj`` as compact JSON."""
        data = json.dumps(obj, separators=(",", ":")).encode()
        await self.write_bytes(key, data, "application/json")

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove an object; removing a missing one is not an error."""

    @abstractmethod
    async def playback_url(self, key: str, expires_in: int = 3600) -> str:
        """A URL a media player can open to read the object."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections and threads; the store is not used afterwards."""
