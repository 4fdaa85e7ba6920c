"""core.limits: what /help tells per coin comes from the same rules as the flows (the larger of
our minimum and the provider's plus the margin; a coin's own withdrawal rules over the
settings)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from core.config import PaymentsSettings
from core.limits import user_limits
from tests.support.db import Db

D = Decimal


async def test_limits_per_coin(fresh_db: Db) -> None:
    async with fresh_db.sessions.begin() as session:
        await session.execute(
            text(
                "INSERT INTO currencies (code, name, token, network, is_active, sort_order,"
                " min_amount_usd, min_withdrawal_usd, network_fee_usd, disabled_by_admin) VALUES"
                " ('AAA', 'A', 'AAA', 'a', true, 1, 40.00, 25.00, 2.00, false),"
                " ('BBB', 'B', 'BBB', 'b', true, 2, 1.00, NULL, NULL, false),"
                " ('CCC', 'C', 'CCC', 'c', true, 3, NULL, NULL, NULL, false),"
                " ('OFF', 'O', 'OFF', 'o', false, 4, 1.00, NULL, NULL, false),"
                " ('HID', 'H', 'HID', 'h', true, 5, 1.00, NULL, NULL, true)"
            )
        )
    payments = PaymentsSettings(
        min_withdrawal_by_currency={"bbb": D("12.00")}, network_fee_by_currency={"CCC": D("0.30")}
    )
    async with fresh_db.sessions() as session:
        found = await user_limits(session, payments)
    assert [(c.code, c.min_deposit, c.min_withdrawal, c.network_fee) for c in found.coins] == [
        ("AAA", D("44.00"), D("25.00"), D("2.00")),  # 40 plus the 10% margin
        ("BBB", D("5.00"), D("12.00"), D("1.00")),  # ours is larger than 1.10
        ("CCC", D("5.00"), D("10.00"), D("0.30")),
    ]
    assert (found.min_deposit, found.service_fee_percent) == (D("5.00"), D("1"))
