"""Webhook listener throughput: verified, durably queued webhooks per second on one core.

Starts a real LiveKit server (dev stack, its own ports), then ``recconsole listen``
pinned to CPU 0 with a local recordings folder, and posts egress_ended webhooks
signed with the real key from this process (pinned to CPU 1), over loopback:

- sustained: N webhooks with C in flight; acknowledged/s and latency p50/p99;
- burst: 10,000 at once; afterwards every metadata file must exist (none lost).

Baseline in the same run: a bare aiohttp endpoint on the same core that reads the
body and answers 200 (the HTTP ceiling), so the ratio shows what verification
and the durable queue cost. Bounded in count and time; loopback only.

Five runs (``--runs``), each phase once per run, the bare endpoint and the listener
alternately first; the summary gives the median and the worst of each, and the ratios
of the listener to the baseline of the same run.

    python -m bench.webhooks [--count 6000] [--burst 10000] [--concurrency 32] [--runs 5]
        [--profile listener.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol.webhook import WebhookEvent
from tests.helpers.webhooks import egress_event, sign

from recconsole.core.livekit_server import LiveKitServer
from recconsole_devtools.devstack import API_KEY, API_SECRET, DevStack, StackConfig

APP = "recconsole-bench"
ROOMS = 50
BARE_SERVER = """
import sys
from aiohttp import web
async def ok(request):
    await request.read()
    return web.Response(text="ok")
app = web.Application(client_max_size=1024 * 1024)
app.router.add_post("/livekit/webhook", ok)
print("ready", file=sys.stderr, flush=True)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

# The listener under cProfile, timed by the CPU its loop thread uses: waiting, and the
# other threads (the durable queue's writer), are not charged to what was running.
PROFILED = """
import cProfile, runpy, sys, time
out = sys.argv.pop(1)
sys.argv = ["recconsole", *sys.argv[1:]]
profiler = cProfile.Profile(time.thread_time)
profiler.enable()
try:
    runpy.run_module("recconsole", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
finally:
    profiler.disable()
    profiler.dump_stats(out)
"""


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
        os.sched_setaffinity(0, {cpu})


async def _spawn(args: list[str], env: dict[str, str], ready: bytes) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        "taskset", "-c", "0", *args, env=env, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    async with asyncio.timeout(60):
        while line := await proc.stderr.readline():
            if ready in line:
                asyncio.get_running_loop().create_task(_drain(proc))
                return proc
    raise RuntimeError(f"{args[0]} did not start (exit {await proc.wait()})")


async def _drain(proc: asyncio.subprocess.Process) -> None:
    assert proc.stderr is not None
    while await proc.stderr.readline():
        pass


async def _fire(url: str, bodies: list[tuple[bytes, str]], concurrency: int,
                limit_s: float) -> tuple[float, list[float], int]:
    """Post everything with ``concurrency`` in flight; (seconds, latencies, failures)."""
    latencies: list[float] = []
    failures = 0
    queue = iter(bodies)
    deadline = time.monotonic() + limit_s
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            nonlocal failures
            for body, auth in queue:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                async with http.post(url, data=body, headers={"Authorization": auth}) as resp:
                    await resp.read()
                    failures += resp.status != 200
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - began, latencies, failures


def _signed(rooms: list[str], count: int, tag: str) -> list[tuple[bytes, str]]:
    out = []
    for i in range(count):
        room = rooms[i % len(rooms)]
        body = egress_event("egress_ended", room, f"EG_{tag}{i}", api.EgressStatus.EGRESS_COMPLETE,
                            file_name=f"{room}-RM_bench-{tag}{i:06d}.mp4")
        out.append((body, sign(body)))
    return out


@dataclass(frozen=True)
class Figures:
    """One phase of one run: answered per second and the p99 latency in seconds."""

    rate: float
    p99: float


def _report(label: str, seconds: float, latencies: list[float], failures: int) -> Figures:
    rate = len(latencies) / seconds if seconds else 0.0
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    print(f"{label:34} {len(latencies):6d} in {seconds:6.2f} s = {rate:7.0f}/s   "
          f"p50 {cuts[49] * 1000:6.2f} ms  p99 {cuts[98] * 1000:6.2f} ms  non-200: {failures}")
    return Figures(rate, cuts[98])


def _summary(bases: list[Figures], verified: list[Figures], queued: list[Figures]) -> None:
    """Median and worst of every phase, and the listener against the same run's baseline."""
    print(f"--- {len(bases)} runs: median (worst)")
    for label, runs in (("baseline: bare aiohttp, same core", bases),
                        ("listener: verified, not queued", verified),
                        ("listener: verified + queued", queued)):
        rates, p99s = [f.rate for f in runs], [f.p99 * 1000 for f in runs]
        print(f"{label:34} {statistics.median(rates):7.0f}/s ({min(rates):.0f})   "
              f"p99 {statistics.median(p99s):6.2f} ms ({max(p99s):.2f})")
    rate_ratios = [q.rate / b.rate for q, b in zip(queued, bases, strict=True)]
    p99_ratios = [q.p99 / b.p99 for q, b in zip(queued, bases, strict=True)]
    median_rate, median_p99 = statistics.median(rate_ratios), statistics.median(p99_ratios)
    print(f"{'queued / baseline, rate':34} {median_rate:6.2f}x ({min(rate_ratios):.2f})   "
          f"target ≥ 0.5x: {'met' if median_rate >= 0.5 else 'missed'}")
    print(f"{'queued / baseline, p99':34} {median_p99:6.2f}x ({max(p99_ratios):.2f})   "
          f"target ≤ 2x: {'met' if median_p99 <= 2 else 'missed'}")


async def main(args: argparse.Namespace) -> int:
    _pin(1)
    stack = DevStack(StackConfig.for_profile("test", offset=400))
    was_running = stack.pid("livekit") is not None
    stack.start("livekit")
    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    listen_port, bare_port = 16480 + 7, 16480 + 8
    try:
        async with LiveKitServer(stack.cfg.livekit_url, API_KEY, API_SECRET, app_name=APP) as lk:
            rooms = [f"bench-{uuid.uuid4().hex[:6]}-{i}" for i in range(ROOMS)]
            await asyncio.gather(*(lk.ensure_room(r) for r in rooms))
        env = {**os.environ, "LIVEKIT_URL": stack.cfg.livekit_url, "APP_NAME": APP,
               "RECORDINGS_STORAGE": "local", "RECORDINGS_DIR": str(work / "recordings"),
               "SERVER_PORT": str(listen_port), "REDIS_URL": ""}
        joined = []
        for i in range(args.count):
            # As LiveKit sends it: the room with its metadata (the app's, not recording).
            body = MessageToJson(WebhookEvent(
                event="participant_joined", id=f"EV_j{i}",
                room=api.Room(name=rooms[0], metadata=json.dumps(
                    {"createdBy": APP, "recordingStatus": "STOPPED"})),
                participant=api.ParticipantInfo(identity=f"p{i}"))).encode()
            joined.append((body, sign(body)))

        runs = [(_signed(rooms, args.count, f"s{run}-"), joined) for run in range(args.runs)]
        bare = await _spawn([sys.executable, "-c", BARE_SERVER, str(bare_port)], env, b"ready")
        command = ["-c", PROFILED, str(args.profile)] if args.profile else ["-m", "recconsole"]
        listener = await _spawn(
            [sys.executable, *command, "--env-file", str(work / "none"),
             "listen", "--data-dir", str(work / "data")], env, b"recconsole listen: http")
        url = f"http://127.0.0.1:{listen_port}/livekit/webhook"
        bases: list[Figures] = []
        verified: list[Figures] = []
        queued: list[Figures] = []
        try:
            # Runs one after the other, the baseline and the listener alternately first;
            # the listener's effects of earlier runs are still being applied meanwhile.
            for run, (sustained, joined_bodies) in enumerate(runs):
                async def bare_phase(sustained: list[tuple[bytes, str]] = sustained) -> None:
                    bases.append(_report(
                        "baseline: bare aiohttp, same core",
                        *await _fire(f"http://127.0.0.1:{bare_port}/livekit/webhook",
                                     sustained, args.concurrency, args.limit)))

                async def listener_phase(joined: list[tuple[bytes, str]] = joined_bodies,
                                         bodies: list[tuple[bytes, str]] = sustained) -> None:
                    verified.append(_report("listener: verified, not queued",
                                            *await _fire(url, joined, args.concurrency,
                                                         args.limit)))
                    queued.append(_report("listener: verified + queued",
                                          *await _fire(url, bodies, args.concurrency,
                                                       args.limit)))
                phases = [bare_phase, listener_phase]
                for phase in phases if run % 2 == 0 else phases[::-1]:
                    await phase()
            _summary(bases, verified, queued)
            burst = _signed(rooms, args.burst, "b")
            if burst:
                seconds, latencies, failures = await _fire(url, burst, args.concurrency * 4,
                                                           args.limit)
                _report(f"burst of {args.burst}", seconds, latencies, failures)
            wanted = {json.loads(b)["egressInfo"]["fileResults"][0]["filename"].rsplit("/", 1)[1]
                      for b, _ in burst + [body for sustained, _ in runs for body in sustained]}
            meta_dir = work / "recordings" / "recordings" / ".metadata"
            began = time.perf_counter()
            async with asyncio.timeout(args.limit * 4):
                while True:
                    have = {p.name.replace(".json", ".mp4")
                            for p in meta_dir.glob("*.json")} if meta_dir.exists() else set()
                    if wanted <= have:
                        break
                    await asyncio.sleep(0.5)
            print(f"{'all effects applied':34} {len(have & wanted)} of {len(wanted)} metadata "
                  f"files, {time.perf_counter() - began:.1f} s after the last answer; lost: "
                  f"{len(wanted - have)}")
        finally:
            for proc in (listener, bare):
                proc.terminate()
                await proc.wait()
    finally:
        if not was_running:
            stack.stop("livekit")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=6000)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--limit", type=float, default=60.0, help="seconds per phase at most")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", type=Path,
                        help="profile the listener's loop thread (its CPU time) into this file")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
