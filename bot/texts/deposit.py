"""The deposit flow, the invoice and /deposits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from bot.i18n import t
from bot.texts.common import LazyMap, bounded, coin_name, crypto, esc, pick, usd, when
from bot.texts.errors import error_text
from core.deposits.views import PaymentView, plain
from core.errors import InvalidAmount, PaybotError

_DEPOSIT_STATUSES = (
    "creating", "waiting", "confirming", "confirmed", "sending", "partially_paid", "finished",
    "failed", "refunded", "expired", "cancelled", "create_failed",
)  # fmt: skip
DEPOSIT_STATUS_SHORT = LazyMap({s: f"deposit-state-{s}" for s in _DEPOSIT_STATUSES})


def usd_range(minimum: Decimal, maximum: Decimal) -> str:
    return t("usd-range", minimum=usd(minimum), maximum=usd(maximum))


# What is wrong with a typed amount, where the error text also says what to send: a refusal in
# a flow names the problem once and the instruction once.
_AMOUNT_PROBLEMS: Mapping[str, str] = {
    "invalid_amount.": "amount-problem",
    "invalid_amount.empty": "amount-problem-empty",
    "invalid_amount.not_a_number": "amount-problem-not-a-number",
    "invalid_amount.too_long": "amount-problem-too-long",
    "invalid_amount.ambiguous": "amount-problem-ambiguous",
}


def amount_problem(exc: PaybotError) -> str:
    problem = _AMOUNT_PROBLEMS.get(f"{exc.code}.{exc.reason}")
    return t(problem) if problem else error_text(exc.code, exc.reason, exc.params)


def btn_usd(amount: Decimal) -> str:
    """A button label (plain text)."""
    return usd(amount)


def btn_check_deposit(internal_id: str) -> str:
    return t("btn-check-deposit", id=internal_id)


def deposit_ask_amount(code: str, minimum: Decimal, maximum: Decimal) -> str:
    return t("deposit-ask-amount", coin=esc(coin_name(code)), range=usd_range(minimum, maximum))


def deposit_amount_refused(exc: InvalidAmount, minimum: Decimal, maximum: Decimal) -> str:
    """The range said once: a coin's own minimum (from core) replaces the general one."""
    problem = amount_problem(exc)
    coin_minimum = exc.params.get("minimum")
    if exc.reason == "below_minimum" and isinstance(coin_minimum, Decimal):
        coin = exc.params.get("currency")
        problem = (
            t("deposit-below-coin-minimum", coin=esc(coin_name(coin)))
            if coin
            else t("deposit-below-minimum")
        )
        minimum = max(minimum, coin_minimum)
    elif exc.reason == "above_maximum":
        problem = t("deposit-above-maximum")
    return t("deposit-amount-refused", problem=problem, range=usd_range(minimum, maximum))


def deposit_try_again(exc: PaybotError) -> str:
    if exc.code == "provider_unavailable":
        return t("deposit-provider-unavailable")
    return t("or-cancel", text=error_text(exc.code, exc.reason, exc.params))


def deposit_create_pending(internal_id: object) -> str:
    if internal_id:
        return t("deposit-create-pending-id", id=esc(internal_id))
    return t("deposit-create-pending")


def deposit_invoice(view: PaymentView) -> str:
    coin = esc(coin_name(view.currency))
    # Copied into a wallet: the machine form with a dot, whatever the locale.
    amount = plain(view.pay_amount) if view.pay_amount is not None else "?"
    rows = [
        t("deposit-invoice-title", id=esc(view.internal_id)),
        "",
        t("line", label=t("label-amount"), value=f"<b>{usd(view.amount_usd)}</b>"),
        t("line", label=t("label-send-exactly"), value=f"<code>{esc(amount)}</code> {coin}"),
        t(
            "line",
            label=t("label-to-address"),
            value=f"<code>{esc(view.pay_address or '?')}</code>",
        ),
    ]
    if view.memo:
        memo = f"<code>{esc(view.memo)}</code>"
        rows += [t("line", label=t("label-memo"), value=memo), "", t("deposit-memo-warning")]
    if view.expires_at is not None:
        rows += ["", t("deposit-pay-before", when=when(view.expires_at))]
    rows += ["", t("deposit-invoice-hint", coin=coin)]
    return "\n".join(rows)


def deposit_state(view: PaymentView) -> str:
    """Plain text: escape it before putting it into HTML."""
    label = pick("deposit-state", view.status, "state-unknown")
    credited = view.credited_usd
    if view.status == "partially_paid":
        coin = coin_name(view.currency)
        paid = f"{crypto(view.actually_paid)} {coin}" if view.actually_paid else "?"
        if credited is None:
            return t("deposit-state-partial-review", state=label, paid=paid)
        return t("deposit-state-partial-credited", state=label, paid=paid, credited=usd(credited))
    if credited is not None and credited > 0:
        return t("deposit-state-credited-amount", state=label, credited=usd(credited))
    if view.needs_review:
        return t("deposit-state-review")
    return label


def deposit_check_answer(view: PaymentView) -> str:
    return t("deposit-check-answer", id=view.internal_id, state=deposit_state(view))[:200]


def deposits_list(views: Sequence[PaymentView]) -> str:
    rows = [t("deposits-title")]
    for view in views:
        coin = esc(coin_name(view.currency))
        rows += [
            "",
            t(
                "deposits-entry",
                amount=usd(view.amount_usd),
                coin=coin,
                state=esc(deposit_state(view)),
            ),
            f"{esc(view.internal_id)} · {when(view.created_at)}",
        ]
        if view.status == "waiting" and view.pay_address and view.pay_amount is not None:
            # Where to pay, again: the invoice message may be gone.
            where = t(
                "deposits-pay",
                amount=esc(plain(view.pay_amount)),
                coin=coin,
                address=esc(view.pay_address),
            )
            if view.memo:
                where += t("deposits-pay-memo", memo=esc(view.memo))
            if view.expires_at:
                where += t("deposits-pay-before", when=when(view.expires_at))
            rows.append(where)
    return bounded(rows)
