"""The notifier: the only sender of pushes. It drains the transactional outbox after commit.

Rows are claimed in batches (``core.outbox.claim_due``: a lease, so a crashed process's rows come
back) and queued per chat; one worker per chat sends its rows in order, paced by aiolimiter
buckets (per chat, LRU-bounded, and one global). Each outcome is written right after Telegram
answered: sent (only once Telegram accepted it), deferred without counting an attempt (429, our
own pacing), retried with capped exponential backoff (5xx, network, a send that timed out),
failed (permanent refusals: 400 such as "chat not found", 403 in a group (kicked), unknown kinds;
or a transient failure of a row older than ``give_up_after_seconds``; core.outbox then alerts
the admins) or, on 403 from a user, the user is marked as having blocked the bot and their
pending rows are skipped. Every ``backlog_check_seconds`` the queue is measured: when its oldest
row is older than ``backlog_alert_seconds`` the admin chat is alerted once for the episode.

Rendering is pluggable: ``RENDERERS`` maps an outbox kind to an async renderer (see ``Rendered``).
A row is rendered when it is sent, in its recipient's language (bot.i18n): a user's choice or
Telegram's code, the admin language for the admin chat.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.types import InlineKeyboardMarkup
from aiolimiter import AsyncLimiter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.i18n import DEFAULT_LOCALE, use_locale
from core import metrics, outbox, users
from core.config import NotifierSettings
from core.outbox import AlertRoute, OutboxMessage

log = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Rendered:
    """What to put in the row's chat.

    ``text`` is HTML, already escaped. With ``edit_message_id`` the notifier edits that message
    (e.g. an admin card) and sends a new one if it is gone. ``on_sent(session, message_id)`` runs
    in the transaction that marks the row sent (e.g. to store the card's message id); if it
    fails, the row still counts as sent and the failure is logged.
    """

    text: str
    reply_markup: InlineKeyboardMarkup | None = None
    edit_message_id: int | None = None
    on_sent: Callable[[AsyncSession, int], Awaitable[None]] | None = None


# A renderer gets the claimed row and a read session. Raise Unrenderable for a row that can
# never be sent (it is marked failed); any other exception is retried like a transient error.
Renderer = Callable[[OutboxMessage, AsyncSession], Awaitable[Rendered]]


class Unrenderable(Exception):
    """The row's payload cannot be turned into a message: mark it failed, don't retry."""


def _plain(render: Callable[[Mapping[str, Any]], str]) -> Renderer:
    async def renderer(message: OutboxMessage, session: AsyncSession) -> Rendered:
        return Rendered(render(message.payload))

    return renderer


# Kinds written by core services. Extend (or replace an entry) before building the app, e.g.
# ``RENDERERS["withdrawal_card"] = render_card`` from the admin handlers.
RENDERERS: dict[str, Renderer] = {
    "deposit_status": _plain(texts.deposit_status),
    "deposit_review": _plain(texts.deposit_review),
    "deposit_alert": _plain(texts.deposit_alert),
    "withdrawal_status": _plain(texts.withdrawal_status),
    "withdrawal_card": _plain(texts.withdrawal_card),
    "reconcile_alert": _plain(texts.reconcile_alert),
    outbox.UNDELIVERED_KIND: _plain(texts.outbox_undelivered),
    outbox.BACKLOG_KIND: _plain(texts.outbox_backlog),
}


@dataclass(frozen=True, slots=True)
class NotifierTuning:
    idle_seconds: float = 1.0  # how often to look for due rows when nothing woke us
    lease_seconds: float | None = None  # overrides NotifierSettings.lease_seconds (tests)
    retry_base_seconds: float = 5.0  # first backoff after a transient failure, doubled each time
    backlog_check_seconds: float = 30.0  # how often the queue's age is measured
    # A chat's local queue holds at most this much paced work; further rows are deferred in
    # order, so a slow chat (the admin group at 20/min) never holds everyone else's messages.
    queue_seconds: float = 10.0
    # Pace this much under the configured rates: Telegram counts arrival times, we send times.
    slack: float = 1.05
    max_chats: int = 10_000  # per-chat limiter states kept (LRU)


# Telegram's "the message to edit is gone": send a new one instead.
_EDIT_GONE = ("message to edit not found", "message can't be edited", "MESSAGE_ID_INVALID")
_NOT_MODIFIED = "message is not modified"
_PERMANENT = (TelegramBadRequest, TelegramNotFound, TelegramEntityTooLarge)


def retry_delay(attempts: int, *, base: float, cap: float) -> float:
    """The backoff before the next attempt of a row tried ``attempts`` times (no jitter):
    base, 2·base, 4·base ... capped."""
    return min(base * 2.0 ** min(max(attempts - 1, 0), 40), cap)


@dataclass(slots=True)
class _Chat:
    limiter: AsyncLimiter
    spacing: float
    queue: deque[OutboxMessage] = field(default_factory=deque)
    worker: asyncio.Task[None] | None = None
    resume_at: float = 0.0  # monotonic; Telegram asked us to wait until then
    parked: dict[int, float] = field(default_factory=dict)  # row id -> slot it was deferred to
    parked_until: float = 0.0

    @property
    def idle(self) -> bool:
        return not self.queue and self.worker is None and not self.parked


class Notifier:
    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        settings: NotifierSettings,
        *,
        renderers: Mapping[str, Renderer] | None = None,
        tuning: NotifierTuning | None = None,
        alerts: AlertRoute | None = None,
        clock: Callable[[], datetime] | None = None,
        admin_language: str = DEFAULT_LOCALE,
    ) -> None:
        """``alerts``: where undelivered rows and a backlog are reported (nowhere: only logged).
        ``clock`` replaces the database's and the system's clock for give-up and backlog
        decisions (tests). ``admin_language``: the admin chat's locale (a user's chat gets the
        user's)."""
        self._bot = bot
        self._sessions = sessions
        self._settings = settings
        self._renderers = dict(RENDERERS if renderers is None else renderers)
        self._tuning = tuning or NotifierTuning()
        self._alerts = alerts or AlertRoute(None)
        self._clock = clock
        self._admin_language = admin_language
        self._lease = self._tuning.lease_seconds or settings.lease_seconds
        self._give_up_after = timedelta(seconds=settings.give_up_after_seconds)
        self._backlog_threshold = timedelta(seconds=settings.backlog_alert_seconds)
        self._backlog_episode = False  # the backlog alert was raised and has not cleared yet
        self._backlog_checked = float("-inf")  # monotonic
        slack = self._tuning.slack
        self._global = AsyncLimiter(1, slack / settings.global_per_second)
        self._private_spacing = slack / settings.per_chat_per_second
        self._group_spacing = slack * 60.0 / settings.group_per_minute
        self._chats: OrderedDict[int, _Chat] = OrderedDict()
        self._held: set[int] = set()  # ids claimed and not yet settled by this process
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    # --- public -------------------------------------------------------------------------------

    @property
    def backlog_episode(self) -> bool:
        """A backlog alert was raised and the backlog has not cleared since."""
        return self._backlog_episode

    def wake(self) -> None:
        """Look for due rows now (e.g. after a handler's service committed some)."""
        self._wake.set()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Until ``stop``: then finish the sends in progress and hand queued rows back."""
        self._stop = stop
        try:
            while not stop.is_set():
                metrics.beat("notifier")
                self._wake.clear()  # before claiming, so a wake-up during the claim counts
                try:
                    claimed = await self._claim_round()
                except Exception:
                    log.exception("notifier: claiming due rows failed")
                    claimed = 0
                await self._check_backlog_if_due()
                if claimed == 0 or self._local_count() >= self._settings.batch_size:
                    await self._idle()
        except asyncio.CancelledError:
            # The grace period ran out: a send cut off now may be repeated after its lease.
            for worker in self._workers():
                worker.cancel()
            raise
        finally:
            await self._shutdown()

    # --- claiming -----------------------------------------------------------------------------

    def _local_count(self) -> int:
        return sum(len(chat.queue) for chat in self._chats.values())

    def _workers(self) -> list[asyncio.Task[None]]:
        return [chat.worker for chat in self._chats.values() if chat.worker is not None]

    async def _idle(self) -> None:
        waits = [
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(self._stop.wait()),
        ]
        try:
            await asyncio.wait(
                waits, timeout=self._tuning.idle_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waits:
                waiter.cancel()

    async def _claim_round(self) -> int:
        room = self._settings.batch_size - self._local_count()
        if room <= 0:
            return 0
        async with self._sessions.begin() as session:
            rows = await outbox.claim_due(session, limit=room, lease_seconds=self._lease)
        to_park: list[tuple[OutboxMessage, float]] = []
        now = time.monotonic()
        for row in rows:
            # Our lease ran out while it waited here or its send is still in flight (bounded by
            # send_timeout_seconds): the claim just renewed the lease; it stays where it is.
            if row.id in self._held:
                continue
            chat = self._chat(row.chat_id)
            self._forget_stale_parked(chat, now)
            # A row we parked is next in line when it comes back, unless Telegram still holds
            # the chat (429): then it goes behind everything parked, like any newer row.
            was_parked = chat.parked.pop(row.id, None) is not None
            if now >= chat.resume_at and (was_parked or not self._must_park(chat, now)):
                self._held.add(row.id)
                chat.queue.append(row)
                self._start_worker(row.chat_id, chat)
            else:
                to_park.append((row, self._park_slot(chat, now)))
        if to_park:
            await self._defer_rows(to_park, now)
        return len(rows)

    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            spacing = self._group_spacing if chat_id < 0 else self._private_spacing
            chat = _Chat(AsyncLimiter(1, spacing), spacing)
            self._chats[chat_id] = chat
            self._evict()
        else:
            self._chats.move_to_end(chat_id)
        return chat

    def _evict(self) -> None:
        # The least recently used chats have long refilled their buckets (10k chats at 25/s
        # is 400 s of traffic), so forgetting an idle one cannot let a burst through.
        excess = len(self._chats) - self._tuning.max_chats
        for chat_id in list(self._chats)[: max(excess, 0)]:
            if self._chats[chat_id].idle:
                del self._chats[chat_id]

    def _cap(self, chat: _Chat) -> int:
        return max(1, int(self._tuning.queue_seconds / chat.spacing))

    def _must_park(self, chat: _Chat, now: float) -> bool:
        return bool(chat.parked) or now < chat.resume_at or len(chat.queue) >= self._cap(chat)

    def _park_slot(self, chat: _Chat, now: float) -> float:
        """A due time after everything this chat already has waiting, so order is kept."""
        slot = max(chat.parked_until, chat.resume_at, now + len(chat.queue) * chat.spacing)
        slot += chat.spacing
        chat.parked_until = slot
        return slot

    def _forget_stale_parked(self, chat: _Chat, now: float) -> None:
        # A parked row that did not come back (failed, skipped, sent by a tool) must not hold
        # the chat's later rows forever.
        grace = 3 * self._tuning.idle_seconds + 5.0
        for row_id, slot in list(chat.parked.items()):
            if slot < now - grace:
                del chat.parked[row_id]

    async def _defer_rows(self, rows: list[tuple[OutboxMessage, float]], now: float) -> None:
        async def write(session: AsyncSession) -> None:
            for row, slot in rows:
                await outbox.defer(session, row.id, delay=timedelta(seconds=max(slot - now, 0)))

        await self._write(write)
        for row, slot in rows:
            self._chat(row.chat_id).parked[row.id] = slot

    # --- sending ------------------------------------------------------------------------------

    def _start_worker(self, chat_id: int, chat: _Chat) -> None:
        if chat.worker is None:
            chat.worker = asyncio.create_task(self._work(chat_id, chat))

    async def _work(self, chat_id: int, chat: _Chat) -> None:
        try:
            while chat.queue and not self._stop.is_set():
                # Looked up before the pacing slot is taken: a database round trip between the
                # slot and the send would bunch sends together.
                locale = await self._prefetch_locale(chat_id)
                if not await self._until_stopped(chat.limiter.acquire()):
                    break
                if not await self._until_stopped(self._global.acquire()):
                    break
                row = chat.queue.popleft()
                try:
                    await self._deliver(row, chat, locale)
                except Exception:  # a bug here must not kill the chat's queue silently
                    log.exception(
                        "notifier: row %s could not be settled",
                        row.id,
                        extra={"notification_id": row.id, "chat_id": row.chat_id},
                    )
                finally:
                    self._held.discard(row.id)
        finally:
            chat.worker = None
            self._wake.set()  # room for more rows

    async def _until_stopped(self, waiting: Coroutine[Any, Any, _T]) -> bool:
        """Wait for pacing unless the notifier is stopping (then stop waiting)."""
        task = asyncio.ensure_future(waiting)
        stopped = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        return False

    async def _render(self, row: OutboxMessage, locale: str | None = None) -> Rendered:
        renderer = self._renderers.get(row.kind)
        if renderer is None:
            raise Unrenderable(f"no renderer for kind {row.kind!r}")
        async with self._sessions() as session:
            # Rendered now, not when queued: in the language the recipient has today.
            if locale is None:
                locale = await self._locale_of(row.chat_id, session)
            with use_locale(locale):
                return await renderer(row, session)

    async def _prefetch_locale(self, chat_id: int) -> str | None:
        """The chat's language, or None when the lookup failed (rendering looks it up again and
        fails like any render would, with the row's own error handling)."""
        try:
            async with self._sessions() as session:
                return await self._locale_of(chat_id, session)
        except Exception:
            log.debug("notifier: language of chat %s not looked up", chat_id, exc_info=True)
            return None

    async def _locale_of(self, chat_id: int, session: AsyncSession) -> str:
        if chat_id == self._alerts.admin_chat_id or chat_id < 0:  # a group: the admins'
            return self._admin_language
        return await users.language_of(session, chat_id) or DEFAULT_LOCALE

    async def _send(self, row: OutboxMessage, rendered: Rendered) -> int:
        # Bounded, so a hung connection cannot hold a claimed row past its lease.
        timeout = int(self._settings.send_timeout_seconds) or 1
        if rendered.edit_message_id is not None:
            try:
                await self._bot.edit_message_text(
                    rendered.text,
                    chat_id=row.chat_id,
                    message_id=rendered.edit_message_id,
                    reply_markup=rendered.reply_markup,
                    request_timeout=timeout,
                )
                return rendered.edit_message_id
            except TelegramBadRequest as exc:
                if _NOT_MODIFIED in exc.message:
                    return rendered.edit_message_id
                if not any(gone in exc.message for gone in _EDIT_GONE):
                    raise
                log.info(
                    "notifier: row %s: message to edit is gone, sending anew",
                    row.id,
                    extra={"notification_id": row.id, "chat_id": row.chat_id},
                )
        sent = await self._bot.send_message(
            row.chat_id, rendered.text, reply_markup=rendered.reply_markup, request_timeout=timeout
        )
        return sent.message_id

    async def _deliver(self, row: OutboxMessage, chat: _Chat, locale: str | None = None) -> None:
        try:
            rendered = await self._render(row, locale)
            message_id = await self._send(row, rendered)
        except Unrenderable as exc:
            log.error(
                "notifier: row %s (%s) failed: %s",
                row.id,
                row.kind,
                exc,
                extra={"notification_id": row.id, "chat_id": row.chat_id},
            )
            await self._fail(row, str(exc))
        except TelegramRetryAfter as exc:
            await self._hold_chat(row, chat, float(exc.retry_after))
        except TelegramForbiddenError as exc:
            await self._forbidden(row, chat, exc)
        except _PERMANENT as exc:
            log.error(
                "notifier: row %s (%s) refused by Telegram: %s",
                row.id,
                row.kind,
                exc,
                extra={"notification_id": row.id, "chat_id": row.chat_id},
            )
            await self._fail(row, f"{type(exc).__name__}: {exc.message}")
        except (TelegramAPIError, ClientDecodeError, OSError, TimeoutError) as exc:
            await self._retry(row, chat, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a renderer's bug: retried, so a fix and restart sends it
            log.exception(
                "notifier: rendering row %s (%s) failed",
                row.id,
                row.kind,
                extra={"notification_id": row.id, "chat_id": row.chat_id},
            )
            await self._retry(row, chat, f"{type(exc).__name__}: {exc}")
        else:
            await self._sent(row, rendered, message_id)

    # --- outcomes -----------------------------------------------------------------------------

    async def _write(self, work: Callable[[AsyncSession], Awaitable[None]]) -> None:
        """An outcome must reach the database, or the row is sent again after its lease."""
        for attempt in range(4):
            try:
                async with self._sessions.begin() as session:
                    await work(session)
                return
            except Exception:
                if attempt == 3:
                    raise
                log.warning("notifier: writing an outcome failed, retrying", exc_info=True)
                await asyncio.sleep(0.5 * 2**attempt)

    async def _sent(self, row: OutboxMessage, rendered: Rendered, message_id: int) -> None:
        async def write(session: AsyncSession) -> None:
            await outbox.mark_sent(session, row.id)
            if rendered.on_sent is not None:
                try:
                    async with session.begin_nested():
                        await rendered.on_sent(session, message_id)
                except Exception:
                    log.exception("notifier: on_sent of row %s (%s) failed", row.id, row.kind)

        await self._write(write)

    async def _fail(self, row: OutboxMessage, error: str) -> None:
        """Ends the row now; core.outbox queues the admins' alert in the same transaction."""

        async def write(session: AsyncSession) -> None:
            await outbox.give_up(session, row.id, error=error, alerts=self._alerts)

        await self._write(write)

    def _now(self) -> datetime | None:
        return None if self._clock is None else self._clock()

    def _too_old(self, row: OutboxMessage) -> bool:
        now = self._clock() if self._clock is not None else datetime.now(row.created_at.tzinfo)
        return now - row.created_at >= self._give_up_after

    async def _retry(self, row: OutboxMessage, chat: _Chat, error: str) -> None:
        delay = retry_delay(
            row.attempts,
            base=self._tuning.retry_base_seconds,
            cap=self._settings.retry_max_seconds,
        )
        delay *= random.uniform(0.8, 1.0)  # jitter: many rows failing together spread out
        retried = False

        async def write(session: AsyncSession) -> None:
            nonlocal retried
            retried = await outbox.retry_later(
                session,
                row.id,
                delay=timedelta(seconds=delay),
                error=error,
                give_up_after=self._give_up_after,
                alerts=self._alerts,
                now=self._now(),
            )

        await self._write(write)
        if retried:
            # Later rows of this chat wait behind it, so the chat still sees them in order.
            log.warning(
                "notifier: row %s: %s; retry in %.1f s",
                row.id,
                error,
                delay,
                extra={"notification_id": row.id, "chat_id": row.chat_id},
            )
            slot = time.monotonic() + delay
            chat.parked[row.id] = slot
            chat.parked_until = max(chat.parked_until, slot)
            await self._park_queue(chat)
        else:
            log.error(
                "notifier: row %s gave up after %s attempts: %s",
                row.id,
                row.attempts,
                error,
                extra={"notification_id": row.id, "chat_id": row.chat_id},
            )

    async def _hold_chat(self, row: OutboxMessage, chat: _Chat, retry_after: float) -> None:
        """429: Telegram's wait applies to the chat; this row and the queued ones go back to the
        database in order, without counting an attempt."""
        now = time.monotonic()
        log.warning(
            "notifier: flood control on chat %s, waiting %.0f s",
            row.chat_id,
            retry_after,
            extra={"notification_id": row.id, "chat_id": row.chat_id},
        )
        chat.resume_at = max(chat.resume_at, now + retry_after)
        if self._too_old(row):  # a chat held by flood control for a whole day
            await self._fail(row, f"TelegramRetryAfter: retry after {retry_after:.0f} s")
            await self._park_queue(chat)
            return
        # First in line when the wait is over; rows parked earlier come back before that and
        # are parked again behind it.
        slot = chat.resume_at
        chat.parked_until = max(chat.parked_until, slot)

        async def write(session: AsyncSession) -> None:
            await outbox.defer(session, row.id, delay=timedelta(seconds=slot - now))

        await self._write(write)
        chat.parked[row.id] = slot
        await self._park_queue(chat)

    async def _park_queue(self, chat: _Chat) -> None:
        if not chat.queue:
            return
        now = time.monotonic()
        rows: list[tuple[OutboxMessage, float]] = []
        while chat.queue:
            row = chat.queue.popleft()
            slot = max(chat.parked_until, chat.resume_at, now) + chat.spacing
            chat.parked_until = slot
            rows.append((row, slot))
        try:
            await self._defer_rows(rows, now)
        finally:
            self._held.difference_update(row.id for row, _ in rows)

    async def _forbidden(
        self, row: OutboxMessage, chat: _Chat, exc: TelegramForbiddenError
    ) -> None:
        if row.chat_id < 0:  # kicked from a group: permanent; the admins get an alert
            log.error(
                "notifier: the bot cannot post in chat %s: %s",
                row.chat_id,
                exc.message,
                extra={"notification_id": row.id, "chat_id": row.chat_id},
            )
            await self._fail(row, f"Forbidden: {exc.message}")
            return

        async def write(session: AsyncSession) -> None:
            await users.set_blocked(session, row.chat_id, True)
            skipped = await outbox.skip_chat(session, row.chat_id, f"Forbidden: {exc.message}")
            log.info(
                "notifier: user %s blocked the bot; %s rows skipped",
                row.chat_id,
                skipped,
                extra={"notification_id": row.id, "chat_id": row.chat_id},
            )

        await self._write(write)
        # skip_chat covered the queued and parked rows too: they are not ours to send any more.
        self._held.difference_update(queued.id for queued in chat.queue)
        chat.queue.clear()
        chat.parked.clear()

    # --- backlog --------------------------------------------------------------------------------

    async def _check_backlog_if_due(self) -> None:
        now = time.monotonic()
        if now - self._backlog_checked < self._tuning.backlog_check_seconds:
            return
        self._backlog_checked = now
        try:
            await self.check_backlog()
        except Exception:  # measuring must never stop sending
            log.exception("notifier: measuring the backlog failed")

    async def check_backlog(self) -> bool:
        """Raise the backlog alert if the oldest queued row (alerts left out) is older than
        ``backlog_alert_seconds`` and no alert was raised in this episode; the episode ends when
        the oldest row is younger than half that. True if an alert was queued."""
        threshold = self._backlog_threshold
        async with self._sessions.begin() as session:
            found = await outbox.backlog(session, include_alerts=False, now=self._now())
            age = found.oldest_age or timedelta(0)
            if age < threshold:
                if self._backlog_episode and age < threshold / 2:
                    log.info("notifier: the backlog has cleared (%s rows queued)", found.depth)
                    self._backlog_episode = False
                return False
            if self._backlog_episode:
                return False
            log.error("notifier: backlog: %s rows queued, the oldest for %s", found.depth, age)
            queued = await outbox.raise_backlog_alert(
                session, self._alerts, found, threshold=threshold
            )
        self._backlog_episode = True  # only once the alert is committed
        return queued

    # --- shutdown -----------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        workers = self._workers()
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)
        leftover = [row for chat in self._chats.values() for row in chat.queue]
        for chat in self._chats.values():
            chat.queue.clear()
        if not leftover:
            return

        async def write(session: AsyncSession) -> None:
            for row in leftover:  # never attempted: due again at once, no attempt counted
                await outbox.defer(session, row.id, delay=timedelta(0))

        try:
            await self._write(write)
        except Exception:
            log.exception("notifier: %s rows stay claimed until their lease ends", len(leftover))
        self._held.difference_update(row.id for row in leftover)
