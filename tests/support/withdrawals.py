"""Withdrawal set-up: two admins, addresses that pass each network's check, the coins with
their fee rules, and a service and funded users on a test database (no tests here)."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from core.auth import AdminGate
from core.config import Settings
from core.db.models import User
from core.withdrawals import WithdrawalService
from tests.support.db import Db, make_user, post_deposit
from tests.support.settings import make_settings

D = Decimal

ADMIN_A = 700_000_001
ADMIN_B = 700_000_002
ADMIN_CHAT = -100123

TRX = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BTC = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
XRP = "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh"
TX_HASH = "AB" * 32
# The gate the bot asks (core.auth): its proof is what every admin move takes.
as_admin = AdminGate([ADMIN_A, ADMIN_B]).authorize

CURRENCIES = text(
    """
    INSERT INTO currencies (code, name, token, network, needs_memo, is_active,
                            network_fee_usd, min_withdrawal_usd)
    VALUES ('BTC', 'Bitcoin', 'BTC', 'btc', false, true, NULL, NULL),
           ('USDTTRC20', 'Tether USD (Tron)', 'USDT', 'trx', false, true, NULL, NULL),
           ('USDTERC20', 'Tether USD (Ethereum)', 'USDT', 'eth', false, true, NULL, NULL),
           ('XRP', 'Ripple', 'XRP', 'xrp', true, true, NULL, NULL),
           ('WDTESTOFF', 'Switched off', 'WDTESTOFF', 'btc', false, false, NULL, NULL),
           ('WDTESTFEE', 'Own fee rules', 'WDTESTFEE', 'eth', false, true, 2.50, 20.00)
    ON CONFLICT DO NOTHING
    """
)


async def add_currencies(db: Db) -> None:
    async with db.sessions.begin() as session:
        await session.execute(CURRENCIES)


async def service(db: Db, **payments: Any) -> WithdrawalService:
    await add_currencies(db)
    return WithdrawalService(db.sessions, settings(**payments))


async def fund(db: Db, user: User, amount: str) -> None:
    async with db.sessions.begin() as session:
        await post_deposit(
            session, user.id, D(amount), f"test-deposit:{user.id}:{secrets.token_hex(4)}"
        )


async def funded_user(db: Db, amount: str = "100.00", **fields: Any) -> User:
    user = await make_user(db.sessions, **fields)
    await fund(db, user, amount)
    return user


async def ledger_rows(db: Db, user: User) -> list[tuple[str, Decimal, str, int | None]]:
    async with db.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT type, amount_usd, idempotency_key, withdrawal_id FROM transactions"
                " WHERE user_id = :u ORDER BY id"
            ),
            {"u": user.id},
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows.all()]


def settings(**payments: Any) -> Settings:
    return make_settings(admin_ids=[ADMIN_A, ADMIN_B], admin_chat_id=ADMIN_CHAT, **payments)
