"""Waiting for a real event another task or process causes (a request reaching a fake, a row
being written), with a deadline. Never for a lease or a back-off: move those in SQL or inject
a clock (no tests here)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Return as soon as ``check()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s")
        await asyncio.sleep(0.01)
