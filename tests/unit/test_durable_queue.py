"""The durable queue of webhook effects (SQLite on a temp folder)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from recconsole.server.durable_queue import (
    DurableQueue,
    Effect,
    PermanentError,
    QueueBusy,
    _in_one_transaction,
)
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


@contextlib.asynccontextmanager
async def running(
    queue: DurableQueue, apply: Callable[[Effect], Awaitable[None]]
) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(queue.run(apply))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_duplicates_are_recognised(tmp_path: Path) -> None:
    queue = DurableQueue(tmp_path / "q.db")
    assert await queue.put("EV_1", "room", "egress_ended", b"{}") is True
    assert await queue.put("EV_1", "room", "egress_ended", b"{}") is False
    assert (await queue.status()).pending == 1
    await queue.close()


async def test_effects_apply_in_order_per_room(tmp_path: Path) -> None:
    queue = DurableQueue(tmp_path / "q.db")
    results = await asyncio.gather(*(
        queue.put(f"EV_{room}{i}", room, "egress_updated", str(i).encode())
        for i in range(20) for room in "ab"
    ))
    assert all(results)
    seen: dict[str, list[int]] = {"a": [], "b": []}

    async def apply(effect: Effect) -> None:
        seen[effect.room].append(int(effect.body))

    async with running(queue, apply):
        await queue.drained()
    assert seen == {"a": list(range(20)), "b": list(range(20))}
    assert (await queue.status()).done == 40
    await queue.close()


async def test_failures_are_retried_without_overtaking(tmp_path: Path) -> None:
    queue = DurableQueue(tmp_path / "q.db", first_backoff=0.01)
    await queue.put("EV_1", "r", "egress_started", b"first")
    await queue.put("EV_2", "r", "egress_ended", b"second")
    attempts: list[bytes] = []
    storage_down = True

    async def apply(effect: Effect) -> None:
        attempts.append(effect.body)
        if storage_down and len(attempts) < 4:
            raise ConnectionError("storage unreachable")

    async with running(queue, apply):
        await queue.drained()
    assert attempts == [b"first", b"first", b"first", b"first", b"second"]
    status = await queue.status()
    assert (status.pending, status.done) == (0, 2)
    await queue.close()


async def test_status_tells_depth_and_last_error(tmp_path: Path) -> None:
    queue = DurableQueue(tmp_path / "q.db", first_backoff=60)
    await queue.put("EV_1", "r", "egress_ended", b"x")
    failed = asyncio.Event()

    async def apply(effect: Effect) -> None:
        failed.set()
        raise ConnectionError("MinIO is down")

    async with running(queue, apply):
        await failed.wait()
        while (await queue.status()).retrying == 0:
            await asyncio.wait_for(failed.wait(), 5)
    status = await queue.status()
    assert (status.pending, status.retrying) == (1, 1)
    assert "MinIO is down" in status.last_error
    await queue.close()


async def test_queued_effects_survive_a_restart(tmp_path: Path) -> None:
    first = DurableQueue(tmp_path / "q.db")
    await first.put("EV_1", "r", "egress_ended", b"kept")
    await first.close()  # the process goes away before applying anything

    second = DurableQueue(tmp_path / "q.db")
    applied: list[bytes] = []

    async def apply(effect: Effect) -> None:
        applied.append(effect.body)

    async with running(second, apply):
        await second.drained()
    assert applied == [b"kept"]
    assert await second.put("EV_1", "r", "egress_ended", b"kept") is False  # still known
    await second.close()


async def test_stopping_finishes_the_effect_in_hand_and_records_it(tmp_path: Path) -> None:
    queue = DurableQueue(tmp_path / "q.db")
    await queue.put("EV_1", "r", "egress_ended", b"in hand")
    await queue.put("EV_2", "r", "egress_ended", b"not yet")
    started, release = asyncio.Event(), asyncio.Event()
    applied: list[bytes] = []

    async def apply(effect: Effect) -> None:
        started.set()
        await release.wait()
        applied.append(effect.body)

    worker = asyncio.create_task(queue.run(apply))
    await started.wait()
    queue.request_stop()
    release.set()
    await asyncio.wait_for(worker, 10)
    assert applied == [b"in hand"]
    status = await queue.status()
    assert (status.done, status.pending) == (1, 1)  # the second waits for the next start
    await queue.close()


async def test_status_counts_one_room_or_all(tmp_path: Path) -> None:
    queue = DurableQueue(tmp_path / "q.sqlite")
    await queue.open()
    try:
        await queue.put("e1", "alpha", "egress_updated", b"{}")
        await queue.put("e2", "alpha", "egress_ended", b"{}")
        await queue.put("e3", "beta", "room_finished", b"{}")
        assert (await queue.status()).pending == 3
        assert (await queue.status("alpha")).pending == 2
        assert (await queue.status("beta")).pending == 1
        assert (await queue.status("gamma")).pending == 0
    finally:
        await queue.close()


async def test_a_permanent_failure_is_dead_lettered_at_once_and_the_room_goes_on(
    tmp_path: Path,
) -> None:
    dead: list[tuple[str, str]] = []
    queue = DurableQueue(tmp_path / "q.db", on_dead=lambda e, why: dead.append((e.event_id, why)))
    await queue.put("EV_bad", "r", "egress_ended", b"bad")
    await queue.put("EV_next", "r", "egress_started", b"next")
    applied: list[bytes] = []

    async def apply(effect: Effect) -> None:
        applied.append(effect.body)
        if effect.body == b"bad":
            raise PermanentError("not a valid recording name: '../x.mp4'")

    async with running(queue, apply):
        await queue.drained()
    assert applied == [b"bad", b"next"]  # tried once, and the next event was not held up
    assert dead == [("EV_bad", "not a valid recording name: '../x.mp4'")]
    status = await queue.status()
    assert (status.pending, status.done, status.dead) == (0, 1, 1)
    [letter] = await queue.dead_letters()
    assert (letter.event_id, letter.room, letter.kind, letter.attempts) == (
        "EV_bad", "r", "egress_ended", 1)
    await queue.close()


async def test_transient_failures_are_retried_up_to_a_cap_then_dead_lettered(
    tmp_path: Path,
) -> None:
    queue = DurableQueue(tmp_path / "q.db", first_backoff=0.001, max_attempts=4)
    await queue.put("EV_1", "r", "egress_ended", b"x")
    await queue.put("EV_2", "r", "room_finished", b"y")
    tries: list[bytes] = []

    async def apply(effect: Effect) -> None:
        tries.append(effect.body)
        if effect.body == b"x":
            raise ConnectionError("MinIO is down")

    async with running(queue, apply):
        await queue.drained()
    assert tries == [b"x"] * 4 + [b"y"]
    [letter] = await queue.dead_letters()
    assert letter.attempts == 4
    assert "gave up after 4 attempts: ConnectionError: MinIO is down" in letter.error
    await queue.close()


async def test_dead_letters_are_replayed_on_request(tmp_path: Path) -> None:
    queue = DurableQueue(tmp_path / "q.db")
    await queue.put("EV_1", "r", "egress_ended", b"x")
    storage_down = True

    async def apply(effect: Effect) -> None:
        if storage_down:
            raise PermanentError("storage refused the key")

    async with running(queue, apply):
        await queue.drained()
        assert (await queue.status()).dead == 1
        storage_down = False
        [letter] = await queue.dead_letters()
        assert await queue.replay([letter.id + 100]) == 0  # no such letter
        assert await queue.replay([letter.id]) == 1
        await queue.drained()
    status = await queue.status()
    assert (status.dead, status.done) == (0, 1)
    await queue.close()


async def test_a_stalled_room_delays_no_other_room(tmp_path: Path) -> None:
    """Storage hangs for room A: room B's effects are applied meanwhile, one after the
    other, without waiting for A (they used to wait for the whole ready batch)."""
    queue = DurableQueue(tmp_path / "q.db")
    await queue.put("EV_a", "A", "egress_ended", b"a")
    for i in range(3):
        await queue.put(f"EV_b{i}", "B", "egress_updated", b"b%d" % i)
    stall, b_done = asyncio.Event(), asyncio.Event()
    applied: list[bytes] = []

    async def apply(effect: Effect) -> None:
        if effect.room == "A":
            await stall.wait()
        applied.append(effect.body)
        if effect.body == b"b2":
            b_done.set()

    async with running(queue, apply):
        await asyncio.wait_for(b_done.wait(), 10)
        assert applied == [b"b0", b"b1", b"b2"]
        assert (await queue.status("A")).pending == 1
        stall.set()
        await queue.drained()
    assert applied[-1] == b"a"
    await queue.close()


async def test_status_names_the_rooms_retrying(tmp_path: Path) -> None:
    queue = DurableQueue(tmp_path / "q.db", first_backoff=60)
    await queue.put("EV_1", "reunión", "egress_ended", b"x")
    await queue.put("EV_2", "fine", "egress_ended", b"y")
    failed = asyncio.Event()

    async def apply(effect: Effect) -> None:
        if effect.room == "reunión":
            failed.set()
            raise TimeoutError("storage did not answer")

    async def rooms_retrying() -> int:
        return len((await queue.status()).retrying_rooms)

    async with running(queue, apply):
        await asyncio.wait_for(failed.wait(), 10)
        await eventually(rooms_retrying, 1)  # the failure is recorded a moment later
    status = await queue.status()
    assert (status.pending, status.done) == (1, 1)
    [stuck] = status.retrying_rooms
    assert (stuck.room, stuck.kind, stuck.attempts) == ("reunión", "egress_ended", 1)
    assert "storage did not answer" in stuck.error
    await queue.close()


async def test_only_one_process_applies_a_queue_file(tmp_path: Path) -> None:
    first, second = DurableQueue(tmp_path / "q.db"), DurableQueue(tmp_path / "q.db")
    first.claim_worker()
    with pytest.raises(QueueBusy, match="another listener"):
        second.claim_worker()
    await first.close()  # its lock goes with it
    second.claim_worker()
    await second.close()


async def test_effects_finishing_together_share_one_commit_and_each_is_recorded(
    tmp_path: Path,
) -> None:
    """Group commit: acks that arrive while a commit is under way go in the next one;
    every effect is still recorded done before its room's next effect starts."""
    queue = DurableQueue(tmp_path / "q.db", concurrency=40)
    await asyncio.gather(*(queue.put(f"EV_{room}{i}", f"room{room}", "egress_updated",
                                     str(i).encode()) for i in range(3) for room in range(40)))
    transactions = 0
    db_call = queue._db_call

    async def counted(fn: Callable[..., object]) -> object:
        nonlocal transactions
        transactions += getattr(fn, "func", fn) is _in_one_transaction
        return await db_call(fn)
    queue._db_call = counted  # type: ignore[method-assign, assignment]
    release = asyncio.Event()
    started: dict[str, list[int]] = {}

    async def apply(effect: Effect) -> None:
        started.setdefault(effect.room, []).append(int(effect.body))
        await release.wait()  # all 40 rooms' effects finish at once

    async with running(queue, apply):
        await eventually(lambda: len(started), 40)
        release.set()
        await queue.drained()
    assert all(order == [0, 1, 2] for order in started.values())
    assert (await queue.status()).done == 120
    assert 0 < transactions < 120 / 2  # 120 acks, far fewer commits
    await queue.close()

    again = DurableQueue(tmp_path / "q.db")
    assert (await again.status()).done == 120  # committed, not only in memory
    await again.close()
