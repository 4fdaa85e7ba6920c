"""Per-user flood control: a token bucket per user, checked before any DB work.

An update over the limit is dropped; the first one of a burst gets a short "slow down", the rest
nothing, so a flood cannot make the bot flood back.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TelegramUser

from bot import texts
from bot.middlewares.banned import reply_briefly

Clock = Callable[[], float]


@dataclass(slots=True)
class _Bucket:
    """Leaky: ``level`` updates were let through and drain at ``rate`` per second; one more is
    let through while the level stays within the burst (aiolimiter's rule, without a loop)."""

    level: float
    checked: float
    warned: bool = False

    def take(self, now: float, burst: int, rate: float) -> bool:
        self.level = max(0.0, self.level - (now - self.checked) * rate)
        self.checked = now
        if self.level + 1 > burst:
            return False
        self.level += 1
        return True


class Throttling(BaseMiddleware):
    def __init__(
        self, per_second: float, *, max_users: int = 50_000, clock: Clock = time.monotonic
    ) -> None:
        # A burst of ceil(rate) updates, refilled at `rate` per second.
        self._burst = max(1, math.ceil(per_second))
        self._rate = per_second
        self._max_users = max_users
        self._clock = clock
        self._buckets: OrderedDict[int, _Bucket] = OrderedDict()

    def _bucket(self, user_id: int, now: float) -> _Bucket:
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = _Bucket(level=0.0, checked=now)
            self._buckets[user_id] = bucket
            if len(self._buckets) > self._max_users:
                # The least recently seen user has long refilled their bucket.
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(user_id)
        return bucket

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user: TelegramUser | None = data.get("event_from_user")
        if tg_user is None or tg_user.is_bot:
            return await handler(event, data)
        now = self._clock()
        bucket = self._bucket(tg_user.id, now)
        if bucket.take(now, self._burst, self._rate):
            bucket.warned = False
            return await handler(event, data)
        if not bucket.warned:
            bucket.warned = True
            if isinstance(event, Update):
                await reply_briefly(event, texts.SLOW_DOWN)
        return None
