"""When to ask the provider about a payment next.

Young payments are checked often (a user who just paid waits for the confirmation), older ones
less often, a day-old one (usually an invoice nobody will pay; the provider keeps it open for up
to 7 days) only every half hour, and one check is always placed just after the payment's expiry,
when the provider should report the final status. A deposit that ended without money (expired,
failed) stays on a decaying late schedule until the provider's window closes (7 days from
creation): money may still arrive, and a user who paid late can press "Check status".
Failed checks back off exponentially (with jitter, so a burst of failures does not come back as a
burst).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.config import PaymentsSettings


@dataclass(frozen=True, slots=True)
class Schedule:
    base_seconds: float = 10.0  # interval while the payment is young
    young_seconds: float = 15 * 60
    middle_factor: float = 6.0  # base × this until middle_seconds of age
    middle_seconds: float = 2 * 3600
    old_seconds: float = 5 * 60
    stale_after_seconds: float = 24 * 3600
    stale_seconds: float = 30 * 60
    max_seconds: float = 30 * 60
    expiry_grace_seconds: float = 60.0
    error_base_seconds: float = 10.0  # first retry after a failed check, doubling
    error_max_seconds: float = 10 * 60
    # A 'creating' row is left alone this long (the create call may still be in flight), then
    # looked up by order_id until creating_deadline, then marked create_failed.
    creating_grace_seconds: float = 60.0
    creating_deadline_seconds: float = 15 * 60
    rate_limit_pause_seconds: float = 5.0  # when a 429 comes without a usable Retry-After
    # Late checks (see late_next): the window from creation, the intervals and where each ends.
    late_window_seconds: float = 7 * 24 * 3600
    late_intervals_seconds: tuple[float, ...] = (300.0, 1800.0, 10800.0)
    late_phase_seconds: tuple[float, ...] = (3600.0, 43200.0)

    @classmethod
    def from_settings(cls, payments: PaymentsSettings) -> Schedule:
        interval = payments.poll_interval_seconds
        return cls(
            base_seconds=interval,
            error_base_seconds=interval,
            late_window_seconds=payments.late_check_window_hours * 3600,
            late_intervals_seconds=tuple(payments.late_check_intervals_seconds),
            late_phase_seconds=tuple(payments.late_check_phase_seconds),
        )

    def interval(self, age: timedelta) -> float:
        seconds = age.total_seconds()
        if seconds < self.young_seconds:
            value = self.base_seconds
        elif seconds < self.middle_seconds:
            value = self.base_seconds * self.middle_factor
        elif seconds < self.stale_after_seconds:
            value = self.old_seconds
        else:
            value = self.stale_seconds
        return min(value, self.max_seconds)

    def next_check(
        self, now: datetime, created_at: datetime, expires_at: datetime | None
    ) -> datetime:
        due = now + timedelta(seconds=self.interval(now - created_at))
        if expires_at is not None:
            final = expires_at + timedelta(seconds=self.expiry_grace_seconds)
            if now < final:
                due = min(due, final)
        return due

    def late_window_open(self, now: datetime, created_at: datetime) -> bool:
        return now < created_at + timedelta(seconds=self.late_window_seconds)

    def late_next(
        self, now: datetime, ended_at: datetime, created_at: datetime
    ) -> datetime | None:
        """The next look at a deposit that ended without money at ``ended_at``: every
        late_intervals_seconds[i] while the time since the end is below late_phase_seconds[i]
        (the last interval after that), never past the window; None once the window is over."""
        window_end = created_at + timedelta(seconds=self.late_window_seconds)
        if now >= window_end:
            return None
        since = (now - ended_at).total_seconds()
        interval = self.late_intervals_seconds[-1]
        for phase_end, value in zip(
            self.late_phase_seconds, self.late_intervals_seconds, strict=False
        ):
            if since < phase_end:
                interval = value
                break
        return min(now + timedelta(seconds=interval), window_end)

    def after_error(self, now: datetime, attempts: int) -> datetime:
        ceiling = self.error_base_seconds * 2 ** min(max(attempts - 1, 0), 30)
        ceiling = min(self.error_max_seconds, ceiling)
        return now + timedelta(seconds=random.uniform(ceiling / 2, ceiling))

    def creating_grace(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.creating_grace_seconds)

    def creating_expired(self, now: datetime, created_at: datetime) -> bool:
        return now - created_at > timedelta(seconds=self.creating_deadline_seconds)
