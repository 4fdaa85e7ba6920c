"""The withdrawal flow and /withdrawals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from bot.i18n import has_text, t
from bot.texts.common import LazyMap, bounded, clip, coin_name, esc, pick, usd, when
from bot.texts.deposit import amount_problem
from bot.texts.errors import error_text, format_param
from core.errors import InvalidAddress, PaybotError
from core.fees import FeeQuote
from core.withdrawals import WithdrawalView

_WITHDRAWAL_STATUSES = ("pending", "approved", "processing", "completed", "rejected", "cancelled")
WITHDRAWAL_STATUS_SHORT = LazyMap({s: f"withdrawal-state-{s}" for s in _WITHDRAWAL_STATUSES})
# Ended without sending: the whole held amount is back, nothing is on its way.
WITHDRAWAL_RETURNED = frozenset({"rejected", "cancelled"})

# Address families as core.addresses names them (looks_like), and network codes.
_NETWORKS = (
    "btc", "eth", "trx", "ltc", "xrp", "bsc", "matic", "arbitrum", "op", "base", "sol", "ton",
)  # fmt: skip
NETWORK_NAMES = LazyMap({code: f"network-{code}" for code in _NETWORKS})


def network_name(code: object, *, family: bool = False) -> str:
    name = str(code).strip().lower()
    key = f"network-family-{name}" if family and has_text(f"network-family-{name}") else None
    key = key or (f"network-{name}" if has_text(f"network-{name}") else None)
    return esc(t(key) if key else str(code).upper())


def btn_cancel_withdrawal(internal_id: str) -> str:
    return t("btn-cancel-withdrawal", id=internal_id)


def withdraw_ask_amount(balance: Decimal) -> str:
    return t("withdraw-ask-amount", balance=usd(balance))


def withdraw_amount_refused(exc: PaybotError) -> str:
    return t("withdraw-amount-refused", problem=amount_problem(exc))


def withdraw_kept(code: object, address: object) -> str:
    """Under the amount question when an earlier answer stands (a refused amount is asked
    again): the steps it skips are named, and how to change them."""
    if not code:
        return ""
    coin = esc(coin_name(code))
    if address:
        return "\n\n" + t("withdraw-kept-both", coin=coin, address=esc(address))
    return "\n\n" + t("withdraw-kept-coin", coin=coin)


def withdraw_coin_refused_amount(exc: PaybotError) -> str:
    """A coin's quote refused the amount: its own limit, named with the coin."""
    coin = exc.params.get("currency")
    if exc.reason == "below_minimum" and coin:
        minimum = format_param(exc.params.get("minimum"))
        return t("withdraw-coin-minimum", coin=esc(coin_name(coin)), minimum=minimum)
    return error_text(exc.code, exc.reason, exc.params)


def withdraw_pick_currency(amount: Decimal) -> str:
    return t("withdraw-pick-currency", amount=usd(amount))


def withdraw_ask_address(code: str) -> str:
    return t("withdraw-ask-address", coin=esc(coin_name(code)))


def withdraw_ask_memo(code: str) -> str:
    return t("withdraw-ask-memo", coin=esc(coin_name(code)))


_MEMO_REASONS = frozenset({"memo_required", "memo_invalid"})
# Where the error text says both what is wrong and what to send, the flow says each once.
_ADDRESS_PROBLEMS: Mapping[str, tuple[str, str]] = {
    "empty": ("address-problem-empty", "address-ask-address"),
    "testnet": ("address-problem-testnet", "address-ask-mainnet"),
    "burn_address": ("address-problem-burn", "address-ask-own"),
}


def withdraw_address_refused(exc: InvalidAddress) -> str:
    """Which network an address belongs to is named; the user is asked for that field again,
    once."""
    again = "address-ask-memo-again" if exc.reason in _MEMO_REASONS else "address-ask-again"
    problem_key, ask_key = _ADDRESS_PROBLEMS.get(exc.reason, ("", again))
    problem = t(problem_key) if problem_key else ""
    ask = t(ask_key)
    if exc.reason == "wrong_network":
        expected = network_name(exc.params.get("expected") or exc.params.get("network", ""))
        looks_like = network_name(exc.params.get("looks_like", ""), family=True)
        problem = t("address-problem-wrong-network", looks_like=looks_like, expected=expected)
        ask = t("address-ask-network", expected=expected)
    return t(
        "address-refused",
        problem=problem or error_text(exc.code, exc.reason, exc.params),
        ask=ask,
    )


def withdraw_confirm(quote: FeeQuote, code: str, address: str, memo: str | None = None) -> str:
    rows = [
        t("withdraw-confirm-title"),
        "",
        t("line", label=t("label-amount"), value=usd(quote.amount)),
        t("withdraw-network-fee", fee=usd(quote.network_fee)),
        t("withdraw-service-fee", fee=usd(quote.service_fee)),
        t("withdraw-you-receive", amount=usd(quote.final_amount), coin=esc(coin_name(code))),
        t("line", label=t("label-to-address"), value=f"<code>{esc(address)}</code>"),
    ]
    if memo:
        rows.append(t("line", label=t("label-memo"), value=f"<code>{esc(memo)}</code>"))
    rows += ["", t("withdraw-confirm-note", amount=usd(quote.amount))]
    return "\n".join(rows)


def withdraw_requested(view: WithdrawalView) -> str:
    return t(
        "withdraw-requested",
        id=esc(view.internal_id),
        amount=usd(view.amount),
        final=usd(view.final_amount),
        coin=esc(coin_name(view.currency_code)),
        address=esc(view.wallet_address),
    )


def withdrawals_list(views: Sequence[WithdrawalView]) -> str:
    rows = [t("withdrawals-title")]
    for view in views:
        status = pick("withdrawal-state", view.status, "state-unknown")
        coin = esc(coin_name(view.currency_code))
        # A rejected or cancelled one sends nothing: no "→ what you receive".
        if view.status in WITHDRAWAL_RETURNED:
            entry = t("withdrawals-entry", amount=usd(view.amount), coin=coin, state=esc(status))
        else:
            entry = t(
                "withdrawals-entry-sent",
                amount=usd(view.amount),
                final=usd(view.final_amount),
                coin=coin,
                state=esc(status),
            )
        rows += [
            "",
            entry,
            f"{esc(view.internal_id)} · {when(view.created_at)}",
            t("withdrawals-to", address=esc(view.wallet_address)),
        ]
        if view.status == "rejected" and view.reject_reason:
            reason = esc(clip(view.reject_reason, 300))
            rows.append(t("line", label=t("label-reason"), value=reason))
        if view.transaction_hash:
            tx = f"<code>{esc(view.transaction_hash)}</code>"
            rows.append(t("line", label=t("label-transaction"), value=tx))
    return bounded(rows)  # ten entries with long reasons would pass Telegram's 4,096


def withdrawal_cancelled(view: WithdrawalView) -> str:
    """A callback answer (plain text)."""
    return t("withdrawal-cancelled", id=view.internal_id, amount=usd(view.amount))[:200]
