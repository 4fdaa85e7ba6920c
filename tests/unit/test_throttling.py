"""The per-user token bucket of bot.middlewares.throttling, on a clock the test moves: a burst of
ceil(rate) updates, then one more per 1/rate seconds, each user on their own."""

from __future__ import annotations

from typing import Any

from aiogram.types import TelegramObject
from aiogram.types import User as TelegramUser

from bot.middlewares import Throttling
from tests.support.clock import FakeClock


class _Counting:
    """The handler behind the middleware: how many updates got through, per user."""

    def __init__(self) -> None:
        self.passed: list[int] = []

    async def __call__(self, event: TelegramObject, data: dict[str, Any]) -> str:
        self.passed.append(data["event_from_user"].id)
        return "handled"


async def _send(throttling: Throttling, handler: _Counting, user_id: int, times: int = 1) -> int:
    """``times`` updates from the user (not Update objects: nothing is answered); how many
    reached the handler."""
    before = len(handler.passed)
    for _ in range(times):
        sender = TelegramUser(id=user_id, is_bot=False, first_name="u")
        await throttling(handler, TelegramObject(), {"event_from_user": sender})
    return len(handler.passed) - before


async def test_a_burst_then_one_per_period() -> None:
    clock = FakeClock()
    throttling = Throttling(2.0, clock=clock)
    handler = _Counting()
    assert await _send(throttling, handler, 1, times=5) == 2  # burst of ceil(2.0)
    clock.advance(0.49)
    assert await _send(throttling, handler, 1) == 0
    clock.advance(0.01)  # half a second refills one at 2 per second
    assert await _send(throttling, handler, 1, times=3) == 1
    clock.advance(60.0)  # a long pause refills the burst, never more
    assert await _send(throttling, handler, 1, times=5) == 2


async def test_a_rate_below_one_allows_one_per_interval() -> None:
    clock = FakeClock()
    throttling = Throttling(0.5, clock=clock)
    handler = _Counting()
    assert await _send(throttling, handler, 1, times=3) == 1
    clock.advance(1.9)
    assert await _send(throttling, handler, 1) == 0
    clock.advance(0.1)
    assert await _send(throttling, handler, 1) == 1


async def test_users_have_their_own_buckets_and_bots_pass() -> None:
    clock = FakeClock()
    throttling = Throttling(1.0, clock=clock, max_users=2)
    handler = _Counting()
    assert await _send(throttling, handler, 1, times=3) == 1
    assert await _send(throttling, handler, 2, times=3) == 1
    robot = TelegramUser(id=3, is_bot=True, first_name="bot")
    for _ in range(3):
        assert await throttling(handler, TelegramObject(), {"event_from_user": robot}) == "handled"
    assert handler.passed == [1, 2, 3, 3, 3]


async def test_only_the_least_recently_seen_user_is_forgotten() -> None:
    clock = FakeClock()
    throttling = Throttling(1.0, clock=clock, max_users=2)
    handler = _Counting()
    await _send(throttling, handler, 1)
    await _send(throttling, handler, 2)
    assert await _send(throttling, handler, 1) == 0  # user 1 is now the most recent
    await _send(throttling, handler, 3)  # over max_users: user 2 goes
    assert await _send(throttling, handler, 1) == 0  # still remembered: still empty
    assert await _send(throttling, handler, 2) == 1  # forgotten: a fresh bucket
