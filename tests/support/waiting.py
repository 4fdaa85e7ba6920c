"""Waiting for a real event another task or process causes (a request reaching a fake, a row
being written), with a deadline. Never for a lease or a back-off: move those in SQL or inject
a clock (no tests here)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Return as soon as ``check()`` holds; fail after ``timeout`` seconds."""
    if not await wait_until(check, timeout, 0.01):
        raise AssertionError(f"not true after {timeout} s")


async def wait_until(
    condition: Callable[[], Any],
    timeout: float,  # noqa: ASYNC109
    step: float = 0.05,
) -> bool:
    """Poll ``condition`` (sync or async) until true or the deadline; whether it came true."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)
