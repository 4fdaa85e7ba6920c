"""/help: the user's (deposits, fees, minimums and how long each step takes, from the live
settings and catalogue) and the admins' (every admin command with an example)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from bot.i18n import t
from bot.reports.formatting import money, percent
from bot.texts import coin_name
from core.limits import CoinLimits, Limits

# Every command the admin chat answers, in the order the help lists them. A test checks it
# against the registered admin handlers.
ADMIN_COMMANDS = (
    "pending",
    "payments",
    "user",
    "stats",
    "currencies",
    "adjust",
    "bonus",
    "transactions",
    "export",
    "id",
    "help",
)
PER_COIN_SHOWN = 12  # coins named where a limit varies; more are cut with '…'

Value = Callable[[CoinLimits], Decimal]


def _per_coin(coins: list[CoinLimits], value: Value) -> str | None:
    """'BTC $20.00, USDT (TRC20) $10.00' when the coins differ; None when one value fits all."""
    if len({value(c) for c in coins}) <= 1:
        return None
    shown = [f"{coin_name(c.code)} {money(value(c))}" for c in coins[:PER_COIN_SHOWN]]
    if len(coins) > PER_COIN_SHOWN:
        shown.append("…")
    return ", ".join(shown)


def _lowest(coins: list[CoinLimits], value: Value, default: Decimal) -> Decimal:
    return min((value(c) for c in coins), default=default)


def _service_fee(limits: Limits) -> str:
    fixed, rate = limits.service_fee_fixed, limits.service_fee_percent
    if fixed and rate:
        return t("help-fee-fixed-and-percent", fixed=money(fixed), percent=percent(rate))
    if rate:
        return t("help-fee-percent", percent=percent(rate))
    if fixed:
        return t("help-fee-fixed", fixed=money(fixed))
    return t("help-fee-none")


def user_help(limits: Limits, *, check_seconds: float) -> str:
    coins = limits.coins

    def deposit_min(c: CoinLimits) -> Decimal:
        return c.min_deposit

    def withdrawal_min(c: CoinLimits) -> Decimal:
        return c.min_withdrawal

    def network_fee(c: CoinLimits) -> Decimal:
        return c.network_fee

    deposit = t(
        "help-user-deposit",
        min=money(_lowest(coins, deposit_min, limits.min_deposit)),
        max=money(limits.max_deposit),
    )
    if (listed := _per_coin(coins, deposit_min)) is not None:
        deposit += " " + t("help-user-deposit-per-coin", list=listed)
    withdraw = t(
        "help-user-withdraw",
        min=money(_lowest(coins, withdrawal_min, limits.min_withdrawal)),
        max=money(limits.max_withdrawal),
        open=limits.max_pending_withdrawals,
    )
    if (listed := _per_coin(coins, withdrawal_min)) is not None:
        withdraw += " " + t("help-user-withdraw-per-coin", list=listed)
    network = _per_coin(coins, network_fee) or money(
        coins[0].network_fee if coins else limits.network_fee
    )
    fees = t("help-user-fees", network=network, service=_service_fee(limits))
    return "\n\n".join(
        [
            t("help-user-title"),
            deposit + "\n" + t("help-user-deposit-time", seconds=round(check_seconds)),
            withdraw + "\n" + fees + "\n" + t("help-user-withdraw-time"),
            t("help-user-commands"),
        ]
    )


def admin_help() -> str:
    lines = [t("help-admin-title"), ""]
    lines += [t(f"help-admin-{command}") for command in ADMIN_COMMANDS]
    return "\n".join([*lines, "", t("help-admin-cards")])
