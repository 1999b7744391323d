"""``recconsole record`` end to end: a script starts, looks at and stops a real recording,
and reads the exit codes (already recording, not recording, no egress service)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from livekit import api

from recconsole.cli_record import EXIT_ALREADY_RECORDING, EXIT_NO_EGRESS, EXIT_NOT_RECORDING
from recconsole.core.livekit_server import LiveKitServer
from recconsole.server.listener import WebhookListener
from recconsole.settings import Settings
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.record_cli import record_cli
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


@pytest_asyncio.fixture
async def room(egress_stack: StackConfig) -> AsyncIterator[str]:
    name = unique_room("cli-rec")
    async with LiveKitServer(egress_stack.livekit_url, API_KEY, API_SECRET,
                             app_name=TEST_APP) as server:
        await server.ensure_room(name)
    bots: list[PublisherBot] = await start_bots(
        egress_stack.livekit_url, API_KEY, API_SECRET, name, 1,
        BotOptions(width=320, height=180, fps=15))
    yield name
    await asyncio.gather(*(bot.stop() for bot in bots))


async def test_a_script_starts_looks_at_and_stops_a_recording(
    egress_stack: StackConfig, room: str,
) -> None:
    cfg = egress_stack
    code, status, _ = await record_cli(cfg, "status", room)
    assert (code, status["recording"]) == (EXIT_NOT_RECORDING, False)

    code, started, err = await record_cli(cfg, "start", room, "--audio-only", "--preset",
                                       "720p30")
    assert code == 0, err
    assert started["action"] == "started"
    assert started["options"]["content"] == "audio"  # type: ignore[index]
    [egress] = started["egresses"]  # type: ignore[misc]
    assert egress["kind"] == "room"

    code, again, err = await record_cli(cfg, "start", room)
    assert code == EXIT_ALREADY_RECORDING
    assert "already being recorded" in err
    assert again["exitCode"] == EXIT_ALREADY_RECORDING

    async def status_code() -> int:
        return (await record_cli(cfg, "status", room))[0]

    await eventually(status_code, 0, within=30)
    code, status, _ = await record_cli(cfg, "status", room)
    assert status["recording"] is True
    assert [e["egressId"] for e in status["egresses"]] == [egress["egressId"]]  # type: ignore

    code, stopped, err = await record_cli(cfg, "stop", room)
    assert code == 0, err
    assert stopped["egress"]["egressId"] == egress["egressId"]  # type: ignore[index]
    await eventually(status_code, EXIT_NOT_RECORDING, within=60)
    code, _, err = await record_cli(cfg, "stop", room)
    assert code == EXIT_NOT_RECORDING
    assert "not being recorded" in err


async def test_without_an_egress_service_the_exit_code_says_so(
    livekit_server: StackConfig,
) -> None:
    code, answer, err = await record_cli(livekit_server, "start", unique_room("cli-noeg"))
    assert code == EXIT_NO_EGRESS, err
    assert "egress" in str(answer["error"])
    # One line says it (PyJWT may warn above it about the dev stack's short secret).
    assert err.strip().splitlines()[-1].startswith("recconsole record start: Recording is not")


async def test_each_participant_from_a_script_and_a_listener_records_newcomers(
    egress_stack: StackConfig, room: str, tmp_path: Path,
) -> None:
    cfg = egress_stack
    settings = Settings.from_env({**cfg.env(), "APP_NAME": TEST_APP, "REDIS_URL": ""})
    listener = WebhookListener(settings, data_dir=tmp_path / "listener", reconcile_every=None)
    await listener.start()
    late: list[PublisherBot] = []

    async def active() -> int:
        return sum(e.status == api.EgressStatus.EGRESS_ACTIVE
                   for e in await listener.server.list_egress(room, active=True))

    try:
        code, started, err = await record_cli(cfg, "start", room, "--each-participant")
        assert code == 0, err
        assert [e["participant"] for e in started["egresses"]] == ["bot-1"]  # type: ignore
        await eventually(active, 1, within=60)
        # Nothing of the script runs now: the listener hears of the newcomer and records
        # them in the same session.
        late = await start_bots(cfg.livekit_url, API_KEY, API_SECRET, room, 1,
                                BotOptions(width=320, height=180, fps=15), prefix="late")
        await eventually(active, 2, within=60)
        code, status, _ = await record_cli(cfg, "status", room)
        egresses = status["egresses"]
        assert sorted(e["participant"] for e in egresses) == ["bot-1", "late-1"]  # type: ignore
        assert len({e["session"] for e in egresses}) == 1  # type: ignore[union-attr]
        code, _, err = await record_cli(cfg, "stop", room)
        assert code == 0, err
        await eventually(active, 0, within=60)
    finally:
        await asyncio.gather(*(bot.stop() for bot in late))
        await listener.stop()
