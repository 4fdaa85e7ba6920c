"""/balance and /history."""

from __future__ import annotations

from bot.i18n import t
from bot.texts.common import LazyMap, pick, usd
from core.db.models import TxType
from core.ledger import Balance

TX_TYPES = LazyMap({kind.value: f"tx-{kind.value}" for kind in TxType})


def tx_type(kind: object) -> str:
    return pick("tx", kind, "tx-unknown")


def balance_card(balance: Balance) -> str:
    return t(
        "balance-card",
        balance=usd(balance.balance),
        deposited=usd(balance.total_deposited),
        withdrawn=usd(balance.total_withdrawn),
    )
