"""The provider's request budget: one per process, shared by every caller, users first.

NOWPayments documents no rate limit but 429s on bursts (the third request in a row was seen to
fail), so the whole process stays under ``max_requests_per_second`` with one token bucket. The
callers are not equal: a user waiting on "create deposit" or "check status" must not queue
behind a poll of 10,000 payments or a sync of 200 coins. Hence lanes (a context variable, so
background loops mark themselves once and everything they call inherits it):

- ``USER`` (the default) may take any token.
- ``BACKGROUND`` (the poller) and ``CATALOG`` (the currency sync) may take one only while
  ``user_reserve`` more stay in the bucket: a user arriving finds a token at once, and the
  background still gets the full rate whenever users are quiet.
- ``CATALOG`` also passes its own small limiter first, so a sync cannot crowd out the poller.
- Waiters are served users first, then the two background lanes in turn (each in arrival
  order): the poller may queue hundreds of checks, the sync still gets every other slot (up
  to its cap) and vice versa.

The choice over separate limiters whose rates sum to the provider's: no capacity sits idle for
a user who is not there, and a user never waits for the background's next slot. The price is a
burst of at most ``burst + user_reserve`` requests (one background, one user with the defaults);
over any window T at most ``rate * T + burst + user_reserve`` requests leave.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import IntEnum
from typing import TypeVar

from aiolimiter import AsyncLimiter

_T = TypeVar("_T")


class Lane(IntEnum):
    USER = 0
    BACKGROUND = 1
    CATALOG = 2


_lane: ContextVar[Lane] = ContextVar("nowpayments_lane", default=Lane.USER)


def current_lane() -> Lane:
    return _lane.get()


@contextmanager
def lane(value: Lane) -> Iterator[None]:
    """Provider calls made inside (and in tasks started inside) go through ``value``'s lane."""
    token = _lane.set(value)
    try:
        yield
    finally:
        _lane.reset(token)


async def run_in_lane(value: Lane, work: Awaitable[_T]) -> _T:
    """Await ``work`` (a coroutine created by the caller) in ``value``'s lane."""
    with lane(value):
        return await work


class ProviderBudget:
    """A token bucket with a reserve for users and a queue per lane: users first, then the
    background lanes in turn (so a poller with hundreds of checks queued cannot starve the
    sync, nor the sync the poller)."""

    def __init__(
        self,
        requests_per_second: float,
        *,
        burst: int = 1,
        user_reserve: int = 1,
        catalog_requests_per_second: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if requests_per_second <= 0 or catalog_requests_per_second <= 0:
            raise ValueError("rates must be positive")
        if burst < 1 or user_reserve < 0:
            raise ValueError("burst must be at least 1 and user_reserve not negative")
        self._interval = 1.0 / requests_per_second
        self._reserve = user_reserve
        self._capacity = float(burst + user_reserve)
        self._tokens = self._capacity
        self._clock = clock
        self._updated = clock()
        self._catalog = AsyncLimiter(1, 1.0 / catalog_requests_per_second)
        self._queues: dict[Lane, deque[asyncio.Future[None]]] = {lane_: deque() for lane_ in Lane}
        self._turn = 0  # which background lane goes first next time
        self._timer: asyncio.TimerHandle | None = None

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def waiting(self, lane_: Lane | None = None) -> int:
        """How many callers (of one lane, or of all) are queued for a token."""
        lanes = list(Lane) if lane_ is None else [lane_]
        return sum(1 for each in lanes for f in self._queues[each] if not f.done())

    async def acquire(self, lane_: Lane | None = None) -> None:
        """Wait for a token in ``lane_`` (by default the caller's lane)."""
        lane_ = current_lane() if lane_ is None else lane_
        if lane_ is Lane.CATALOG:
            await self._catalog.acquire()
        self._refill()
        ahead = self.waiting(Lane.USER) if lane_ is Lane.USER else self.waiting()
        if not ahead and self._tokens >= self._needed(lane_):
            self._tokens -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues[lane_].append(future)
        self._serve()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._tokens += 1  # granted as we were cancelled: give it back
            self._serve()
            raise

    def _needed(self, lane_: Lane) -> float:
        return 1.0 if lane_ is Lane.USER else 1.0 + self._reserve

    def _refill(self) -> None:
        now = self._clock()
        gained = (now - self._updated) / self._interval
        self._tokens = min(self._capacity, self._tokens + gained)
        self._updated = now

    def _next(self) -> Lane | None:
        """The lane served next: users, else the background lanes in turn."""
        for queue in self._queues.values():
            while queue and queue[0].done():  # cancelled waiters
                queue.popleft()
        if self._queues[Lane.USER]:
            return Lane.USER
        for i in range(len(_BACKGROUND)):
            turn = _BACKGROUND[(self._turn + i) % len(_BACKGROUND)]
            if self._queues[turn]:
                return turn
        return None

    def _serve(self) -> None:
        """Grant tokens while the next in line can have one, then sleep until it can."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._refill()
        while (lane_ := self._next()) is not None:
            needed = self._needed(lane_)
            if self._tokens < needed:
                delay = (needed - self._tokens) * self._interval
                self._timer = asyncio.get_running_loop().call_later(delay, self._serve)
                return
            self._tokens -= 1
            self._queues[lane_].popleft().set_result(None)
            if lane_ in _BACKGROUND:  # the other background lane's turn
                self._turn = (_BACKGROUND.index(lane_) + 1) % len(_BACKGROUND)


_BACKGROUND = (Lane.BACKGROUND, Lane.CATALOG)


__all__ = ["Lane", "ProviderBudget", "current_lane", "lane", "run_in_lane"]
