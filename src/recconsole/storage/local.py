"""A local folder as an object store: keys are ``/``-separated paths under one root."""

from __future__ import annotations

import asyncio
import bisect
import errno
import os
import stat
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Final

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
    check_range,
    folder_entry,
)

# Suffix of files being written; they are renamed into place when complete and never listed.
_PARTIAL: Final = ".partial~"


def _info(key: str, st: os.stat_result) -> ObjectInfo:
    # Every write makes a new file (new inode) stamped with the precise clock, so the
    # tag changes on each write without hashing the content of large recordings.
    return ObjectInfo(
        key=key,
        size=st.st_size,
        etag=f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}",
        last_modified=datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC),
    )


def _walk(folder: str, key_prefix: str) -> Iterator[str]:
    """Keys of every regular file below ``folder`` (symlinked folders not followed)."""
    stack = [(folder, key_prefix)]
    while stack:
        path, prefix = stack.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.name.endswith(_PARTIAL):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, f"{prefix}{entry.name}/"))
                elif entry.is_file():
                    yield prefix + entry.name


# Windows also splits paths at a backslash: there a key holding one would leave its folder.
_SEPARATOR_TOO: Final = "\\" if os.sep == "\\" or os.altsep == "\\" else "\0"


class LocalStore(ObjectStore):
    """Objects as files under ``root``; keys that would leave ``root`` are refused."""

    def __init__(self, root: Path, *, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be positive, not {page_size}")
        self._root = Path(root).absolute()
        self._page_size = page_size

    @property
    def describe(self) -> str:
        return f"local folder {self._root}"

    def __repr__(self) -> str:
        return f"<LocalStore {self._root}>"

    def _parts(self, key: str, *, allow_empty: bool = False) -> list[str]:
        parts = key.split("/")
        bad = (
            (not key and not allow_empty)
            or key.startswith("/")
            or _SEPARATOR_TOO in key
            or "\0" in key
            or key.endswith(_PARTIAL)
            or any(p in ("", ".", "..") for p in (parts if key else []))
        )
        if bad:
            raise KeyRefused(f"not a key inside {self.describe}: {key[:80]!r}")
        return parts if key else []

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*self._parts(key))

    def _failed(self, doing: str, key: str, err: OSError) -> StoreError:
        kind = KeyRefused if err.errno in (errno.ENAMETOOLONG, errno.EINVAL) else StoreError
        return kind(f"cannot {doing} {key!r} in {self.describe}: {err.strerror or err}")

    async def list_page(
        self, prefix: str, token: str | None = None, *, recursive: bool = True,
        folders: bool = False,
    ) -> tuple[list[ObjectInfo], str | None]:
        folder_key, _, name_prefix = prefix.rpartition("/")
        folder = self._root.joinpath(*self._parts(folder_key, allow_empty=True))
        if _SEPARATOR_TOO in name_prefix or "\0" in name_prefix:
            raise StoreError(f"not a prefix inside {self.describe}: {prefix[:80]!r}")
        key_prefix = f"{folder_key}/" if folder_key else ""
        return await asyncio.to_thread(
            self._list_sync, folder, key_prefix, name_prefix, token, recursive,
            folders and not recursive,
        )

    def _list_sync(
        self, folder: Path, key_prefix: str, name_prefix: str, after: str | None,
        recursive: bool, folders: bool,
    ) -> tuple[list[ObjectInfo], str | None]:
        try:
            keys = sorted(self._keys(folder, key_prefix, name_prefix, recursive, folders))
        except (FileNotFoundError, NotADirectoryError):
            return [], None
        except OSError as err:
            raise self._failed("list", key_prefix + name_prefix, err) from err
        if after is not None:
            keys = keys[bisect.bisect_right(keys, after):]
        page = keys[: self._page_size]
        infos = []
        for key in page:
            if key.endswith("/"):
                infos.append(folder_entry(key))
                continue
            try:
                infos.append(_info(key, self._root.joinpath(*key.split("/")).stat()))
            except FileNotFoundError:
                continue  # removed since the folder was read
        return infos, (page[-1] if len(keys) > len(page) else None)

    @staticmethod
    def _keys(
        folder: Path, key_prefix: str, name_prefix: str, recursive: bool, folders: bool
    ) -> Iterator[str]:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.startswith(name_prefix) or entry.name.endswith(_PARTIAL):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        yield from _walk(entry.path, f"{key_prefix}{entry.name}/")
                    elif folders:
                        yield f"{key_prefix}{entry.name}/"
                elif entry.is_file():
                    yield key_prefix + entry.name

    async def head(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            st = await asyncio.to_thread(os.stat, path)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(f'"{key}" not found in {self.describe}') from None
        except OSError as err:
            raise self._failed("read", key, err) from err
        if not stat.S_ISREG(st.st_mode):
            raise ObjectNotFound(f'"{key}" not found in {self.describe}')
        return _info(key, st)

    def _open(self, path: Path, key: str) -> tuple[BinaryIO, os.stat_result]:
        try:
            handle = open(path, "rb")  # noqa: SIM115 -- closed by the caller
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(f'"{key}" not found in {self.describe}') from None
        except OSError as err:
            raise self._failed("read", key, err) from err
        return handle, os.fstat(handle.fileno())

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
        path = self._path(key)
        handle, st = await asyncio.to_thread(self._open, path, key)
        size = st.st_size
        try:
            # The open handle keeps reading this file even if another replaces it.
            if if_match is not None and _info(key, st).etag != if_match.strip('"'):
                raise ObjectChanged(f'"{key}" was replaced in {self.describe} '
                                    "(it is not the version asked for)")
            if start >= size and (start > 0 or end is not None):
                raise InvalidRange(f'range not satisfiable for "{key}" ({size} bytes)')
            last = size - 1 if end is None else min(end, size - 1)
            position = start
            while position <= last:
                chunk = await asyncio.to_thread(
                    _read_at, handle, position, min(chunk_size, last - position + 1)
                )
                if not chunk:
                    return
                position += len(chunk)
                yield chunk
        finally:
            handle.close()

    async def read_bytes(self, key: str) -> bytes:
        path = self._path(key)
        handle, _st = await asyncio.to_thread(self._open, path, key)
        with handle:
            return await asyncio.to_thread(handle.read)

    async def write_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        path = self._path(key)
        try:
            await asyncio.to_thread(_write_atomically, path, data)
        except OSError as err:
            raise self._failed("write", key, err) from err

    async def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            await asyncio.to_thread(path.unlink)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as err:
            raise self._failed("delete", key, err) from err

    async def playback_url(self, key: str, expires_in: int = 3600) -> str:
        return self._path(key).as_uri()

    async def aclose(self) -> None:
        return None


def _read_at(handle: BinaryIO, position: int, size: int) -> bytes:
    handle.seek(position)
    return handle.read(size)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write a new file beside ``path`` and rename it into place: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}{_PARTIAL}")
    try:
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        now = time.time_ns()
        os.utime(partial, ns=(now, now))
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
