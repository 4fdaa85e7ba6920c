"""What a process that has just taken the polling lock releases: every lease, nothing else."""

from __future__ import annotations

from sqlalchemy import text

from core.deposits.poller import release_leases
from tests.fakes.nowpayments import FakeNowPayments
from tests.support.db import Db, make_user
from tests.support.deposits import add_coins, seed_payments


async def test_release_leases_makes_leased_payments_due_and_leaves_the_schedule(
    fresh_db: Db, fake: object
) -> None:

    assert isinstance(fake, FakeNowPayments)
    user = await make_user(fresh_db.sessions)
    await add_coins(fresh_db)
    leased, scheduled = await seed_payments(fresh_db, fake, [user.id], 2, lambda i, pid: None)
    async with fresh_db.sessions.begin() as session:
        await session.execute(
            text(
                "UPDATE payments SET lease_until = now() + interval '1 hour',"
                " next_check_at = now() + interval '1 hour' WHERE id = :id"
            ),
            {"id": leased.payment_id},
        )
        await session.execute(
            text(
                "UPDATE payments SET next_check_at = now() + interval '5 minutes' WHERE id = :id"
            ),
            {"id": scheduled.payment_id},
        )
    async with fresh_db.sessions.begin() as session:
        assert await release_leases(session) == 1
    async with fresh_db.sessions() as session:
        rows: dict[int, bool] = dict(
            (
                await session.execute(
                    text("SELECT id, lease_until IS NULL AND next_check_at <= now() FROM payments")
                )
            ).all()
        )
    assert rows == {leased.payment_id: True, scheduled.payment_id: False}
