"""Listing 10,000 recordings with their metadata from the local MinIO (or Azurite).

SPEC §5 targets: ≤ 3 s cold (fresh catalog), ≤ 0.3 s warm (same catalog, ETag cache),
≥ 10x faster than the baseline measured in the same run: an SDK-only consumer (boto3,
or azure-storage-blob's synchronous client) that lists the folders, then fetches the
metadata files one at a time.

    .venv/bin/python -m bench.list_recordings [--backend s3|azure]
        [--endpoint http://127.0.0.1:19300] [--count N]

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
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import boto3
from azure.storage.blob import BlobProperties, ContainerClient
from botocore.config import Config

from recconsole.core.recording_info import MetadataState, RecordingInfo
from recconsole.storage.azure import AzureStore
from recconsole.storage.base import ObjectStore, StoreError
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.s3 import S3Store
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
WARM_TARGET: Final = 0.3
RATIO_TARGET: Final = 10.0
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


async def _run(args: argparse.Namespace, endpoint: str, server_pid: int | None) -> int:
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(32))
    backend = BACKENDS[args.backend]
    prefix = f"bench/list-{args.count}/recordings/"

    def fresh() -> tuple[ObjectStore, RecordingsCatalog]:
        store = backend.store(endpoint)
        return store, RecordingsCatalog(store, prefix, concurrency=args.concurrency)

    store, catalog = fresh()
    try:
        seeded = await asyncio.wait_for(_seed(store, catalog, args.count), args.phase_limit)
    finally:
        await store.aclose()
    print(f"{backend.label} {endpoint}, {backend.where}, prefix {prefix}: "
          f"{args.count} recordings"
          + (f" (seeded in {seeded:.1f} s)" if seeded is not None else " (seeded before)"))

    store, catalog = fresh()
    try:
        first_batch = 0.0
        rows: list[RecordingInfo] = []
        with _measure(server_pid) as cold:
            async def cold_listing() -> None:
                nonlocal first_batch
                async for batch in catalog.iter_recordings():
                    first_batch = first_batch or time.perf_counter()
                    rows.extend(batch)
            started = time.perf_counter()
            await asyncio.wait_for(cold_listing(), args.phase_limit)
            first_batch -= started
        _check(rows, args.count)
        warm_runs: list[Timing] = []
        for _ in range(args.warm_runs):
            with _measure(server_pid) as warm:
                _check(await asyncio.wait_for(catalog.list_recordings(), args.phase_limit),
                       args.count)
            warm_runs.append(warm)
    finally:
        await store.aclose()

    deadline = time.perf_counter() + args.phase_limit
    with _measure(server_pid) as base:
        read, listed = await asyncio.to_thread(backend.baseline, endpoint, catalog, deadline)
    complete = read >= args.count and listed >= args.count
    baseline_wall = base.wall * (args.count / max(read, 1))

    warm = sorted(warm_runs, key=lambda t: t.wall)[len(warm_runs) // 2]
    _report("cold listing (fresh catalog)", cold, COLD_TARGET,
            f"first rows after {first_batch:.2f} s")
    _report(f"warm listing (median of {len(warm_runs)})", warm, WARM_TARGET,
            f"runs {', '.join(f'{t.wall:.2f}' for t in warm_runs)} s")
    _report(f"baseline ({backend.sdk}, one by one)" + ("" if complete else " *"), base, None,
            "" if complete else f"* stopped after {read} files; "
            f"extrapolated to {baseline_wall:.1f} s")
    ratio = baseline_wall / cold.wall
    print(f"{'baseline / cold':32} {ratio:7.1f}x   target ≥ {RATIO_TARGET:g}x: "
          f"{'met' if ratio >= RATIO_TARGET else 'missed'}")
    print(f"{'baseline / warm':32} {baseline_wall / warm.wall:7.1f}x")
    return 0


def _check(rows: Sequence[RecordingInfo], count: int) -> None:
    ok = sum(1 for r in rows if r.metadata is MetadataState.OK)
    if len(rows) != count or ok != count:
        raise SystemExit(f"listing is wrong: {len(rows)} rows, {ok} with metadata, "
                         f"expected {count}")


def _report(label: str, timing: Timing, target: float | None, note: str) -> None:
    server = "" if timing.server_cpu is None else f", server CPU {timing.server_cpu:.2f} s"
    line = f"{label:32} {timing.wall:7.2f} s (client CPU {timing.client_cpu:.2f} s{server})"
    if target is not None:
        verdict = "met" if timing.wall <= target else f"missed, {timing.wall / target:.1f}x"
        line += f"   target ≤ {target:g} s: {verdict}"
    print(line + (f"   {note}" if note else ""))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=sorted(BACKENDS), default="s3",
                        help="list from MinIO through S3Store (default) or Azurite "
                             "through AzureStore")
    parser.add_argument("--endpoint", help="a running MinIO (Azurite: http://host:port/"
                        f"{AZURE_ACCOUNT}) on loopback (default: start one)")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warm-runs", type=int, default=3)
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
