"""Process plumbing: one poller per token (a PostgreSQL advisory lock), the update polling loop,
and bounded waiting for shutdown.

The polling loop replaces ``Dispatcher.start_polling`` because of two aiogram pitfalls that lose
or delay work: on stop it neither waits for running handlers nor lets the caller do so (we keep
every handler task and wait for them, bounded), and it retries a 429 on getUpdates with its own
backoff instead of Telegram's retry_after (we honour retry_after).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import random
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar

import asyncpg
from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.types import Update
from sqlalchemy.engine import make_url

from core import metrics

log = logging.getLogger(__name__)

_T = TypeVar("_T")


def tune_gc() -> None:
    """Move everything start-up built (aiogram's hundreds of pydantic models, SQLAlchemy's
    mappers) out of the cyclic collector's sight: full collections then walk only what the
    running bot allocates, instead of pausing the loop for the whole heap."""
    gc.collect()
    gc.freeze()


class AlreadyRunning(Exception):
    """Another process holds the polling lock for this bot."""

    def __init__(self, bot_id: int) -> None:
        super().__init__(
            f"another paybot instance is already running for bot id {bot_id} (it holds the"
            " polling lock in the database); stop it first — Telegram allows one poller per token"
        )
        self.bot_id = bot_id


def lock_key(bot_id: int) -> int:
    """A signed 64-bit advisory-lock key for the bot (its id is the token's public part), kept
    apart from any other advisory lock in the database by the namespace in the hash."""
    digest = hashlib.blake2b(f"paybot:telegram-polling:{bot_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _dsn(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(False)


class PollingLock:
    """A session-level advisory lock on a connection of its own (never a pooled one: a pool
    resets connections with ROLLBACK, which keeps session locks, so a returned connection would
    hold the lock for whoever borrows it next)."""

    def __init__(self, database_url: str, bot_id: int) -> None:
        self._dsn = _dsn(database_url)
        self.bot_id = bot_id
        self.key = lock_key(bot_id)
        self._conn: Any = None

    @property
    def held(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def acquire(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        try:
            locked = await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key)
        except BaseException:
            await conn.close()
            raise
        if not locked:
            await conn.close()
            raise AlreadyRunning(self.bot_id)
        self._conn = conn

    async def check(self) -> None:
        """Raise if the connection (and so the lock) is gone."""
        if self._conn is None:
            raise RuntimeError("polling lock not held")
        await self._conn.fetchval("SELECT 1")

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)

    async def watch(self, stop: asyncio.Event, interval: float = 30.0) -> None:
        """Returns (so the app stops) if the lock is lost and cannot be taken back: a database
        restart drops it, and then a second instance could start polling."""
        while await wait_or_stop(asyncio.sleep(interval), stop) is not False:
            try:
                await self.check()
                continue
            except Exception as exc:  # noqa: BLE001 - any failure of the check: take it again
                log.warning("polling lock connection lost (%s); taking the lock again", exc)
            await self.release()
            try:
                await self.acquire()
            except AlreadyRunning:
                log.critical("the polling lock was taken by another instance; stopping")
                return
            except Exception as exc:  # noqa: BLE001 - database unreachable: nobody else can take it
                log.warning("could not take the polling lock again yet: %s", exc)


async def wait_or_stop(work: Awaitable[_T], stop: asyncio.Event) -> _T | bool:
    """``work``'s result, or False if ``stop`` was set first (``work`` is then cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return False


async def wait_bounded(
    tasks: Iterable[asyncio.Task[Any]], deadline: float
) -> set[asyncio.Task[Any]]:
    """Wait until the tasks finish or the loop clock reaches ``deadline``; cancel and return the
    ones still running then."""
    pending = {task for task in tasks if not task.done()}
    timeout = max(deadline - asyncio.get_running_loop().time(), 0.0)
    if pending and timeout > 0:
        _, pending = await asyncio.wait(pending, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1.0)
    return pending


class UpdatePolling:
    """Long polling that feeds the Dispatcher, one task per update, and keeps those tasks.

    As with aiogram, an update is confirmed by the next getUpdates offset once its handler task
    exists; at shutdown the owner cancels ``run``, calls ``confirm()`` for the last batch and
    waits for ``handlers`` (bounded).
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        *,
        timeout: int = 25,
        allowed_updates: list[str] | None = None,
        backoff_max: float = 30.0,
    ) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self.timeout = timeout
        self.allowed_updates = (
            allowed_updates
            if allowed_updates is not None
            else dispatcher.resolve_used_update_types()
        )
        self.backoff_max = backoff_max
        self.handlers: set[asyncio.Task[Any]] = set()
        self._offset: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set. The owner also cancels this task on stop, which ends a
        pending long poll at once; that is safe, because updates are handed to their tasks with
        no await in between, so a cancellation never drops a received update."""
        failures = 0
        request_timeout = int(self.bot.session.timeout + self.timeout)
        metrics.beat("telegram")  # the owner has just reached Telegram (getMe)
        while not stop.is_set():
            method = GetUpdates(
                offset=self._offset, timeout=self.timeout, allowed_updates=self.allowed_updates
            )
            try:
                updates = await self.bot(method, request_timeout)
            except TelegramUnauthorizedError:
                raise  # the token was revoked: nothing to retry
            except TelegramRetryAfter as exc:
                log.warning("getUpdates: flood control, waiting %s s", exc.retry_after)
                await asyncio.sleep(exc.retry_after)
                continue
            except Exception as exc:  # noqa: BLE001 - the polling loop outlives any one failure
                failures += 1
                delay = min(2.0 ** min(failures, 6) * 0.25, self.backoff_max)
                delay *= random.uniform(0.8, 1.2)  # jitter
                level = (
                    logging.ERROR if isinstance(exc, TelegramConflictError) else logging.WARNING
                )
                log.log(
                    level,
                    "getUpdates failed (%s: %s); retry in %.1f s",
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            failures = 0
            metrics.beat("telegram")  # alive: Telegram answered the long poll
            for update in updates:
                self._spawn(update)
                self._offset = update.update_id + 1

    def _spawn(self, update: Update) -> None:
        task = asyncio.create_task(self._handle(update), name=f"update-{update.update_id}")
        self.handlers.add(task)
        task.add_done_callback(self.handlers.discard)

    async def _handle(self, update: Update) -> None:
        try:
            response = await self.dispatcher.feed_update(self.bot, update)
            if isinstance(response, TelegramMethod):
                await self.bot(response)
        except Exception:
            # The error router answers users; this is what got past it.
            log.exception(
                "update %s: unhandled error",
                update.update_id,
                extra={"update_id": update.update_id},
            )

    async def confirm(self, within: float = 3.0) -> None:
        """Tell Telegram the last batch was taken, so a restart does not handle it again. Sent
        even if the cancelled long poll carried the same offset: it may not have left yet."""
        if self._offset is None:
            return
        try:
            await asyncio.wait_for(
                self.bot(GetUpdates(offset=self._offset, timeout=0, limit=1)), within
            )
        except Exception as exc:  # noqa: BLE001 - best effort at shutdown; logged
            log.warning("could not confirm updates below %s: %s", self._offset, exc)
