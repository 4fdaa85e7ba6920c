"""The provider budget: users first, a reserve the background cannot take, a catalogue cap, and
never more than the provider's rate. Orderings and token counts are asserted, not latencies."""

from __future__ import annotations

import asyncio
import time

import pytest

from core.nowpayments.budget import Lane, ProviderBudget, current_lane, lane, run_in_lane


async def _granted(budget: ProviderBudget, who: str, lane_: Lane, log: list[str]) -> None:
    await budget.acquire(lane_)
    log.append(who)


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_user_is_served_at_once_while_the_background_queues() -> None:
    # 1 request/s: nothing refills during the test, so the order is all that can happen.
    budget = ProviderBudget(1.0, burst=1, user_reserve=1)
    log: list[str] = []
    background = [
        asyncio.create_task(_granted(budget, f"poll{i}", Lane.BACKGROUND, log)) for i in range(5)
    ]
    sync = [
        asyncio.create_task(_granted(budget, f"sync{i}", Lane.BACKGROUND, log)) for i in range(5)
    ]
    await _settle()
    assert log == ["poll0"]  # took one of two tokens; the other is the users' reserve
    assert budget.waiting(Lane.BACKGROUND) == 9

    user = asyncio.create_task(_granted(budget, "user", Lane.USER, log))
    await _settle()

    assert user.done() and log == ["poll0", "user"]
    assert budget.waiting(Lane.BACKGROUND) == 9  # nobody from the background moved meanwhile
    for task in background + sync:
        task.cancel()
    await asyncio.gather(*background, *sync, return_exceptions=True)
    assert budget.waiting() == 0


async def test_queued_users_go_before_queued_background() -> None:
    budget = ProviderBudget(200.0, burst=1, user_reserve=1)
    await budget.acquire(Lane.USER)
    await budget.acquire(Lane.USER)  # the bucket is empty now
    log: list[str] = []
    tasks = [asyncio.create_task(_granted(budget, f"bg{i}", Lane.BACKGROUND, log)) for i in (1, 2)]
    await _settle()
    tasks += [asyncio.create_task(_granted(budget, f"user{i}", Lane.USER, log)) for i in (1, 2)]
    tasks.append(asyncio.create_task(_granted(budget, "catalog", Lane.CATALOG, log)))
    await asyncio.gather(*tasks)
    # Users first; then the background lanes take turns.
    assert log == ["user1", "user2", "bg1", "catalog", "bg2"]


async def test_a_long_poller_queue_does_not_starve_the_sync() -> None:
    budget = ProviderBudget(100.0, burst=1, user_reserve=1, catalog_requests_per_second=1e6)
    await budget.acquire(Lane.USER)
    await budget.acquire(Lane.USER)
    log: list[str] = []
    polls = [
        asyncio.create_task(_granted(budget, "poll", Lane.BACKGROUND, log)) for _ in range(30)
    ]
    await _settle()
    syncs = [asyncio.create_task(_granted(budget, "sync", Lane.CATALOG, log)) for _ in range(3)]
    await _settle()
    assert log == [] and budget.waiting(Lane.CATALOG) == 3  # the bucket is still empty
    await asyncio.gather(*polls, *syncs)
    # Every other slot, not after the 30 polls queued before them.
    assert [i for i, who in enumerate(log) if who == "sync"] == [1, 3, 5]


async def test_the_background_never_takes_the_users_reserve() -> None:
    budget = ProviderBudget(500.0, burst=1, user_reserve=2)
    left: list[float] = []

    async def poll() -> None:
        await budget.acquire(Lane.BACKGROUND)
        left.append(budget.tokens)

    await asyncio.gather(*(poll() for _ in range(40)))
    assert min(left) >= 2 - 1e-6


async def test_never_faster_than_the_provider_rate() -> None:
    rate, count = 100.0, 30
    lanes = [Lane.USER, Lane.BACKGROUND, Lane.CATALOG]
    budget = ProviderBudget(rate, burst=1, user_reserve=1, catalog_requests_per_second=rate)
    started = time.monotonic()
    await asyncio.gather(*(budget.acquire(lanes[i % 3]) for i in range(count)))
    # burst + reserve at once, then one per 1/rate: a lower bound, so it cannot flake.
    assert time.monotonic() - started >= (count - 2) / rate * 0.95


async def test_the_catalogue_has_its_own_smaller_cap() -> None:
    budget = ProviderBudget(10_000.0, burst=100, catalog_requests_per_second=50.0)
    started = time.monotonic()
    await asyncio.gather(*(budget.acquire(Lane.CATALOG) for _ in range(6)))
    assert time.monotonic() - started >= 5 / 50.0 * 0.95
    # Users are not under the catalogue's cap: with the bucket full they never wait at all.
    for _ in range(6):
        user = asyncio.create_task(budget.acquire(Lane.USER))
        await _settle()
        assert user.done()


async def test_a_cancelled_waiter_takes_no_token() -> None:
    budget = ProviderBudget(1.0, burst=1, user_reserve=0)
    await budget.acquire(Lane.USER)
    waiter = asyncio.create_task(budget.acquire(Lane.USER))
    await _settle()
    assert budget.waiting() == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert budget.waiting() == 0


async def test_lanes_follow_the_context_into_tasks() -> None:
    seen: list[Lane] = []

    async def child() -> None:
        seen.append(current_lane())

    async def loop() -> None:
        seen.append(current_lane())
        await asyncio.create_task(child())

    await run_in_lane(Lane.BACKGROUND, loop())
    with lane(Lane.CATALOG):
        await child()
    await child()
    assert seen == [Lane.BACKGROUND, Lane.BACKGROUND, Lane.CATALOG, Lane.USER]


def test_bad_settings_are_refused() -> None:
    for kwargs in ({"burst": 0}, {"user_reserve": -1}, {"catalog_requests_per_second": 0}):
        with pytest.raises(ValueError, match="must be"):
            ProviderBudget(5.0, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rates must be positive"):
        ProviderBudget(0.0)
