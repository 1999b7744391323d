"""The dev stack's own promises: side-by-side stacks share no port, LiveKit and MediaMTX
listen on loopback only (and media still flows), and services start in the order they need.

Stacks started here sit at +200..+290 from the suite's port offset, away from the
suite's own (+0, +50, +60, +70), and are stopped after each test.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import av
import numpy as np
import pytest
from livekit import rtc

from recconsole.core.livekit_server import ws_url
from recconsole.core.tokens import mint_token
from recconsole_devtools.bot import BotOptions, start_bots
from recconsole_devtools.devstack import (
    API_KEY,
    API_SECRET,
    PROFILES,
    SERVICES,
    DevStack,
    StackConfig,
    StackError,
    dependency_order,
    start_order,
)
from tests.helpers.rooms import unique_room
from tests.helpers.waiting import eventually

# --- ports of stacks side by side -----------------------------------------------------

SIDE_BY_SIDE_OFFSETS = (0, 10, 50, 60, 70, 100, 200)


def _suite_like(profile: str, offset: int) -> StackConfig:
    """A stack as the suite builds them: LiveKit also posts to the webhook port + 1."""
    webhook = PROFILES[profile].webhook + offset
    return StackConfig.for_profile(profile, offset=offset, extra_webhook_ports=(webhook + 1,))


def _collisions(configs: list[StackConfig]) -> list[str]:
    clashes = []
    for a, b in itertools.combinations(configs, 2):
        ports_a, ports_b = a.all_ports(), b.all_ports()
        for port in sorted(set(ports_a.values()) & set(ports_b.values())):
            name_a = next(k for k, v in ports_a.items() if v == port)
            name_b = next(k for k, v in ports_b.items() if v == port)
            clashes.append(f"{port}: {a.profile}+{a.offset} {name_a} / "
                           f"{b.profile}+{b.offset} {name_b}")
    return clashes


@pytest.mark.unit
def test_stacks_at_the_documented_offsets_share_no_port() -> None:
    configs = [_suite_like(profile, offset)
               for profile in sorted(PROFILES) for offset in SIDE_BY_SIDE_OFFSETS]
    assert _collisions(configs) == []


@pytest.mark.unit
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_stacks_at_any_multiples_of_ten_under_1000_apart_share_no_port(profile: str) -> None:
    configs = [_suite_like(profile, offset) for offset in range(0, 1000, 10)]
    every_port = [port for cfg in configs for port in cfg.all_ports().values()]
    assert len(every_port) == len(set(every_port)), _collisions(configs)[:5]


@pytest.mark.unit
def test_a_stack_lists_its_derived_ports_and_keeps_the_documented_dev_ports() -> None:
    ports = StackConfig.for_profile("dev").all_ports()
    assert {k: ports[k] for k in ("livekit", "livekit_rtc_tcp", "livekit_rtc_udp", "minio",
                                  "minio_console", "azurite", "redis", "webhook", "pulse")} == {
        "livekit": 7880, "livekit_rtc_tcp": 7881, "livekit_rtc_udp": 7882, "minio": 9000,
        "minio_console": 9001, "azurite": 10000, "redis": 6379, "webhook": 6080, "pulse": 4713,
    }
    assert (ports["mediamtx"], ports["mediamtx_api"]) == (1935, 1936)  # RTMP's own port
    assert len(set(ports.values())) == len(ports)


# --- the order services start in -----------------------------------------------------


@pytest.mark.unit
def test_dependency_order_puts_needs_first_and_keeps_the_named_order_otherwise() -> None:
    needs = {"app": ("db", "cache"), "db": ("disk",), "cache": (), "disk": (), "other": ()}
    order = dependency_order(["other", "app", "disk"], lambda n: needs[n])
    assert order == ["other", "disk", "db", "cache", "app"]


@pytest.mark.unit
def test_dependency_order_refuses_a_cycle_in_one_line() -> None:
    needs = {"a": ("b",), "b": ("a",)}
    with pytest.raises(StackError, match=r"^a: needs itself through b, a$"):
        dependency_order(["a"], lambda n: needs[n])


@pytest.mark.unit
def test_start_order_starts_what_each_named_service_needs_before_it() -> None:
    cfg = StackConfig.for_profile("test", livekit_redis=True)
    assert start_order(cfg, ["livekit", "minio", "redis"]) == ["redis", "livekit", "minio"]
    order = start_order(cfg, ["egress", "azurite"])
    assert set(order) == {"egress", "redis", "livekit", "pulse", "minio", "azurite"}
    for name in order:
        for need in SERVICES[name].needs(cfg):
            assert order.index(need) < order.index(name), (need, name, order)
    assert order[-1] == "azurite"  # named after egress, needed by nothing


@pytest.mark.unit
def test_livekit_without_redis_needs_nothing() -> None:
    cfg = StackConfig.for_profile("test", livekit_redis=False)
    assert start_order(cfg, ["livekit", "redis"]) == ["livekit", "redis"]



# --- stacks of these tests' own --------------------------------------------------------


@pytest.fixture
def own_stack(devstack: DevStack) -> Iterator[Callable[..., DevStack]]:
    """Makes stacks at +200..+290 from the suite's offset, fresh; stops them all after."""
    made: list[DevStack] = []

    def make(plus: int, livekit_redis: bool = False) -> DevStack:
        assert 200 <= plus <= 290
        stack = DevStack(StackConfig.for_profile("test", offset=devstack.cfg.offset + plus,
                                                 livekit_redis=livekit_redis))
        stack.down()
        shutil.rmtree(stack.cfg.state, ignore_errors=True)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.down()


@pytest.mark.integration
def test_up_starts_services_named_in_a_bad_order_in_the_order_they_need(
    own_stack: Callable[..., DevStack],
) -> None:
    stack = own_stack(210, livekit_redis=True)
    started = stack.up(["livekit", "minio", "redis"])
    assert started == ["redis", "livekit", "minio"]
    for name in started:
        assert stack.pid(name) is not None, name
        assert SERVICES[name].healthy(stack.cfg), name


@pytest.mark.integration
def test_up_also_starts_what_a_named_service_needs(own_stack: Callable[..., DevStack]) -> None:
    stack = own_stack(220, livekit_redis=True)
    assert stack.up(["livekit"]) == ["redis", "livekit"]
    assert SERVICES["redis"].healthy(stack.cfg)
    assert SERVICES["livekit"].healthy(stack.cfg)


@pytest.mark.integration
def test_start_alone_refuses_in_one_line_when_a_need_is_not_running(
    own_stack: Callable[..., DevStack],
) -> None:
    stack = own_stack(230, livekit_redis=True)
    with pytest.raises(StackError) as caught:
        stack.start("livekit")
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("livekit: needs redis")
    assert stack.pid("livekit") is None


# --- LiveKit on loopback only ----------------------------------------------------------


@dataclass(frozen=True)
class Socket:
    """One socket of a process, from /proc/<pid>/net/{tcp,tcp6,udp,udp6}."""

    proto: str  # tcp or udp
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int
    listening: bool  # a listening TCP socket; every UDP socket is bound

    def __str__(self) -> str:
        return f"{self.proto} {self.address}:{self.port}"


TCP_LISTEN = "0A"
LOOPBACK = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"),
            ipaddress.ip_address("::ffff:127.0.0.1")}


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:["):-1]))
    return inodes


def _proc_address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as /proc/net prints it: 32-bit words in the host's byte order."""
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw)


def process_sockets(pid: int) -> list[Socket]:
    """The TCP and UDP sockets the process holds (matched by inode, in its own netns)."""
    inodes = _socket_inodes(pid)
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if inode not in inodes:
                continue
            host, port = local.split(":")
            proto = table.rstrip("6")
            found.append(Socket(proto, _proc_address(host), int(port, 16),
                                listening=proto == "udp" or state == TCP_LISTEN))
    return found


@pytest.mark.unit
def test_proc_addresses_decode_as_the_kernel_prints_them() -> None:
    assert _proc_address("0100007F") == ipaddress.ip_address("127.0.0.1")
    assert _proc_address("00000000000000000000000001000000") == ipaddress.ip_address("::1")
    assert _proc_address("0000000000000000FFFF00000100007F") == ipaddress.ip_address(
        "::ffff:127.0.0.1")


def _open_to_the_network(pid: int) -> list[str]:
    return [str(s) for s in process_sockets(pid) if s.listening and s.address not in LOOPBACK]


async def _frames_from_a_bot(cfg: StackConfig, count: int) -> int:
    """Frames a subscriber receives from one publisher bot through this LiveKit."""
    room_name = unique_room("loopback")
    bots = await start_bots(cfg.livekit_url, API_KEY, API_SECRET, room_name, 1,
                            BotOptions(width=160, height=90, fps=15, audio=False))
    viewer = rtc.Room()
    received = 0
    enough = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def collect(track: rtc.Track) -> None:
        nonlocal received
        async for _ in rtc.VideoStream(track):
            received += 1
            if received >= count:
                enough.set()
                return

    @viewer.on("track_subscribed")
    def _on_track(track: rtc.Track, *_: object) -> None:
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            tasks.append(asyncio.create_task(collect(track)))

    try:
        await viewer.connect(ws_url(cfg.livekit_url),
                             mint_token(API_KEY, API_SECRET, room_name, "viewer", observer=True))
        await asyncio.wait_for(enough.wait(), timeout=30)
    finally:
        await viewer.disconnect()
        await asyncio.gather(*(bot.stop() for bot in bots))
        for task in tasks:
            task.cancel()
    return received


@pytest.mark.integration
def test_livekit_listens_on_loopback_only_and_media_still_flows(
    own_stack: Callable[..., DevStack],
) -> None:
    stack = own_stack(200)
    stack.up(["livekit"])
    pid = stack.pid("livekit")
    assert pid is not None
    at_start = process_sockets(pid)
    # The probe sees LiveKit's own sockets: its signal port and its RTC UDP port.
    assert any(s.proto == "tcp" and s.listening and s.port == stack.cfg.ports.livekit
               for s in at_start), [str(s) for s in at_start]
    assert any(s.proto == "udp" and s.port == stack.cfg.ports.livekit_rtc_udp
               for s in at_start), [str(s) for s in at_start]
    assert _open_to_the_network(pid) == []
    assert not any(s.port == stack.cfg.ports.livekit_rtc_tcp for s in at_start)

    assert asyncio.run(_frames_from_a_bot(stack.cfg, count=10)) >= 10
    # Nothing opened while a publisher and a subscriber were connected either.
    assert _open_to_the_network(pid) == []


# --- MediaMTX: live streams, on loopback only ----------------------------------------


def _publish(url: str, stop: threading.Event, within: float = 60.0) -> None:
    """Publish a changing 160x90 picture and silence to ``url`` over RTMP (as egress
    does: FLV with H.264 and AAC) until ``stop`` is set, ``within`` s at most."""
    with av.open(url, "w", format="flv", timeout=(10.0, 10.0)) as out:
        video = out.add_stream("libx264", rate=15, options={"tune": "zerolatency",
                                                            "preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = 160, 90, "yuv420p"
        video.codec_context.gop_size = 15  # a key frame each second: a reader starts soon
        audio = out.add_stream("aac", rate=48000, layout="mono")
        started, index = time.monotonic(), 0
        while not stop.is_set() and time.monotonic() - started < within:
            picture = av.VideoFrame.from_ndarray(
                np.full((90, 160, 3), index * 8 % 256, np.uint8), format="rgb24")
            picture.pts = index
            sound = av.AudioFrame.from_ndarray(np.zeros((1, 3200), np.float32),
                                               format="fltp", layout="mono")
            sound.sample_rate, sound.pts = 48000, index * 3200
            for packet in [*video.encode(picture), *audio.encode(sound)]:
                out.mux(packet)
            index += 1
            stop.wait(1 / 15)  # real time, as a live source sends


def _play(url: str, pictures: int) -> tuple[list[str], int]:
    """Read ``url`` over RTMP: its codecs, and how many pictures decoded (up to ``pictures``)."""
    with av.open(url, timeout=(10.0, 10.0)) as container:
        codecs = sorted(s.codec_context.name for s in container.streams)
        decoded = 0
        for _frame in container.decode(video=0):
            decoded += 1
            if decoded >= pictures:
                break
        return codecs, decoded


async def _tracks(cfg: StackConfig, path: str) -> list[str]:
    """The tracks MediaMTX's API lists for a ready path; [] while none is published."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session, \
            session.get(f"{cfg.mediamtx_api_url}/v3/paths/get/{path}") as resp:
        if resp.status == 404:
            return []
        found = await resp.json()
        return list(found["tracks"]) if found["ready"] else []


async def _relay(cfg: StackConfig) -> tuple[list[str], int]:
    """Publish to MediaMTX and play it back while it is published."""
    stop = threading.Event()
    url = f"{cfg.rtmp_url}/live/check"
    publishing = asyncio.create_task(asyncio.to_thread(_publish, url, stop))
    try:
        await eventually(lambda: _tracks(cfg, "live/check"), ["H264", "MPEG-4 Audio"],
                         within=30)
        return await asyncio.wait_for(asyncio.to_thread(_play, url, 10), 60)
    finally:
        stop.set()
        await publishing
        await eventually(lambda: _tracks(cfg, "live/check"), [], within=30)


@pytest.mark.integration
def test_mediamtx_listens_on_loopback_only_and_relays_a_live_stream(
    own_stack: Callable[..., DevStack],
) -> None:
    stack = own_stack(240)
    assert stack.up(["mediamtx"]) == ["mediamtx"]  # it needs nothing else
    pid = stack.pid("mediamtx")
    assert pid is not None
    listening = {(s.proto, s.port) for s in process_sockets(pid) if s.listening}
    assert listening == {("tcp", stack.cfg.ports.mediamtx), ("tcp", stack.cfg.mediamtx_api_port)}
    assert _open_to_the_network(pid) == []

    assert asyncio.run(_relay(stack.cfg)) == (["aac", "h264"], 10)
    assert _open_to_the_network(pid) == []
