"""The payment poller: asks NOWPayments about every non-final payment when it is due, and about
deposits that ended without money (expired, failed, never credited) on a decaying late schedule
until the provider's window closes (Schedule.late_next), since money may still arrive.

Work is claimed in batches with ``SELECT ... FOR UPDATE SKIP LOCKED``; a claim sets a lease
(``lease_until``, also pushed into ``next_check_at``), so several pollers never check the same
payment at once, and a crashed or cancelled poller's payments come back when the lease ends.
Each claimed payment is checked under a semaphore; a reply that changes nothing only moves
``next_check_at`` (one batched UPDATE per batch, fenced by the lease value, so a poller whose
lease ran out cannot overwrite a newer claim); a change goes through ``settle`` (one
transaction: status + history + outbox + credit). A failing payment records ``last_error`` and
backs off without holding up the rest; a 429 pauses the whole poller for Retry-After.

run_forever claims the next batch as soon as the current one has no unstarted checks left (one
semaphore bounds both), so batch boundaries do not idle the provider connection pool. Every few
minutes it also scans the provider's newest payments for repeated deposits to our addresses
(child payments), which settle reports to the admin chat.

Cancellation is safe at any await: an interrupted settle rolls back, unfinished claims expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import BigInteger, DateTime, Text

from core import metrics
from core.config import Settings
from core.db.models import PaymentStatus
from core.deposits.flows import reconcile_creating
from core.deposits.settlement import (
    LATE_CHECKED,
    BeforeCommit,
    Outcome,
    SettlePolicy,
    provider_rates,
    settle,
    utcnow,
)
from core.nowpayments import (
    NowPaymentsClient,
    ProviderError,
    ProviderRateLimited,
)
from core.nowpayments import Payment as Reply

log = logging.getLogger(__name__)

_CLAIM = text(
    """
    WITH due AS (
        SELECT id FROM payments
         WHERE (status IN ('waiting', 'confirming', 'confirmed', 'sending', 'creating')
                OR (status IN ('expired', 'failed') AND credited_usd IS NULL
                    AND created_at > now() - make_interval(secs => :window)))
           AND next_check_at <= now()
           AND (lease_until IS NULL OR lease_until <= now())
         ORDER BY next_check_at
         LIMIT :limit
         FOR UPDATE SKIP LOCKED
    )
    UPDATE payments p
       SET lease_until = now() + make_interval(secs => :lease),
           next_check_at = now() + make_interval(secs => :lease)
      FROM due
     WHERE p.id = due.id
    RETURNING p.id, p.status, p.provider_status, p.provider_payment_id, p.actually_paid,
              p.created_at, p.expires_at, p.check_attempts, p.lease_until, p.completed_at
    """
)
# 'ok' clears the error state, 'error' counts an attempt, 'defer' (rate-limit pause) neither.
_RELEASE = text(
    """
    UPDATE payments p
       SET next_check_at = v.next_check_at,
           lease_until = NULL,
           check_attempts = CASE v.kind WHEN 'ok' THEN 0
                                        WHEN 'error' THEN p.check_attempts + 1
                                        ELSE p.check_attempts END,
           last_error = CASE v.kind WHEN 'ok' THEN NULL
                                    WHEN 'error' THEN v.error
                                    ELSE p.last_error END
      FROM unnest(:ids, :leases, :nexts, :kinds, :errors)
           AS v(id, lease, next_check_at, kind, error)
     WHERE p.id = v.id AND p.lease_until = v.lease
    """
).bindparams(
    bindparam("ids", type_=ARRAY(BigInteger)),
    bindparam("leases", type_=ARRAY(DateTime(timezone=True))),
    bindparam("nexts", type_=ARRAY(DateTime(timezone=True))),
    bindparam("kinds", type_=ARRAY(Text)),
    bindparam("errors", type_=ARRAY(Text)),
)


@dataclass(frozen=True, slots=True)
class _Claim:
    id: int
    status: str
    provider_status: str | None
    provider_payment_id: str | None
    actually_paid: Any
    created_at: datetime
    expires_at: datetime | None
    check_attempts: int
    lease: datetime
    completed_at: datetime | None = None

    @property
    def late(self) -> bool:
        """Ended without money: a late check (money may still arrive)."""
        return self.status in LATE_CHECKED


@dataclass(frozen=True, slots=True)
class _Release:
    claim: _Claim
    next_check_at: datetime | None  # None: no more checks (a late check past the window)
    kind: str  # ok | error | defer
    error: str | None = None


@dataclass(slots=True)
class _BatchState:
    claimed: int = 0
    started: asyncio.Event = field(default_factory=asyncio.Event)  # no unstarted checks left


@dataclass(slots=True)
class PollCounts:
    claimed: int = 0
    unchanged: int = 0
    changed: int = 0  # settled with a change (status, amount, attach, alert)
    credited: int = 0
    errors: int = 0
    deferred: int = 0  # put back because of a rate-limit pause
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, other: PollCounts) -> None:
        for name in ("claimed", "unchanged", "changed", "credited", "errors", "deferred"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, value in other.outcomes.items():
            self.outcomes[key] = self.outcomes.get(key, 0) + value


class Poller:
    """``run_once()`` checks one batch of due payments; ``run_forever(stop)`` loops until
    ``stop`` is set (or the task is cancelled). Several may run against one database."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: NowPaymentsClient,
        settings: Settings,
        *,
        policy: SettlePolicy,
        batch_size: int | None = None,
        concurrency: int | None = None,
        lease_seconds: float | None = None,
        idle_seconds: float = 1.0,
        children_scan_seconds: float | None = 300.0,
        before_commit: BeforeCommit | None = None,
    ) -> None:
        payments = settings.payments
        self._sessions = sessions
        self._client = client
        # The deposit service's policy (one per process, built in the composition root): the
        # poller settles by the same rules as the user's "check status" and the admin tools.
        self.policy = policy
        self.schedule = policy.schedule
        self._batch_size = batch_size or payments.poll_batch_size
        self._limit = concurrency or payments.poll_concurrency
        # Shared by overlapping batches: at most `concurrency` checks in flight in all.
        self._semaphore = asyncio.Semaphore(self._limit)
        self._lease = lease_seconds or payments.poll_lease_seconds
        self._idle = idle_seconds
        self._children_every = children_scan_seconds
        self._before_commit = before_commit
        self._rates = provider_rates(client)
        self._paused_until = 0.0  # monotonic
        self._last_children_scan = 0.0

    # --- rate-limit pause --------------------------------------------------------------------

    @property
    def pause_remaining(self) -> float:
        return max(0.0, self._paused_until - time.monotonic())

    def _pause(self, exc: ProviderRateLimited) -> None:
        seconds = exc.retry_after
        if seconds is None:
            seconds = self.schedule.rate_limit_pause_seconds
        until = time.monotonic() + seconds
        if until > self._paused_until:
            log.warning("poller: provider rate limit, pausing %.1f s", seconds)
            self._paused_until = until

    # --- one batch ---------------------------------------------------------------------------

    async def run_once(self) -> PollCounts:
        """Claim up to batch_size due payments and check each once."""
        return await self._batch(_BatchState())

    @metrics.timed("poller_batch")
    async def _batch(self, state: _BatchState) -> PollCounts:
        counts = PollCounts()
        try:
            if self.pause_remaining > 0:
                return counts
            claims = await self._claim()
            state.claimed = counts.claimed = len(claims)
            releases: list[_Release] = []
            unstarted = len(claims)

            async def guarded(claim: _Claim) -> None:
                nonlocal unstarted
                async with self._semaphore:
                    unstarted -= 1
                    if unstarted == 0:  # the tail: the loop may claim the next batch now
                        state.started.set()
                    release = await self._check(claim, counts)
                if release is not None:
                    releases.append(release)

            await asyncio.gather(*(guarded(c) for c in claims))
            await self._release(releases)
            return counts
        finally:
            state.started.set()

    async def _claim(self) -> list[_Claim]:
        async with self._sessions.begin() as session:
            params = {
                "limit": self._batch_size,
                "lease": self._lease,
                "window": self.schedule.late_window_seconds,
            }
            rows = await session.execute(_CLAIM, params)
            return [
                _Claim(
                    r.id,
                    r.status,
                    r.provider_status,
                    r.provider_payment_id,
                    r.actually_paid,
                    r.created_at,
                    r.expires_at,
                    r.check_attempts,
                    r.lease_until,
                    r.completed_at,
                )
                for r in rows
            ]

    async def _check(self, claim: _Claim, counts: PollCounts) -> _Release | None:
        """One payment: a release to batch (nothing changed, error, deferral) or None (settled,
        which already rescheduled the row)."""
        now = utcnow()
        if now >= claim.lease:  # waited too long for a slot: another poller may own it now
            counts.deferred += 1
            return None
        if self.pause_remaining > 0:
            counts.deferred += 1
            until = now + timedelta(seconds=self.pause_remaining)
            return _Release(claim, until, "defer")
        try:
            if claim.status == PaymentStatus.CREATING or claim.provider_payment_id is None:
                return await self._reconcile(claim, counts)
            reply = await self._client.get_payment(claim.provider_payment_id)
            if _unchanged(claim, reply):
                counts.unchanged += 1
                return _Release(claim, self._next(claim, now), "ok")
            result = await settle(
                self._sessions,
                claim.id,
                reply,
                self.policy,
                before_commit=self._before_commit,
                rates=self._rates,
            )
        except ProviderRateLimited as exc:
            self._pause(exc)
            counts.deferred += 1
            return _Release(claim, now + timedelta(seconds=self.pause_remaining), "defer")
        except Exception as exc:  # noqa: BLE001 - one payment never stops the batch
            return self._failed(claim, counts, now, exc)
        self._count(counts, result.outcome, result.credited is not None)
        return None

    def _next(self, claim: _Claim, now: datetime) -> datetime | None:
        if claim.late:
            ended = claim.completed_at or now
            return self.schedule.late_next(now, ended, claim.created_at)
        return self.schedule.next_check(now, claim.created_at, claim.expires_at)

    async def _reconcile(self, claim: _Claim, counts: PollCounts) -> _Release | None:
        outcome = await reconcile_creating(self._sessions, self._client, self.policy, claim.id)
        if outcome is Outcome.UNCHANGED:  # not found yet: look again, backing off
            now = utcnow()
            error = "not found by order_id yet"
            return _Release(
                claim, self.schedule.after_error(now, claim.check_attempts + 1), "error", error
            )
        self._count(counts, outcome, False)
        return None

    def _failed(
        self, claim: _Claim, counts: PollCounts, now: datetime, exc: BaseException
    ) -> _Release:
        counts.errors += 1
        if isinstance(exc, ProviderError):
            log.info("poller: payment %s: %r", claim.id, exc, extra={"payment_id": claim.id})
        else:
            log.error(
                "poller: payment %s failed", claim.id, exc_info=exc, extra={"payment_id": claim.id}
            )
        due = self.schedule.after_error(now, claim.check_attempts + 1)
        return _Release(claim, due, "error", f"{type(exc).__name__}: {exc}"[:1000])

    @staticmethod
    def _count(counts: PollCounts, outcome: Outcome, credited: bool) -> None:
        counts.outcomes[outcome.value] = counts.outcomes.get(outcome.value, 0) + 1
        if outcome is Outcome.UNCHANGED:
            counts.unchanged += 1
        else:
            counts.changed += 1
        if credited:
            counts.credited += 1

    async def _release(self, releases: Sequence[_Release]) -> None:
        if not releases:
            return
        params = {
            "ids": [r.claim.id for r in releases],
            "leases": [r.claim.lease for r in releases],
            "nexts": [r.next_check_at for r in releases],
            "kinds": [r.kind for r in releases],
            "errors": [r.error for r in releases],
        }
        async with self._sessions.begin() as session:
            await session.execute(_RELEASE, params)

    # --- child payments ----------------------------------------------------------------------

    async def scan_children(self, pages: int = 1, page_size: int = 100) -> int:
        """Look through the newest provider payments for repeated deposits to our addresses
        (parent_payment_id = one of ours) and hand each to settle, which alerts the admin chat
        once (never credits). Needs the JWT (list endpoint). Returns how many were seen."""
        seen = 0
        for page in range(pages):
            listing = await self._client.list_payments(
                limit=page_size, page=page, sort_by="created_at", order_by="desc"
            )
            children = [p for p in listing.data if p.parent_payment_id is not None]
            for child in children:
                if await self._settle_child(child):
                    seen += 1
            if listing.received < page_size:  # malformed items were skipped, not missing
                break
        return seen

    async def _settle_child(self, child: Reply) -> bool:
        async with self._sessions() as session:
            parent_id = (
                await session.execute(
                    text("SELECT id FROM payments WHERE provider_payment_id = :pid"),
                    {"pid": child.parent_payment_id},
                )
            ).scalar_one_or_none()
        if parent_id is None:
            return False
        await settle(self._sessions, parent_id, child, self.policy)
        return True

    # --- the loop ----------------------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set (in-flight checks are finished first) or the task is
        cancelled (safe too, see the module doc)."""
        log.info("poller: started (batch %d, concurrency %d)", self._batch_size, self._limit)
        await self._loop(stop)
        log.info("poller: stopped")

    async def drain(self) -> PollCounts:
        """Check batches back to back, as run_forever does, until a batch finds nothing due.
        Raises what a batch raised (run_forever logs it and carries on)."""
        return await self._loop(None)

    async def _loop(self, stop: asyncio.Event | None) -> PollCounts:
        # The next batch is claimed as soon as the current one has no unstarted checks left,
        # so the semaphore stays busy across batches (at most two overlap).
        total = PollCounts()
        pending: set[asyncio.Task[PollCounts]] = set()
        try:
            while stop is None or not stop.is_set():
                metrics.beat("poller")
                state = _BatchState()
                pending.add(asyncio.create_task(self._batch(state)))
                await state.started.wait()
                if stop is not None:
                    await self._scan_children_if_due()
                if state.claimed >= self._batch_size and self.pause_remaining == 0:
                    while len(pending) > 1:
                        await self._reap(pending, total, asyncio.FIRST_COMPLETED, stop)
                    continue
                failed = await self._reap(pending, total, asyncio.ALL_COMPLETED, stop)
                if stop is None and state.claimed == 0:
                    return total
                if stop is not None:
                    await self._idle_wait(stop, failed)
            await self._reap(pending, total, asyncio.ALL_COMPLETED, stop)
            return total
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _reap(
        self,
        pending: set[asyncio.Task[PollCounts]],
        total: PollCounts,
        when: str,
        stop: asyncio.Event | None,
    ) -> bool:
        """Wait for batches; add their counts. True if one failed (logged, or raised when
        draining)."""
        if not pending:
            return False
        done, _ = await asyncio.wait(pending, return_when=when)
        failed = False
        for task in done:
            pending.discard(task)
            error = task.exception()
            if error is None:
                total.add(task.result())
            elif stop is None:
                raise error
            else:  # the database or the network is down: try again shortly
                log.error("poller: batch failed", exc_info=error)
                failed = True
        return failed

    async def _idle_wait(self, stop: asyncio.Event, failed: bool) -> None:
        delay = max(self._idle, self.pause_remaining, 5.0 if failed else 0.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)

    async def _scan_children_if_due(self) -> None:
        every = self._children_every
        if every is None or not self._client.has_credentials or self.pause_remaining > 0:
            return
        if time.monotonic() - self._last_children_scan < every:
            return
        self._last_children_scan = time.monotonic()
        try:
            await self.scan_children()
        except ProviderRateLimited as exc:
            self._pause(exc)
        except ProviderError as exc:
            log.warning("poller: child payment scan failed: %r", exc)
        except Exception:  # the scan is a safety net: never let it stop polling
            log.exception("poller: child payment scan failed")


async def release_leases(session: AsyncSession) -> int:
    """Make every leased payment due now. Only for a process that has just taken the polling
    lock (bot.app): whoever leased them before is dead, so nobody waits out its lease."""
    result = await session.execute(
        text(
            "UPDATE payments SET lease_until = NULL, next_check_at = least(next_check_at, now())"
            " WHERE lease_until IS NOT NULL"
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _unchanged(claim: _Claim, reply: Reply) -> bool:
    """Nothing new since the row was claimed: same status and amount, no child, same id."""
    if reply.parent_payment_id is not None or reply.payment_id != claim.provider_payment_id:
        return False
    paid_before = claim.actually_paid or 0
    return reply.payment_status == claim.provider_status and (reply.actually_paid or 0) == (
        paid_before
    )


__all__ = ["PollCounts", "Poller", "release_leases"]
