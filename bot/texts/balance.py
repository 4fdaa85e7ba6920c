"""/balance and /history."""

from __future__ import annotations

from bot.i18n import t
from bot.texts.common import LazyMap, pick, usd, when
from core.db.models import TxType
from core.ledger import Balance, HistoryPage

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


def history_page(page: HistoryPage, page_number: int) -> str:
    pages = max(1, -(-page.total // page.limit))
    rows = [t("history-title", page=page_number + 1, pages=pages), ""]
    for entry in page.entries:
        rows.append(
            t(
                "history-entry",
                when=when(entry.created_at),
                type=tx_type(entry.type),
                amount=usd(entry.amount, signed=True),
                balance=usd(entry.balance_after),
            )
        )
    return "\n".join(rows)
