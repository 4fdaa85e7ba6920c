"""The limits and fees a user is held to, per coin, from the live settings and catalogue: what
/help tells. The same rules as the flows themselves (core.deposits, core.fees)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from core import currencies, fees
from core.config import PaymentsSettings
from core.deposits import provider_minimum


@dataclass(frozen=True, slots=True)
class CoinLimits:
    code: str
    min_deposit: Decimal  # the larger of ours and the provider's (with the margin)
    min_withdrawal: Decimal
    network_fee: Decimal


@dataclass(frozen=True, slots=True)
class Limits:
    coins: list[CoinLimits]  # active coins, in the catalogue's order
    min_deposit: Decimal  # ours, for every coin
    max_deposit: Decimal
    min_withdrawal: Decimal  # the default, where a coin has none of its own
    max_withdrawal: Decimal
    network_fee: Decimal  # the default
    service_fee_fixed: Decimal
    service_fee_percent: Decimal
    max_pending_withdrawals: int


async def user_limits(session: AsyncSession, payments: PaymentsSettings) -> Limits:
    coins: list[CoinLimits] = []
    for coin in await currencies.list_active(session):
        provider = provider_minimum(coin, payments.provider_min_margin_percent)
        rules = fees.rules_for(
            payments,
            coin.code,
            network_fee_usd=coin.network_fee_usd,
            min_withdrawal_usd=coin.min_withdrawal_usd,
        )
        coins.append(
            CoinLimits(
                code=coin.code,
                min_deposit=max(payments.min_deposit_usd, provider or Decimal(0)),
                min_withdrawal=rules.minimum,
                network_fee=rules.network_fee,
            )
        )
    return Limits(
        coins=coins,
        min_deposit=payments.min_deposit_usd,
        max_deposit=payments.max_deposit_usd,
        min_withdrawal=payments.min_withdrawal_usd,
        max_withdrawal=payments.max_withdrawal_usd,
        network_fee=payments.default_network_fee_usd,
        service_fee_fixed=payments.service_fee_fixed_usd,
        service_fee_percent=payments.service_fee_percent,
        max_pending_withdrawals=payments.max_pending_withdrawals,
    )


__all__ = ["CoinLimits", "Limits", "user_limits"]
