"""Nine remote 640x360@30 tracks from a real server: fps per tile, loop lag, CPU.

Publisher bots run in their own process; two consumers join the same room one after
the other, each in its own process for the same time:
- sdk: the LiveKit SDK alone, counting frames (the baseline);
- console: the console's room view (tiles fed as the window feeds them) in a qasync
  loop on an offscreen Qt, counting frames painted per tile.
Each reports frames per second per track, the event loop's lag (p99) and its CPU time.
Targets: every tile ≥ 28 fps, loop lag p99 ≤ 20 ms, console CPU ≤ 1.3x the SDK-only.

    python -m bench.render_room [--bots 9] [--seconds 10]
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


async def _consume(kind: str, url: str, room: str, seconds: float) -> dict[str, Any]:
    from livekit import rtc

    from recconsole.core.tokens import mint_token
    from recconsole.realtime.session import RoomSession, SessionEvents

    counts: dict[str, int] = {}
    view = None
    if kind == "console":
        from recconsole.ui.room_view import RoomView

        view = RoomView()
        view.resize(1280, 800)
        view.show()

    class Events(SessionEvents):
        def video_added(self, track_sid: str, identity: str) -> None:
            counts[track_sid] = 0
            if view is not None:
                view.add_video(track_sid, identity)

        def video_frame(self, track_sid: str, frame: rtc.VideoFrame) -> None:
            if view is not None:
                view.show_frame(track_sid, frame)
            else:
                counts[track_sid] += 1

    token = mint_token(API_KEY, API_SECRET, room, f"bench-{kind}", observer=True)
    session = RoomSession(url, token, Events())
    await session.connect()
    await asyncio.sleep(3)  # let every track reach its steady rate before counting
    start_counts = ({sid: t.frames_shown for sid, t in view.tiles.items()} if view
                    else dict(counts))
    lags: list[float] = []
    stop = asyncio.Event()
    probe = asyncio.create_task(_lag_probe(lags, stop))
    cpu0, began = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu1, elapsed = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - began
    stop.set()
    await probe
    end_counts = ({sid: t.frames_shown for sid, t in view.tiles.items()} if view
                  else dict(counts))
    await session.disconnect()
    fps = sorted((end_counts[s] - start_counts.get(s, 0)) / elapsed for s in end_counts)
    lags.sort()
    return {"fps": fps, "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000 if lags else 0.0,
            "cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
            "seconds": elapsed}


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--consumer", choices=["sdk", "console"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--room", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consumer:
        _consumer_main(args.consumer, args.url, args.room, args.seconds)
        return 0
    stack = DevStack(StackConfig.for_profile("test", offset=500))
    was_running = stack.pid("livekit") is not None
    stack.start("livekit")
    url, room = stack.cfg.livekit_url, f"bench-{uuid.uuid4().hex[:6]}"
    bots = subprocess.Popen(
        [sys.executable, "-m", "recconsole_devtools.bot", "--room", room, "--count",
         str(args.bots), "--size", "640x360", "--fps", "30", "--no-audio", "--url", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert bots.stderr is not None
        for line in bots.stderr:
            if "publishing" in line:
                break
        results = {}
        for kind in ("sdk", "console"):
            out = subprocess.run(
                [sys.executable, "-m", "bench.render_room", "--consumer", kind, "--url", url,
                 "--room", room, "--seconds", str(args.seconds)],
                capture_output=True, text=True, timeout=120, check=True)
            results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        bots.terminate()
        bots.wait(timeout=30)
        if not was_running:
            stack.stop("livekit")
    for kind, r in results.items():
        fps = r["fps"]
        print(f"{kind:8} tracks {len(fps)}  fps min {min(fps):5.1f} median "
              f"{statistics.median(fps):5.1f}   loop lag p99 {r['lag_p99_ms']:5.1f} ms   "
              f"CPU {r['cpu_s'] / r['seconds'] * 100:5.1f}% of a core")
    ratio = results["console"]["cpu_s"] / max(results["sdk"]["cpu_s"], 1e-9)
    worst = min(results["console"]["fps"])
    print(f"console tiles ≥ 28 fps: {'met' if worst >= 28 else 'missed'} (min {worst:.1f});"
          f" lag p99 ≤ 20 ms: {'met' if results['console']['lag_p99_ms'] <= 20 else 'missed'};"
          f" CPU console / SDK-only {ratio:.2f}x (target ≤ 1.3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
