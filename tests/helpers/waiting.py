"""Waiting for server state that changes without telling anyone.

Prefer events; use this only where the server offers none (e.g. a LiveKit server
backed by Redis answers reads from a store that catches up a moment later).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    read: Callable[[], Awaitable[T] | T], expected: T, within: float = 10.0
) -> T:
    """Read (a coroutine or a plain value, e.g. widget state) until it is ``expected``;
    fail with the last value after ``within`` s."""

    async def current() -> T:
        value = read()
        return await value if inspect.isawaitable(value) else value

    value = await current()
    try:
        async with asyncio.timeout(within):
            while value != expected:
                await asyncio.sleep(0.05)  # no event exists for this state
                value = await current()
    except TimeoutError:
        raise AssertionError(f"still {value!r}, not {expected!r}, after {within} s") from None
    return value
