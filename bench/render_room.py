"""Remote video from a real server, console against an SDK-only consumer, same run.

For each room (by default 9 bots at 640x360@30 and 25 bots at 320x180@15, all
publishing simulcast with their capture time in each frame), the publisher bots run
in their own process; then, run after run, two consumers join the room one after the
other, each in its own process for the same time:
- sdk: the LiveKit SDK alone, subscribing every track at full quality, counting
  frames (the baseline);
- console: the console's room view fed by the session as the window feeds it (a
  qasync loop, offscreen Qt, a 1280x800 view): adaptive, so it receives only the
  tiles on its page, each in the layer that fits, and counts frames painted.
Each reports frames per second per shown track, the event loop's lag (p99), its CPU
time, the glass-to-glass delay (bot's capture time to painted, or to received for
the SDK-only consumer) and the frames the SDK's native side dropped (queue
overflows). Targets: tile fps ≥ 0.95x the SDK-only consumer's, console CPU ≤ 1.0x
its CPU, loop lag p99 ≤ 20 ms at 9 bots.

    python -m bench.render_room [--rooms 9:640x360@30 25:320x180@15] [--runs 5]
        [--seconds 10] [--port-offset 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

from recconsole_devtools.devstack import API_KEY, API_SECRET, DevStack, StackConfig


async def _lag_probe(samples: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        began = loop.time()
        await asyncio.sleep(0.01)
        samples.append(loop.time() - began - 0.01)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


async def _consume(kind: str, url: str, room: str, seconds: float) -> dict[str, Any]:
    from livekit import rtc

    from recconsole.core.tokens import mint_token
    from recconsole.realtime.sdk_log import summarise_overflows
    from recconsole.realtime.session import RoomSession, SessionEvents

    counts: dict[str, int] = {}
    delays: list[float] = []
    session: RoomSession
    token = mint_token(API_KEY, API_SECRET, room, f"bench-{kind}", observer=True)
    if kind == "console":
        from recconsole.ui.room_view import RoomView
        from recconsole.ui.session_bridge import SessionBridge

        view = RoomView()
        view.resize(1280, 800)
        view.show()
        bridge = SessionBridge(view)  # wired as the window wires it
        bridge.participantJoined.connect(view.add_participant)
        bridge.videoAdded.connect(lambda sid, who: view.add_video(sid, who))
        bridge.videoRemoved.connect(lambda sid, _who: view.remove_video(sid))
        session = RoomSession(url, token, bridge)

        def shown() -> dict[str, int]:
            return {sid: t.frames_shown for sid, t in view.tiles.items() if t.isVisible()}
    else:
        class Events(SessionEvents):
            def video_added(self, track_sid: str, identity: str) -> None:
                counts[track_sid] = 0

            def video_frame(self, track_sid: str, frame: rtc.VideoFrame) -> None:
                counts[track_sid] += 1
                captured = session.capture_us.get(track_sid, 0)
                if captured:
                    delays.append(time.time() * 1000 - captured / 1000)

        session = RoomSession(url, token, Events())

        def shown() -> dict[str, int]:
            return dict(counts)

    await session.connect()
    await asyncio.sleep(4)  # let every track reach its steady rate (and layer) first
    start = shown()
    delays.clear()
    if kind == "console":
        for tile in view.tiles.values():
            tile.delays_ms.clear()
    dropped0 = sum(summarise_overflows().total.values())
    lags: list[float] = []
    stop = asyncio.Event()
    probe = asyncio.create_task(_lag_probe(lags, stop))
    cpu0, began = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu1, elapsed = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - began
    stop.set()
    await probe
    end = shown()
    if kind == "console":
        delays = [d for tile in view.tiles.values() for d in tile.delays_ms]
    receiving = sum(session.receiving(sid) for sid in end) if kind == "console" else len(end)
    await session.disconnect()
    fps = sorted((end[s] - start.get(s, 0)) / elapsed for s in end)
    return {"fps": fps, "lag_p99_ms": _pct(lags, 0.99) * 1000, "receiving": receiving,
            "cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
            "seconds": elapsed, "delay_p50_ms": _pct(delays, 0.5),
            "delay_p99_ms": _pct(delays, 0.99),
            "dropped": sum(summarise_overflows().total.values()) - dropped0}


def _consumer_main(kind: str, url: str, room: str, seconds: float) -> None:
    if kind == "console":
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        import qasync
        from PySide6.QtWidgets import QApplication

        app = QApplication([])
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        with loop:
            result = loop.run_until_complete(_consume(kind, url, room, seconds))
    else:
        result = asyncio.run(_consume(kind, url, room, seconds))
    print(json.dumps(result), flush=True)


def _parse_room(text: str) -> tuple[int, str, float]:
    count, _, rest = text.partition(":")
    size, _, fps = rest.partition("@")
    return int(count), size or "640x360", float(fps or 30)


def _run_room(url: str, count: int, size: str, fps: float, runs: int,
              seconds: float) -> list[dict[str, dict[str, Any]]]:
    room = f"bench-{uuid.uuid4().hex[:6]}"
    bots = subprocess.Popen(
        [sys.executable, "-m", "recconsole_devtools.bot", "--room", room, "--count",
         str(count), "--size", size, "--fps", str(fps), "--no-audio", "--simulcast",
         "--stamp-time", "--url", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    results = []
    try:
        assert bots.stderr is not None
        for line in bots.stderr:
            if "publishing" in line:
                break
        else:
            raise SystemExit(f"the bots did not start: {bots.wait()}")
        for _ in range(runs):
            run = {}
            for kind in ("sdk", "console"):
                out = subprocess.run(
                    [sys.executable, "-m", "bench.render_room", "--consumer", kind, "--url",
                     url, "--room", room, "--seconds", str(seconds)],
                    capture_output=True, text=True, timeout=180)
                lines = out.stdout.strip().splitlines()
                if lines and lines[-1].startswith("{"):
                    run[kind] = json.loads(lines[-1])  # measured, whatever happened after
                else:
                    print(f"  {kind} failed ({out.returncode}):\n{out.stderr[-2000:]}")
            if len(run) < 2:
                continue
            results.append(run)
            _print_run(run)
    finally:
        bots.terminate()
        bots.wait(timeout=60)
    return results


def _print_run(run: dict[str, dict[str, Any]]) -> None:
    for kind, r in run.items():
        fps = r["fps"] or [0.0]
        print(f"  {kind:8} tracks shown {len(fps):2} (receiving {r['receiving']:2})  fps min "
              f"{min(fps):5.1f} median {statistics.median(fps):5.1f}  lag p99 "
              f"{r['lag_p99_ms']:6.1f} ms  CPU {r['cpu_s'] / r['seconds'] * 100:5.1f}% of a"
              f" core  delay p50 {r['delay_p50_ms']:6.0f} ms p99 {r['delay_p99_ms']:6.0f} ms"
              f"  SDK dropped {r['dropped']}", flush=True)


def _summary(count: int, results: list[dict[str, dict[str, Any]]]) -> None:
    def ratios(key: str) -> list[float]:
        out = []
        for run in results:
            c, s = run["console"], run["sdk"]
            if key == "fps":
                out.append(statistics.median(c["fps"] or [0]) / max(
                    statistics.median(s["fps"] or [0]), 1e-9))
            elif key == "fps_worst":
                out.append(min(c["fps"] or [0]) / max(statistics.median(s["fps"] or [0]), 1e-9))
            else:
                out.append(c["cpu_s"] / max(s["cpu_s"], 1e-9))
        return out

    fps, worst, cpu = ratios("fps"), ratios("fps_worst"), ratios("cpu")
    lag = [run["console"]["lag_p99_ms"] for run in results]
    delay = [run["console"]["delay_p99_ms"] for run in results]
    print(f"{count} bots, {len(results)} run(s), median (worst):"
          f" tile fps / SDK-only {statistics.median(fps):.2f}x ({min(fps):.2f}x),"
          f" slowest tile {statistics.median(worst):.2f}x ({min(worst):.2f}x)"
          f" [target ≥ 0.95x: {'met' if min(fps) >= 0.95 else 'missed'}];"
          f" CPU console / SDK-only {statistics.median(cpu):.2f}x ({max(cpu):.2f}x)"
          f" [≤ 1.0x: {'met' if max(cpu) <= 1.0 else 'missed'}];"
          f" loop lag p99 {statistics.median(lag):.1f} ms ({max(lag):.1f} ms)"
          + (f" [≤ 20 ms: {'met' if max(lag) <= 20 else 'missed'}]" if count <= 9 else "")
          + f"; tile delay p99 {statistics.median(delay):.0f} ms ({max(delay):.0f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", nargs="+", default=["9:640x360@30", "25:320x180@15"],
                        help="rooms as BOTS:WxH@FPS")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--port-offset", type=int, default=500,
                        help="the dev stack's test ports + this (LiveKit is started there)")
    parser.add_argument("--consumer", choices=["sdk", "console"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--room", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consumer:
        _consumer_main(args.consumer, args.url, args.room, args.seconds)
        return 0
    stack = DevStack(StackConfig.for_profile("test", offset=args.port_offset))
    was_running = stack.pid("livekit") is not None
    stack.start("livekit")
    summaries = []
    try:
        for spec in args.rooms:
            count, size, fps = _parse_room(spec)
            print(f"{count} bots at {size}@{fps:g}, simulcast:", flush=True)
            summaries.append((count, _run_room(stack.cfg.livekit_url, count, size, fps,
                                               args.runs, args.seconds)))
    finally:
        if not was_running:
            stack.stop("livekit")
    for count, results in summaries:
        _summary(count, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
