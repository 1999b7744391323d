"""Listing 10,000 recordings with their metadata from the local MinIO (or Azurite).

Each phase runs five times (``--runs``); the figures are the median and the worst.

- cold: a console whose recordings index is empty lists everything (SPEC §5: ≤ 3 s, and
  ≥ 10x faster than the baseline measured in the same run: an SDK-only consumer (boto3,
  or azure-storage-blob's synchronous client) that lists the folders, then fetches the
  metadata files one at a time);
- warm, as a new console process opens it (a new store, catalog and index object on
  the index file the cold run left, nothing changed in the bucket): the last known list
  in the table model, before any network call (issue 19: ≤ 0.2 s), then the reconcile
  with the store, against the floor: one bare listing of the two folders with no
  metadata read, measured just before it (issue 19: ≤ 1.2x).

    .venv/bin/python -m bench.list_recordings [--backend s3|azure]
        [--endpoint http://127.0.0.1:19300] [--count N] [--runs 5] [--baseline-runs 5]

Without --endpoint it starts MinIO (or Azurite) from the dev stack (test profile, port
offset 300) and stops it afterwards if it was not already running. The recordings are
seeded once under their own prefix and reused by later runs (Azurite keeps them only
while it runs: it holds everything in memory). Loopback endpoints only.

Azurite's in-memory store slows down as the container grows (measured here: about
3 ms of its CPU per metadata GET with 1,000 recordings, 7 ms with 2,000), so with
``--backend azure`` a ``--count`` of 1,000 to 2,000 finishes in about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import boto3
from azure.storage.blob import BlobProperties, ContainerClient
from botocore.config import Config

from recconsole.core.recording_info import MetadataState, RecordingInfo
from recconsole.storage.azure import AzureStore
from recconsole.storage.base import ObjectStore, StoreError
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.index import RecordingsIndex
from recconsole.storage.s3 import S3Store
from recconsole.ui.recordings_model import RecordingsModel
from recconsole_devtools.devstack import (
    AZURE_ACCOUNT,
    AZURE_CONTAINER,
    AZURE_KEY,
    MINIO_PASSWORD,
    MINIO_USER,
    S3_BUCKET,
    DevStack,
    StackConfig,
)

COLD_TARGET: Final = 3.0
WARM_TARGET: Final = 0.2  # issue 19: the last known list on screen in a new process
RATIO_TARGET: Final = 10.0
RECONCILE_TARGET: Final = 1.2  # times one bare listing of the two folders
REGION: Final = "us-east-1"
LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass
class Timing:
    """Wall time of one phase, with the CPU this process and the server spent on it."""

    wall: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = None


def _process_cpu(pid: int | None) -> float | None:
    """CPU seconds used so far by another process (Linux), None if unknown."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _measure(server_pid: int | None) -> Iterator[Timing]:
    timing = Timing()
    server0 = _process_cpu(server_pid)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    yield timing
    timing.wall = time.perf_counter() - wall0
    timing.client_cpu = time.process_time() - cpu0
    server1 = _process_cpu(server_pid)
    if server0 is not None and server1 is not None:
        timing.server_cpu = server1 - server0


def _recording(i: int) -> RecordingInfo:
    room = i % 100
    name = f"bench-room{room:02d}-RM_bench{room:02d}-{1700000000000 + i * 1000}.mp4"
    return RecordingInfo(
        id=f"EG_bench{i:05d}", name=name, room_name=f"bench-room{room:02d}",
        room_id=f"RM_bench{room:02d}", started_at=1700000000000 + i * 1000,
        duration=60.0 + i % 7, size=8, extra={"seededBy": "bench"},
    )


async def _seed(store: ObjectStore, catalog: RecordingsCatalog, count: int) -> float | None:
    """Write ``count`` recordings (tiny file + metadata) unless a previous run did."""
    marker = catalog.recordings_path + "bench-seed.json"
    try:
        if json.loads(await store.read_bytes(marker)).get("count") == count:
            return None
    except (StoreError, ValueError, AttributeError):
        pass  # no marker, or not one this bench wrote: seed again
    started = time.perf_counter()
    limit = asyncio.Semaphore(32)

    async def put(i: int) -> None:
        info = _recording(i)
        async with limit:
            await store.write_bytes(catalog.recording_key(info.name), b"mp4-stub", "video/mp4")
            await catalog.save_metadata(info)

    await asyncio.gather(*(put(i) for i in range(count)))
    await store.write_json(marker, {"count": count})
    return time.perf_counter() - started


def _s3_baseline(endpoint: str, catalog: RecordingsCatalog, deadline: float) -> tuple[int, int]:
    """The SDK-only consumer: list both folders, then GET each metadata file in turn.

    Returns (metadata files read, recordings listed); stops early at ``deadline``.
    """
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=MINIO_USER,
        aws_secret_access_key=MINIO_PASSWORD, region_name=REGION,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      connect_timeout=10, read_timeout=10),
    )
    pages = s3.get_paginator("list_objects_v2")
    files = [o["Key"] for page in pages.paginate(
        Bucket=S3_BUCKET, Prefix=catalog.recordings_path, Delimiter="/")
        for o in page.get("Contents", []) if o["Key"].endswith(".mp4")]
    metas = [o["Key"] for page in pages.paginate(Bucket=S3_BUCKET, Prefix=catalog.metadata_path)
             for o in page.get("Contents", [])]
    read = 0
    for key in metas:
        RecordingInfo.from_bytes(s3.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read())
        read += 1
        if time.perf_counter() > deadline:
            break
    s3.close()
    return read, len(files)


def _azure_baseline(
    endpoint: str, catalog: RecordingsCatalog, deadline: float
) -> tuple[int, int]:
    """The same SDK-only consumer, on azure-storage-blob's synchronous client."""
    with ContainerClient(
        endpoint, AZURE_CONTAINER,
        credential={"account_name": AZURE_ACCOUNT, "account_key": AZURE_KEY},
        connection_timeout=10, read_timeout=10,
    ) as client:
        files = [b.name for b in client.walk_blobs(catalog.recordings_path, delimiter="/")
                 if isinstance(b, BlobProperties) and b.name.endswith(".mp4")]
        metas = [b.name for b in client.list_blobs(catalog.metadata_path)]
        read = 0
        for name in metas:
            RecordingInfo.from_bytes(client.download_blob(name).readall())
            read += 1
            if time.perf_counter() > deadline:
                break
    return read, len(files)


@dataclass(frozen=True)
class Backend:
    """A kind of store the bench lists: how to open it and its SDK-only baseline."""

    service: str  # the dev stack's name for the server
    label: str
    where: str
    sdk: str
    store: Callable[[str], ObjectStore]
    baseline: Callable[[str, RecordingsCatalog, float], tuple[int, int]]
    endpoint: Callable[[StackConfig], str]


BACKENDS: Final = {
    "s3": Backend(
        "minio", "MinIO", f"bucket {S3_BUCKET}", "boto3",
        lambda endpoint: S3Store(endpoint, MINIO_USER, MINIO_PASSWORD, REGION, S3_BUCKET),
        _s3_baseline, lambda cfg: cfg.s3_endpoint,
    ),
    "azure": Backend(
        "azurite", "Azurite", f"container {AZURE_CONTAINER}", "azure-storage-blob",
        lambda endpoint: AzureStore(AZURE_ACCOUNT, AZURE_KEY, AZURE_CONTAINER, endpoint),
        _azure_baseline, lambda cfg: cfg.azure_endpoint,
    ),
}


def _index_catalog(
    backend: Backend, endpoint: str, prefix: str, concurrency: int, index_file: Path
) -> RecordingsCatalog:
    """What a console process opens: its own store, catalog and index object."""
    return RecordingsCatalog(backend.store(endpoint), prefix, concurrency=concurrency,
                             index=RecordingsIndex(index_file))


async def _close(catalog: RecordingsCatalog) -> None:
    await catalog.store.aclose()
    if catalog.index is not None:
        await catalog.index.close()


async def _bare_listing(store: ObjectStore, catalog: RecordingsCatalog) -> int:
    """The floor of a reconcile: both folders listed as the catalog lists them, nothing read."""
    async def count(prefix: str, **kwargs: bool) -> int:
        return sum([len(page) async for page in store.list_pages(prefix, **kwargs)])
    counts = await asyncio.gather(
        count(catalog.recordings_path, recursive=False, folders=True),
        count(catalog.metadata_path, recursive=True))
    return sum(counts)


class _Reads:
    """Counts the metadata files a store is asked for."""

    def __init__(self, store: ObjectStore) -> None:
        self.count = 0
        read_bytes = store.read_bytes

        async def counted(key: str) -> bytes:
            self.count += 1
            return await read_bytes(key)
        store.read_bytes = counted  # type: ignore[method-assign]


async def _run(args: argparse.Namespace, endpoint: str, server_pid: int | None) -> int:
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(32))
    backend = BACKENDS[args.backend]
    prefix = f"bench/list-{args.count}/recordings/"
    folder = Path(tempfile.mkdtemp(prefix="recconsole-bench-index-"))
    try:
        seeder = RecordingsCatalog(backend.store(endpoint), prefix)
        try:
            seeded = await asyncio.wait_for(_seed(seeder.store, seeder, args.count),
                                            args.phase_limit)
        finally:
            await seeder.store.aclose()
        print(f"{backend.label} {endpoint}, {backend.where}, prefix {prefix}: "
              f"{args.count} recordings"
              + (f" (seeded in {seeded:.1f} s)" if seeded is not None else " (seeded before)"))
        phases = await _phases(args, backend, endpoint, prefix, folder, server_pid)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _print_phases(args, backend, phases)
    return 0


@dataclass
class Phases:
    """Every run of every phase, in the order measured."""

    cold: list[Timing] = field(default_factory=list)
    first_rows: list[float] = field(default_factory=list)
    shown: list[Timing] = field(default_factory=list)  # warm: index to model, no network
    reconcile: list[Timing] = field(default_factory=list)
    reads: list[int] = field(default_factory=list)  # metadata files read by each reconcile
    floor: list[Timing] = field(default_factory=list)
    baseline: list[Timing] = field(default_factory=list)
    baseline_read: list[int] = field(default_factory=list)


async def _phases(
    args: argparse.Namespace, backend: Backend, endpoint: str, prefix: str, folder: Path,
    server_pid: int | None,
) -> Phases:
    phases = Phases()

    def catalog(index_file: Path) -> RecordingsCatalog:
        return _index_catalog(backend, endpoint, prefix, args.concurrency, index_file)

    for run in range(args.runs):  # cold: a console with an empty index
        cold_catalog = catalog(folder / f"cold-{run}.sqlite3")
        try:
            with _measure(server_pid) as cold:
                rows, first = await asyncio.wait_for(_listing(cold_catalog), args.phase_limit)
            _check(rows, args.count)
            phases.cold.append(cold)
            phases.first_rows.append(first)
        finally:
            await _close(cold_catalog)

    index_file = folder / f"cold-{args.runs - 1}.sqlite3"
    for run in range(args.runs):  # warm: a new console, the index there, nothing changed
        # Alternately first: neither the floor nor the reconcile has the server warmer.
        if run % 2 == 0:
            phases.floor.append(await _floor(args, backend, endpoint, prefix, server_pid))
        await _warm(args, catalog(index_file), phases, server_pid)
        if run % 2 == 1:
            phases.floor.append(await _floor(args, backend, endpoint, prefix, server_pid))

    baseline_catalog = RecordingsCatalog(backend.store(endpoint), prefix)
    await baseline_catalog.store.aclose()
    for _ in range(args.baseline_runs):
        deadline = time.perf_counter() + args.phase_limit
        with _measure(server_pid) as base:
            read, listed = await asyncio.to_thread(backend.baseline, endpoint,
                                                   baseline_catalog, deadline)
        if listed < args.count:
            raise SystemExit(f"the baseline listed {listed} recordings")
        base.wall *= args.count / max(read, 1)  # extrapolated if it stopped early
        phases.baseline.append(base)
        phases.baseline_read.append(read)
    return phases


async def _floor(
    args: argparse.Namespace, backend: Backend, endpoint: str, prefix: str,
    server_pid: int | None,
) -> Timing:
    bare = backend.store(endpoint)
    try:
        with _measure(server_pid) as floor:
            listed = await asyncio.wait_for(
                _bare_listing(bare, RecordingsCatalog(bare, prefix)), args.phase_limit)
    finally:
        await bare.aclose()
    if listed < 2 * args.count:
        raise SystemExit(f"the bare listing found {listed} objects")
    return floor


async def _warm(
    args: argparse.Namespace, catalog: RecordingsCatalog, phases: Phases,
    server_pid: int | None,
) -> None:
    reads = _Reads(catalog.store)
    try:
        with _measure(server_pid) as shown:
            model = RecordingsModel()
            model.merge(await catalog.known_recordings())
        if model.rowCount() != args.count:
            raise SystemExit(f"the index showed {model.rowCount()} rows")
        with _measure(server_pid) as reconcile:
            _check(await asyncio.wait_for(catalog.list_recordings(), args.phase_limit),
                   args.count)
    finally:
        await _close(catalog)
    phases.shown.append(shown)
    phases.reconcile.append(reconcile)
    phases.reads.append(reads.count)


async def _listing(catalog: RecordingsCatalog) -> tuple[list[RecordingInfo], float]:
    """Every row, and how long the first batch took."""
    rows: list[RecordingInfo] = []
    started, first = time.perf_counter(), 0.0
    async for batch in catalog.iter_recordings():
        first = first or time.perf_counter() - started
        rows.extend(batch)
    return rows, first


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _print_phases(args: argparse.Namespace, backend: Backend, phases: Phases) -> None:
    def line(label: str, runs: Sequence[Timing], target: float | None = None,
             note: str = "") -> None:
        walls = [t.wall for t in runs]
        median = sorted(runs, key=lambda t: t.wall)[len(runs) // 2]
        server = ("" if median.server_cpu is None
                  else f", server CPU {median.server_cpu:.2f} s")
        text = (f"{label:34} median {_median(walls):6.3f} s, worst {max(walls):6.3f} s"
                f" (client CPU {median.client_cpu:.2f} s{server})")
        if target is not None:
            text += f"   target ≤ {target:g} s: {'met' if _median(walls) <= target else 'missed'}"
        print(text + (f"   {note}" if note else ""))

    print(f"{args.runs} runs each ({args.baseline_runs} of the baseline), one after the other")
    line("cold listing (empty index)", phases.cold, COLD_TARGET,
         f"first rows after {_median(phases.first_rows):.2f} s median")
    line("warm: index on screen (model)", phases.shown, WARM_TARGET)
    line("warm: reconcile with the store", phases.reconcile, None,
         f"metadata files read: {', '.join(map(str, phases.reads))}")
    line("floor: bare listing, both folders", phases.floor)
    stopped = [r for r in phases.baseline_read if r < args.count]
    if phases.baseline:
        line(f"baseline ({backend.sdk}, one by one)", phases.baseline, None,
             f"extrapolated from {min(stopped)} files" if stopped else "")

    def ratio(label: str, slow: Sequence[Timing], fast: Sequence[Timing],
              verdict: Callable[[float], str]) -> None:
        median = _median([t.wall for t in slow]) / _median([t.wall for t in fast])
        worst = min(s.wall / f.wall for s, f in zip(slow, fast, strict=False))
        print(f"{label:34} median {median:6.2f}x, worst {worst:6.2f}x   {verdict(median)}")

    if phases.baseline:
        ratio("baseline / cold", phases.baseline, phases.cold,
              lambda r: f"target ≥ {RATIO_TARGET:g}x: {'met' if r >= RATIO_TARGET else 'missed'}")
    floors = [t.wall for t in phases.floor]
    recs = [t.wall for t in phases.reconcile]
    median = _median(recs) / _median(floors)
    worst = max(r / f for r, f in zip(recs, floors, strict=True))
    print(f"{'reconcile / floor (same runs)':34} median {median:6.2f}x, worst {worst:6.2f}x   "
          f"target ≤ {RECONCILE_TARGET:g}x: {'met' if median <= RECONCILE_TARGET else 'missed'}")


def _check(rows: Sequence[RecordingInfo], count: int) -> None:
    ok = sum(1 for r in rows if r.metadata is MetadataState.OK)
    if len(rows) != count or ok != count:
        raise SystemExit(f"listing is wrong: {len(rows)} rows, {ok} with metadata, "
                         f"expected {count}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=sorted(BACKENDS), default="s3",
                        help="list from MinIO through S3Store (default) or Azurite "
                             "through AzureStore")
    parser.add_argument("--endpoint", help="a running MinIO (Azurite: http://host:port/"
                        f"{AZURE_ACCOUNT}) on loopback (default: start one)")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=5,
                        help="runs of each phase (cold, warm, floor)")
    parser.add_argument("--baseline-runs", type=int, default=5,
                        help="0 leaves the baseline out (a quicker look at the rest)")
    parser.add_argument("--phase-limit", type=float, default=180.0,
                        help="seconds any phase may take before the bench gives up")
    args = parser.parse_args(argv)

    if args.endpoint:
        if urlsplit(args.endpoint).hostname not in LOOPBACK:
            parser.error("--endpoint must be on loopback (127.0.0.1, localhost, ::1)")
        return asyncio.run(_run(args, args.endpoint.rstrip("/"), None))

    service = BACKENDS[args.backend].service
    stack = DevStack(StackConfig.for_profile("test", offset=300))
    already_running = stack.pid(service) is not None
    stack.start(service)
    try:
        endpoint = BACKENDS[args.backend].endpoint(stack.cfg)
        return asyncio.run(_run(args, endpoint, stack.pid(service)))
    finally:
        if not already_running:
            stack.stop(service)


if __name__ == "__main__":
    sys.exit(main())
