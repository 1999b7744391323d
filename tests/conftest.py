"""Shared fixtures: the real local services (started once per run) and a clean environment."""

from __future__ import annotations

import os

# Before anything imports Qt: no screen here, and never the developer's own settings.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import gc
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from recconsole.core.livekit_server import LiveKitServer
from recconsole.settings import ENV_NAMES
from recconsole_devtools.devstack import (
    API_KEY,
    API_SECRET,
    PROFILES,
    DevStack,
    StackConfig,
    StackError,
)
from tests.helpers import server_close_race
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.webhook_sink import WebhookRecorder

server_close_race.install()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the developer's real settings, data and keyring."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    # Nor the developer's AWS credentials; and never a probe of an instance metadata service.
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def _qt_objects_die_on_the_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a Qt test, collect its garbage here: a QObject with timers freed later by
    the garbage collector on a worker thread makes Qt warn or crash."""
    yield
    if request.node.get_closest_marker("gui") or request.node.get_closest_marker("e2e"):
        gc.collect()


@pytest.fixture(scope="session")
def devstack() -> Iterator[DevStack]:
    """The test profile of the dev stack, fresh state; every service it started is stopped after.

    RECCONSOLE_TEST_PORT_OFFSET shifts its ports, so two test runs can share a machine.
    """
    offset = int(os.environ.get("RECCONSOLE_TEST_PORT_OFFSET", "0"))
    webhook = PROFILES["test"].webhook + offset
    # LiveKit also posts to webhook + 1, where tests run the product's own listener.
    stack = DevStack(StackConfig.for_profile("test", offset=offset,
                                             extra_webhook_ports=(webhook + 1,)))
    stack.down()
    shutil.rmtree(stack.cfg.state, ignore_errors=True)
    yield stack
    stack.down()


@pytest.fixture(scope="session")
def silent_speaker(devstack: DevStack) -> Iterator[StackConfig]:
    """A real PulseAudio with one null sink, the default output of the Qt tests
    (tests/gui and tests/e2e ask for it before any of theirs runs; unit and integration
    tests need no sound server and start none).

    Qt Multimedia plays the room's sound into it; its monitor source records what
    was played. Started before any test touches Qt Multimedia, which looks for a
    sound server once per process.
    """
    cfg = _start(devstack, "pulse")
    previous = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = cfg.pulse_server
    yield cfg
    if previous is None:
        os.environ.pop("PULSE_SERVER", None)
    else:
        os.environ["PULSE_SERVER"] = previous
    devstack.stop("pulse")


def _start(stack: DevStack, name: str) -> StackConfig:
    try:
        stack.start(name)
    except StackError as err:
        pytest.fail(f"cannot start {name} for this test: {err}", pytrace=False)
    return stack.cfg


@pytest.fixture(scope="session")
def livekit_webhooks(devstack: DevStack) -> Iterator[WebhookRecorder]:
    """Every webhook the test LiveKit server sends, verified; outlives the server."""
    recorder = WebhookRecorder(devstack.cfg.ports.webhook, API_KEY, API_SECRET)
    recorder.start()
    yield recorder
    devstack.stop("livekit")  # no more webhooks once the recorder is gone
    recorder.stop()


@pytest.fixture(scope="session")
def livekit_server(devstack: DevStack, livekit_webhooks: WebhookRecorder) -> StackConfig:
    """A real LiveKit server on loopback; its webhooks reach ``livekit_webhooks``."""
    return _start(devstack, "livekit")


@pytest.fixture(scope="session")
def minio_server(devstack: DevStack) -> StackConfig:
    """A real MinIO server on loopback with the ``openvidu`` bucket."""
    return _start(devstack, "minio")


@pytest.fixture(scope="session")
def azurite_server(devstack: DevStack) -> StackConfig:
    """A real Azurite blob service on loopback with the tutorial's container."""
    return _start(devstack, "azurite")


@pytest.fixture(scope="session")
def redis_server(devstack: DevStack) -> StackConfig:
    """A real Redis server on loopback."""
    return _start(devstack, "redis")


@pytest.fixture(scope="session")
def livekit_redis_server(
    devstack: DevStack, livekit_webhooks: WebhookRecorder
) -> Iterator[StackConfig]:
    """A second real LiveKit server that keeps its state in Redis, as egress needs.

    No egress worker is connected to it: egress requests are accepted for routing
    but nobody takes them, which is how a deployment with a missing egress behaves.
    """
    cfg = StackConfig.for_profile(
        "test", offset=devstack.cfg.offset + 50, webhook_port=devstack.cfg.ports.webhook,
        livekit_redis=True,
    )
    stack = DevStack(cfg)
    stack.down()
    try:
        stack.up(["redis", "livekit"])
    except StackError as err:
        stack.down()
        pytest.fail(f"cannot start LiveKit with Redis for this test: {err}", pytrace=False)
    yield cfg
    stack.down()


@pytest.fixture(scope="session")
def egress_stack(devstack: DevStack) -> Iterator[StackConfig]:
    """A stack that records for real: LiveKit backed by Redis, the LiveKit egress
    service (built from its Go module), PulseAudio for its sound, and MinIO.

    LiveKit posts its webhooks (egress ones included) to ``cfg.webhook_url``, where
    tests run the console's own listener.
    """
    cfg = StackConfig.for_profile("test", offset=devstack.cfg.offset + 60, livekit_redis=True)
    stack = DevStack(cfg)
    stack.down()
    shutil.rmtree(cfg.state, ignore_errors=True)
    try:
        stack.up(["redis", "minio", "pulse", "livekit", "egress"], timeout=120)
    except StackError as err:
        stack.down()
        pytest.fail(f"cannot start the recording stack for this test: {err}", pytrace=False)
    yield cfg
    stack.down()


@pytest.fixture(scope="session")
def rtmp_server(egress_stack: StackConfig) -> Iterator[StackConfig]:
    """MediaMTX beside the recording stack (same ports plan), receiving the egress's live
    streams at ``cfg.rtmp_url + "/PATH"`` and serving them to readers; its API at
    ``cfg.mediamtx_api_url``. Built from its Go module the first time."""
    stack = DevStack(egress_stack)
    stack.stop("mediamtx")
    yield _start(stack, "mediamtx")
    stack.stop("mediamtx")


@pytest.fixture(scope="session")
def listener_port(devstack: DevStack) -> int:
    """The port the test LiveKit server also sends its webhooks to, for the listener under test."""
    return devstack.cfg.extra_webhook_ports[0]


def _private(devstack: DevStack, name: str, offset: int) -> Iterator[DevStack]:
    """A ``name`` service of one test's own, which the test may stop and start again."""
    cfg = StackConfig.for_profile("test", offset=devstack.cfg.offset + offset)
    stack = DevStack(cfg)
    stack.down([name])
    shutil.rmtree(cfg.state, ignore_errors=True)
    try:
        stack.start(name)
    except StackError as err:
        stack.down([name])
        pytest.fail(f"cannot start a private {name} for this test: {err}", pytrace=False)
    yield stack
    stack.down([name])


@pytest.fixture
def private_minio(devstack: DevStack) -> Iterator[DevStack]:
    """A MinIO of this test's own, which the test may stop and start again."""
    yield from _private(devstack, "minio", 70)


@pytest.fixture
def private_livekit(devstack: DevStack) -> Iterator[DevStack]:
    """A LiveKit server of this test's own, which the test stops and starts again."""
    yield from _private(devstack, "livekit", 80)


@pytest_asyncio.fixture
async def app_room(livekit_server: StackConfig) -> AsyncIterator[str]:
    """A fresh room on the test server, created as this app (TEST_APP) creates rooms."""
    async with LiveKitServer(livekit_server.livekit_url, API_KEY, API_SECRET,
                             app_name=TEST_APP) as server:
        name = unique_room("room")
        await server.ensure_room(name)
        yield name
