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
- Waiters are served users first, then in arrival order.

The choice over separate limiters whose rates sum to the provider's: no capacity sits idle for
a user who is not there, and a user never waits for the background's next slot. The price is a
burst of at most ``burst + user_reserve`` requests (one background, one user with the defaults);
over any window T at most ``rate * T + burst + user_reserve`` requests leave.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
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
    """A token bucket with a reserve for users and a priority queue of waiters."""

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
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def waiting(self, lane_: Lane | None = None) -> int:
        """How many callers (of one lane, or of all) are queued for a token."""
        pending = [w for w in self._waiters if not w[2].done()]
        if lane_ is None:
            return len(pending)
        priority = _priority(lane_)
        return sum(1 for w in pending if w[0] == priority)

    async def acquire(self, lane_: Lane | None = None) -> None:
        """Wait for a token in ``lane_`` (by default the caller's lane)."""
        lane_ = current_lane() if lane_ is None else lane_
        if lane_ is Lane.CATALOG:
            await self._catalog.acquire()
        priority = _priority(lane_)
        self._refill()
        ahead = any(w[0] <= priority and not w[2].done() for w in self._waiters)
        if not ahead and self._tokens >= self._needed(priority):
            self._tokens -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        self._serve()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._tokens += 1  # granted as we were cancelled: give it back
            self._serve()
            raise

    def _needed(self, priority: int) -> float:
        return 1.0 if priority == _priority(Lane.USER) else 1.0 + self._reserve

    def _refill(self) -> None:
        now = self._clock()
        gained = (now - self._updated) / self._interval
        self._tokens = min(self._capacity, self._tokens + gained)
        self._updated = now

    def _serve(self) -> None:
        """Grant tokens to the head of the queue while it can have them, then sleep until the
        head can."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._refill()
        while self._waiters:
            priority, _, future = self._waiters[0]
            if future.done():
                heapq.heappop(self._waiters)
                continue
            needed = self._needed(priority)
            if self._tokens < needed:
                delay = (needed - self._tokens) * self._interval
                self._timer = asyncio.get_running_loop().call_later(delay, self._serve)
                return
            heapq.heappop(self._waiters)
            self._tokens -= 1
            future.set_result(None)


def _priority(lane_: Lane) -> int:
    # Background and catalogue share a priority (arrival order between them) so neither starves.
    return 0 if lane_ is Lane.USER else 1


__all__ = ["Lane", "ProviderBudget", "current_lane", "lane", "run_in_lane"]
