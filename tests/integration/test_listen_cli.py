"""``recconsole listen --status`` and ``--replay`` as a real process, on a real queue file.

The queue holds what a listener leaves behind when the storage refuses a key for one
room (a dead letter) and is unreachable for another (a room retrying), beside one
effect done. Room names are not ASCII: they are whatever people called their rooms.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from recconsole.server.durable_queue import DurableQueue, Effect, PermanentError
from recconsole.server.listener import queue_path
from recconsole_devtools.devstack import StackConfig

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

DEAD_ROOM = "réunion 会議 #1"
RETRYING_ROOM = "Salle d'été"
DONE_ROOM = "daily"
REFUSED = "metadata of EG_dead: the storage cannot hold the key \"réunion 会議 #1/x.json\""
UNREACHABLE = "storage unreachable at the moment"


@dataclass(frozen=True)
class Queue:
    data_dir: Path
    dead_id: int


@pytest_asyncio.fixture
async def queue(tmp_path: Path) -> Queue:
    """A queue file with one dead letter, one room retrying and one effect done."""
    data_dir = tmp_path / "data"
    q = DurableQueue(queue_path(data_dir), first_backoff=3600)  # no second try meanwhile
    await q.put("EV_dead", DEAD_ROOM, "egress_ended", b"{}")
    await q.put("EV_retry", RETRYING_ROOM, "egress_updated", b"{}")
    await q.put("EV_done", DONE_ROOM, "room_finished", b"{}")
    tried = {room: asyncio.Event() for room in (DEAD_ROOM, RETRYING_ROOM, DONE_ROOM)}

    async def apply(effect: Effect) -> None:
        tried[effect.room].set()
        if effect.room == DEAD_ROOM:
            raise PermanentError(REFUSED)
        if effect.room == RETRYING_ROOM:
            raise ConnectionError(UNREACHABLE)

    run = asyncio.create_task(q.run(apply))
    async with asyncio.timeout(10):
        for event in tried.values():
            await event.wait()
    q.request_stop()  # the effects in hand are finished and recorded
    await run
    [letter] = await q.dead_letters()
    await q.close()
    return Queue(data_dir, letter.id)


@pytest.fixture
def env(livekit_server: StackConfig) -> dict[str, str]:
    """The environment of a `recconsole` process pointed at the test LiveKit, no Redis."""
    return {**os.environ, **livekit_server.env(), "REDIS_URL": ""}


async def _listen(env: dict[str, str], data_dir: Path, *args: str,
                  ) -> tuple[int, str, str]:
    """``recconsole listen --data-dir data_dir *args``: exit code, stdout, stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "recconsole", "--env-file", str(data_dir.parent / "no.env"),
        "listen", "--data-dir", str(data_dir), *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert "Traceback" not in err.decode(errors="replace"), err.decode(errors="replace")
    return (await proc.wait(), out.decode(env.get("PYTHONIOENCODING", "utf-8")),
            err.decode(errors="replace"))


async def test_status_names_the_rooms_retrying_and_the_dead_letters(
    queue: Queue, env: dict[str, str],
) -> None:
    code, out, _ = await _listen(env, queue.data_dir, "--status")
    assert code == 0
    assert out.splitlines() == [
        f"pending 1, retrying 1, done 1, dead 1, last error: ConnectionError: {UNREACHABLE}",
        f"retrying room {RETRYING_ROOM!r}: egress_updated, 1 attempt:"
        f" ConnectionError: {UNREACHABLE}",
        f"dead letter {queue.dead_id}: room {DEAD_ROOM!r} egress_ended: {REFUSED}"
        f" (recconsole listen --replay {queue.dead_id})",
    ]


async def test_status_as_json(queue: Queue, env: dict[str, str]) -> None:
    code, out, _ = await _listen(env, queue.data_dir, "--status", "--json")
    assert code == 0
    status = json.loads(out)
    [letter] = status.pop("deadLetters")
    assert time.time() - 60 < letter.pop("deadAt") <= time.time()
    assert letter == {"id": queue.dead_id, "room": DEAD_ROOM, "kind": "egress_ended",
                      "eventId": "EV_dead", "attempts": 1, "error": REFUSED}
    assert status == {
        "pending": 1, "retrying": 1, "done": 1, "dead": 1,
        "lastError": f"ConnectionError: {UNREACHABLE}",
        "retryingRooms": [{"room": RETRYING_ROOM, "kind": "egress_updated", "attempts": 1,
                           "error": f"ConnectionError: {UNREACHABLE}"}],
    }
    assert DEAD_ROOM in out  # UTF-8 as it is, not \\u escapes


async def test_a_replayed_dead_letter_is_pending_again(
    queue: Queue, env: dict[str, str],
) -> None:
    code, out, _ = await _listen(env, queue.data_dir, "--replay", str(queue.dead_id))
    assert (code, out) == (0, "1 dead letter queued again\n")
    code, out, _ = await _listen(env, queue.data_dir, "--status", "--json")
    status = json.loads(out)
    assert (status["pending"], status["retrying"], status["done"], status["dead"]) == (2, 1, 1, 0)
    assert status["deadLetters"] == []
    # Put back as new: not counted as retrying, its old error gone.
    assert [r["room"] for r in status["retryingRooms"]] == [RETRYING_ROOM]
    code, out, _ = await _listen(env, queue.data_dir, "--replay", "all")
    assert (code, out) == (0, "0 dead letters queued again\n")


async def test_replay_all_puts_every_dead_letter_back(
    queue: Queue, env: dict[str, str],
) -> None:
    code, out, _ = await _listen(env, queue.data_dir, "--replay", "all")
    assert (code, out) == (0, "1 dead letter queued again\n")
    _, out, _ = await _listen(env, queue.data_dir, "--status")
    assert out.startswith("pending 2, retrying 1, done 1, dead 0")
    assert "dead letter" not in out


async def test_replay_of_ids_that_are_no_dead_letters_says_so(
    queue: Queue, env: dict[str, str],
) -> None:
    code, out, err = await _listen(env, queue.data_dir, "--replay", "abc")
    assert code == 1
    assert out == ""
    assert "recconsole listen: --replay takes dead letter ids (numbers) or 'all'" in err
    unknown = queue.dead_id + 100
    code, out, err = await _listen(env, queue.data_dir, "--replay", str(queue.dead_id),
                                   str(unknown))
    assert code == 1
    assert out == "1 dead letter queued again\n"
    assert f"no dead letter {unknown}" in err
    _, out, _ = await _listen(env, queue.data_dir, "--status", "--json")
    assert json.loads(out)["dead"] == 0


async def test_status_on_a_console_that_is_not_utf8_escapes_instead_of_failing(
    queue: Queue, env: dict[str, str],
) -> None:
    ascii_env = {**env, "PYTHONIOENCODING": "ascii"}
    code, out, _ = await _listen(ascii_env, queue.data_dir, "--status")
    assert code == 0
    assert repr(RETRYING_ROOM).encode("ascii", "backslashreplace").decode() in out
    assert repr(DEAD_ROOM).encode("ascii", "backslashreplace").decode() in out
    code, out, _ = await _listen(ascii_env, queue.data_dir, "--status", "--json")
    assert code == 0
    status = json.loads(out)  # still JSON: escaped as JSON does
    assert status["deadLetters"][0]["room"] == DEAD_ROOM
    assert status["deadLetters"][0]["error"] == REFUSED
    assert status["retryingRooms"][0]["room"] == RETRYING_ROOM


async def test_status_of_a_folder_no_listener_used_says_so_and_creates_nothing(
    env: dict[str, str], tmp_path: Path,
) -> None:
    mistyped = tmp_path / "dta"
    for args in (["--status"], ["--status", "--json"], ["--replay", "all"]):
        code, out, err = await _listen(env, mistyped, *args)
        assert code == 1
        assert out == ""
        assert f"no webhook queue in {mistyped}" in err
    assert not mistyped.exists()
