"""Every user-visible string. Handlers, keyboards and the notifier word things only through here.

Messages are HTML (the bot's default parse mode). Anything that came from a user, the database or
a provider goes through ``esc`` before it is placed in a message.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from html import escape, unescape
from typing import Any

from core.admin import AdjustmentPlan, AdjustmentResult, Person, Stats, StatusTotal, UserSummary
from core.currencies import SyncResult, split_code
from core.db.models import Currency, TxType
from core.deposits.views import PaymentView, plain
from core.errors import InvalidAddress, InvalidAmount, PaybotError
from core.fees import FeeQuote
from core.ledger import Balance, HistoryPage
from core.money import format_usd, to_decimal
from core.withdrawals import Decision, UserRef, WithdrawalCard, WithdrawalView


def esc(value: object) -> str:
    return escape(str(value), quote=False)


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def coin_name(code: object) -> str:
    """The one name a user sees for a coin (plain text: escape it for HTML): 'USDT (TRC20)' for
    a token on a network, 'BTC' for a native coin; the split the currency sync stores."""
    ticker = str(code or "").strip().upper()
    token, _ = split_code(ticker, None)
    network = ticker[len(token) :]
    return f"{token} ({network})" if network else token


# --- commands (setMyCommands) -----------------------------------------------------------------

USER_COMMANDS: Sequence[tuple[str, str]] = (
    ("start", "Main menu and balance"),
    ("balance", "Balance and totals"),
    ("history", "Transaction history"),
    ("deposit", "Top up with crypto"),
    ("withdraw", "Withdraw to a crypto address"),
    ("deposits", "My deposits"),
    ("withdrawals", "My withdrawals"),
    ("cancel", "Leave the current step"),
    ("help", "What this bot can do"),
)
# Scoped to the admin chat; the admin handlers own their meaning.
ADMIN_COMMANDS: Sequence[tuple[str, str]] = (
    ("pending", "Withdrawals awaiting action"),
    ("payments", "Recent deposits: /payments [status|review]"),
    ("user", "Look up a user: /user <id or @name>"),
    ("stats", "Totals, balances and the ledger check"),
    ("currencies", "Deposit coins: switch on or off, sync"),
    ("adjust", "Correct a balance: /adjust <user> <±amount> <reason>"),
    ("bonus", "Credit a bonus: /bonus <user> <amount> <reason>"),
    ("id", "This chat's id and your user id"),
    ("help", "Admin commands"),
)

# --- buttons ----------------------------------------------------------------------------------

BTN_DEPOSIT = "➕ Deposit"
BTN_BALANCE = "💰 Balance"
BTN_HISTORY = "📜 History"
BTN_WITHDRAW = "➖ Withdraw"
BTN_DEPOSITS = "My deposits"
BTN_WITHDRAWALS = "My withdrawals"
BTN_HELP = "❓ Help"
BTN_PREVIOUS = "◀ Newer"
BTN_NEXT = "Older ▶"

# --- replies ----------------------------------------------------------------------------------


def welcome(first_name: str | None, balance: Decimal) -> str:
    name = f", {esc(first_name)}" if first_name else ""
    return (
        f"👋 Welcome{name}!\n\n"
        f"Your balance: <b>{format_usd(balance)}</b>\n\n"
        "Top up with crypto, keep track of every transaction and withdraw when you like. "
        "Pick an action below, or send /help."
    )


HELP = (
    "<b>What I can do</b>\n\n"
    "/start — main menu and your balance\n"
    "/balance — balance, total deposited and total withdrawn\n"
    "/history — your transactions, newest first\n"
    "/deposit — top up your balance with crypto\n"
    "/withdraw — send funds to your crypto address (an admin approves each withdrawal)\n"
    "/deposits — your deposits and their status\n"
    "/withdrawals — your withdrawal requests and their status\n"
    "/cancel — leave the current step\n"
    "/help — this message\n\n"
    "You get a message here whenever a deposit or withdrawal changes status."
)


def balance_card(balance: Balance) -> str:
    return (
        "<b>Your balance</b>\n\n"
        f"Available: <b>{format_usd(balance.balance)}</b>\n"
        f"Total deposited: {format_usd(balance.total_deposited)}\n"
        f"Total withdrawn: {format_usd(balance.total_withdrawn)}"
    )


TX_TYPES: Mapping[str, str] = {
    TxType.DEPOSIT: "Deposit",
    TxType.WITHDRAWAL: "Withdrawal",
    TxType.PAYMENT: "Payment",
    TxType.REFUND: "Refund",
    TxType.FEE: "Fee",
    TxType.BONUS: "Bonus",
    TxType.ADJUSTMENT: "Adjustment",
}

HISTORY_EMPTY = "No transactions yet. Use /deposit to top up."
HISTORY_NO_PAGE = "That page does not exist any more."


def history_page(page: HistoryPage, page_number: int) -> str:
    pages = max(1, -(-page.total // page.limit))
    lines = [f"<b>Transactions</b> (page {page_number + 1} of {pages})", ""]
    for entry in page.entries:
        lines.append(
            f"{when(entry.created_at)} · {TX_TYPES.get(entry.type, esc(entry.type))}\n"
            f"<b>{format_usd(entry.amount, signed=True)}</b>"
            f" → balance {format_usd(entry.balance_after)}"
        )
    return "\n".join(lines)


def chat_ids(chat_id: int, is_group: bool, user_id: int | None) -> str:
    """/id: what an operator puts in telegram.admin_chat_id and telegram.admin_ids."""
    lines = [f"This chat's id: <code>{chat_id}</code>"]
    if is_group:
        lines.append("(for telegram.admin_chat_id when this is the admin group)")
    if user_id is None:
        lines.append(
            "You are posting anonymously as the group, so your user id is hidden: turn off"
            " “Remain anonymous” in your admin rights, or send /id to the bot privately."
        )
    else:
        lines.append(f"Your user id: <code>{user_id}</code> (for telegram.admin_ids)")
    return "\n".join(lines)


CANCELLED = "Cancelled. Back to the main menu: /start"
NOTHING_TO_CANCEL = "There is nothing to cancel. Main menu: /start"
UNKNOWN_INPUT = (
    "Sorry, I didn't get that. Use the menu (/start) or see /help. If you were in the middle of a"
    " deposit or withdrawal, start it again with /deposit or /withdraw."
)
SLOW_DOWN = "Slow down a little, please — try again in a moment."
BANNED = "Your account is suspended. If you think this is a mistake, contact support."
BUTTON_EXPIRED = "This button is no longer valid. Open the menu again: /start"
GENERIC_ERROR = "Sorry, something went wrong on our side. Please try again in a minute."

# --- domain errors ----------------------------------------------------------------------------

# "code.reason" first, then "code"; {name} is a parameter of the error (money already formatted).
ERRORS: Mapping[str, str] = {
    "invalid_amount": "That amount doesn't look right. Send a number like 25 or 12.50.",
    "invalid_amount.empty": "Please send an amount, e.g. 25 or 12.50.",
    "invalid_amount.too_long": "That is too long for an amount. Send a number like 25 or 12.50.",
    "invalid_amount.not_a_number": "Send the amount as a number, e.g. 25 or 12.50.",
    "invalid_amount.negative": "The amount must be positive.",
    "invalid_amount.zero": "The amount must be more than zero.",
    "invalid_amount.too_many_decimals": "Use at most {places} decimals.",
    "invalid_amount.ambiguous": "Is the comma a decimal point? Write the amount without it.",
    "invalid_amount.too_large": "That amount is too large (at most {maximum}).",
    "invalid_amount.below_minimum": "The minimum is {minimum}.",
    "invalid_amount.above_maximum": "The maximum is {maximum}.",
    "invalid_amount.fees_exceed_amount": (
        "The fees ({total_fee}) would take the whole amount. Please withdraw more."
    ),
    "insufficient_funds": "Not enough balance: you have {balance}.",
    "not_found": "I couldn't find that. It may have been removed.",
    "forbidden": "You can't do that.",
    "forbidden.banned": BANNED,
    "forbidden.not_owner": "That isn't yours.",
    "forbidden.not_admin": "Only admins can do that.",
    "forbidden.own_withdrawal": "That is your own withdrawal: another admin has to decide it.",
    "invalid_address": "That address doesn't look right. Please check it and send it again.",
    "invalid_address.empty": "Please send the address.",
    "invalid_address.too_long": "That address is too long. Please check it.",
    "invalid_address.bad_checksum": "That address has a typo (its checksum is wrong).",
    "invalid_address.wrong_network": (
        "That address is for another network. Send an address on {network}."
    ),
    "invalid_address.testnet": "That is a testnet address. Send a mainnet address.",
    "invalid_address.burn_address": "That address can't receive funds. Send your own address.",
    "invalid_address.memo_required": "This currency needs a memo / destination tag.",
    "invalid_address.memo_invalid": "That memo / destination tag doesn't look right.",
    "invalid_address.bad_tx_hash": "That transaction hash doesn't look right.",
    "currency_unavailable": "{currency} is not available right now. Please pick another.",
    "limit_exceeded": "You have reached a limit. Please try again later.",
    "limit_exceeded.too_many_pending": (
        "You already have {open} open withdrawals (the limit is {limit}). "
        "Wait until one is processed."
    ),
    "limit_exceeded.daily_cap": (
        "That is over your daily withdrawal limit: {remaining} left today."
    ),
    "limit_exceeded.status_checks": (
        "You are checking very often. Please wait a minute and try again; you will also get a"
        " message here as soon as anything changes."
    ),
    "invalid_transition": "That can't be done any more: it has already changed.",
    "invalid_transition.reason_required": "Please give a reason.",
    "invalid_transition.not_under_review": "That deposit is not waiting for a decision.",
    "invalid_transition.nothing_to_credit": (
        "Nothing to credit: the provider has not settled this deposit yet, it was refunded or"
        " credited already, or the amount that arrived is unknown. Close the review, or use"
        " /adjust if money must move."
    ),
    "invalid_transition.text_too_long": "That is too long (at most {max_length} characters).",
    "provider_refused": "The payment provider refused this. Please try another amount or coin.",
    "provider_refused.below_minimum": (
        "The payment provider's minimum for {currency} has just gone up above this amount."
        " Please send a larger amount, or pick another coin."
    ),
    "provider_refused.currency_unavailable": (
        "The payment provider does not take {currency} right now. Please pick another coin."
    ),
    "provider_unavailable": "The payment provider is not reachable right now. Try again soon.",
}


def _param(value: Any) -> str:
    if isinstance(value, Decimal):
        return format_usd(value)
    return esc(value)


def error_text(code: str, reason: str, params: Mapping[str, Any]) -> str:
    """The friendly message for a domain error; a missing parameter falls back to the code's."""
    values = {k: _param(v) for k, v in params.items()}
    formatter = string.Formatter()
    for key in (f"{code}.{reason}", code):
        template = ERRORS.get(key)
        if template is None:
            continue
        try:
            return formatter.vformat(template, (), values)
        except (KeyError, IndexError, ValueError):
            continue
    return GENERIC_ERROR


# --- notifications (outbox kinds) -------------------------------------------------------------


def _usd(payload: Mapping[str, Any], key: str) -> str | None:
    raw = payload.get(key)
    if raw is None:
        return None
    try:
        return format_usd(to_decimal(raw))
    except InvalidAmount:
        return esc(raw)


def _text(payload: Mapping[str, Any], key: str) -> str | None:
    raw = payload.get(key)
    return None if raw is None or raw == "" else esc(raw)


DEPOSIT_STATUS: Mapping[str, str] = {
    "waiting": "⏳ Waiting for your payment",
    "confirming": "🔄 Payment seen, waiting for confirmations",
    "confirmed": "🔄 Payment confirmed by the network",
    "sending": "🔄 Payment confirmed, finishing up",
    "partially_paid": "⚠️ Partially paid",
    "finished": "✅ Deposit credited",
    "failed": "❌ Deposit failed",
    "refunded": "↩️ Deposit refunded",
    "expired": "⌛ Deposit expired (no payment received in time)",
    "cancelled": "❌ Deposit cancelled",
    "create_failed": "❌ The deposit could not be created",
}

WITHDRAWAL_STATUS: Mapping[str, str] = {
    "pending": "🕓 Withdrawal requested, waiting for approval",
    "approved": "👍 Withdrawal approved",
    "processing": "🔄 Withdrawal is being sent",
    "completed": "✅ Withdrawal sent",
    "rejected": "❌ Withdrawal rejected, the amount is back on your balance",
    "cancelled": "↩️ Withdrawal cancelled, the amount is back on your balance",
}


def _lines(*pairs: tuple[str, str | None]) -> list[str]:
    return [f"{label}: {value}" for label, value in pairs if value is not None]


_REVIEW_NEXT = " Nothing is lost: an admin will review it and you will be told here how it ends."
# Why a deposit ended as it did, where the status alone does not say.
DEPOSIT_NOTES: Mapping[str, str] = {
    "partial_hold": (
        "Less than the invoice arrived." + _REVIEW_NEXT + " Please don't send more to this"
        " address meanwhile."
    ),
    "partial_credit": (
        "Less than the invoice arrived; what arrived is credited. Please don't send the rest to"
        " this address: to top up more, start a new deposit with /deposit."
    ),
    "amount_unknown": "The provider did not say how much arrived." + _REVIEW_NEXT,
    "overpaid": (
        "We received more than the invoice asked for, so nothing is credited automatically."
        + _REVIEW_NEXT
    ),
    "finished_underpaid": (
        "We received less than the invoice asked for, so nothing is credited automatically."
        + _REVIEW_NEXT
    ),
    "finished_nothing_paid": (
        "The provider reports the deposit as done, but no amount arrived with it." + _REVIEW_NEXT
    ),
    "paid_after_final": "Your payment arrived after the deposit had ended." + _REVIEW_NEXT,
    "ended_with_payment": (
        "The deposit ended before it was paid in full, but some money arrived." + _REVIEW_NEXT
    ),
    "review_credit": "An admin reviewed it: what arrived is credited to your balance.",
    "review_close": (
        "An admin reviewed it: nothing is credited. If you think that is wrong, contact support"
        " with the deposit id."
    ),
}
# What happens next where a status has no reason of its own.
DEPOSIT_STATUS_NOTES: Mapping[str, str] = {
    "expired": (
        "Nothing was credited. Please don't pay to this address any more: to top up, start a new"
        " deposit with /deposit. If you paid late, the money is reviewed by an admin when it"
        " arrives and you will be told here."
    ),
    "failed": "Nothing was credited. To top up, start a new deposit with /deposit.",
}
_REVIEW_TITLES = {
    "review_credit": "✅ Deposit credited after review",
    "review_close": "Deposit reviewed",
    "overpaid": "🔎 Payment received: an admin is reviewing it",
    "finished_underpaid": "🔎 Payment received: an admin is reviewing it",
    "finished_nothing_paid": "🔎 Deposit under review",
    "paid_after_final": "🔎 Late payment received: an admin is reviewing it",
    "ended_with_payment": "🔎 Payment received: an admin is reviewing it",
}


def deposit_status(payload: Mapping[str, Any]) -> str:
    status = str(payload.get("status") or "")
    reason = str(payload.get("reason") or "")
    title = _REVIEW_TITLES.get(reason) or DEPOSIT_STATUS.get(
        status, f"Deposit status: {esc(status or 'unknown')}"
    )
    if (
        status == "finished"
        and payload.get("credited_usd") is None
        and reason not in _REVIEW_TITLES
    ):
        title = "🔎 Deposit under review"  # "finished" alone would read as credited
    coin = esc(coin_name(payload.get("currency")))
    pay = _text(payload, "pay_amount")
    paid = _text(payload, "actually_paid") if _nonzero(payload.get("actually_paid")) else None
    address = _text(payload, "pay_address") if status == "waiting" else None
    body = _lines(
        ("Deposit", _text(payload, "internal_id")),
        ("Amount", _usd(payload, "amount_usd")),
        ("Send exactly", f"<code>{pay}</code> {coin}" if pay and address else None),
        ("To address", f"<code>{address}</code>" if address else None),
        ("Memo / tag", _text(payload, "memo") if address else None),
        ("Paid", f"{paid} {coin}".strip() if paid and status != "waiting" else None),
        ("Credited", _usd(payload, "credited_usd")),
        ("Balance", _usd(payload, "balance_usd")),
    )
    note = DEPOSIT_NOTES.get(reason) or DEPOSIT_STATUS_NOTES.get(status)
    return "\n".join([f"<b>{title}</b>", "", *body, *([note] if note else [])]).strip()


def _nonzero(raw: object) -> bool:
    """Whether a paid amount is worth a line: a zero says nothing the title does not."""
    try:
        return to_decimal(raw) != 0
    except InvalidAmount:
        return raw is not None and raw != ""  # shown as the provider wrote it


# Ended without sending: the whole held amount is back, nothing is on its way.
_WITHDRAWAL_RETURNED = frozenset({"rejected", "cancelled"})


def withdrawal_status(payload: Mapping[str, Any]) -> str:
    status = str(payload.get("status") or "")
    title = WITHDRAWAL_STATUS.get(status, f"Withdrawal status: {esc(status or 'unknown')}")
    tx_hash = _text(payload, "tx_hash")
    returned = status in _WITHDRAWAL_RETURNED
    final = None if returned else _usd(payload, "final_amount_usd")
    body = _lines(
        ("Withdrawal", _text(payload, "internal_id")),
        ("Returned to your balance" if returned else "Amount", _usd(payload, "amount_usd")),
        ("Sent to you" if status == "completed" else "You receive", final),
        ("Coin", esc(coin_name(payload["currency"])) if payload.get("currency") else None),
        ("Transaction", f"<code>{tx_hash}</code>" if tx_hash else None),
        ("Reason", _text(payload, "reason") if status == "rejected" else None),
    )
    return "\n".join([f"<b>{title}</b>", "", *body]).strip()


def withdrawal_card(payload: Mapping[str, Any]) -> str:
    """A plain admin card; the admin handlers replace it with their own (and its keyboard)."""
    user = " ".join(
        part
        for part in (
            _text(payload, "first_name"),
            f"@{_text(payload, 'username')}" if payload.get("username") else None,
            f"(id {_text(payload, 'user_telegram_id')})",
        )
        if part
    )
    address = _text(payload, "address")
    body = _lines(
        ("Status", _text(payload, "status")),
        ("User", user),
        ("Amount", _usd(payload, "amount_usd")),
        ("Fees", _usd(payload, "total_fee_usd")),
        ("To send", _usd(payload, "final_amount_usd")),
        ("Currency", _text(payload, "currency")),
        ("Address", f"<code>{address}</code>" if address else None),
        ("Memo", _text(payload, "memo")),
        ("Tx hash", _text(payload, "tx_hash")),
        ("Reason", _text(payload, "reason")),
    )
    title = f"Withdrawal {_text(payload, 'internal_id') or ''}".strip()
    return "\n".join([f"<b>{title}</b>", "", *body])


def _facts(title: str, payload: Mapping[str, Any]) -> str:
    body = [f"{esc(key)}: {esc(value)}" for key, value in payload.items() if value is not None]
    return "\n".join([f"<b>{title}</b>", "", *body]).strip()


def deposit_review(payload: Mapping[str, Any]) -> str:
    return _facts("🔎 Deposit needs review", payload)


def deposit_alert(payload: Mapping[str, Any]) -> str:
    return _facts("⚠️ Deposit alert", payload)


def reconcile_alert(payload: Mapping[str, Any]) -> str:
    return _facts("🚨 Ledger reconciliation found mismatches", payload)


# --- the outbox's own alerts (core.outbox) ----------------------------------------------------

_UNDELIVERED_WHAT: Mapping[str, str] = {
    "withdrawal_card": "a withdrawal card",
    "withdrawal_status": "a withdrawal status message to the user",
    "deposit_status": "a deposit status message to the user",
    "deposit_review": "a deposit review",
    "deposit_alert": "a deposit alert",
    "reconcile_alert": "a ledger reconciliation alert",
}


def _moment(raw: object) -> str | None:
    try:
        return when(datetime.fromisoformat(str(raw)))
    except ValueError:
        return None


def _via_private(payload: Mapping[str, Any]) -> list[str]:
    """The note on an alert re-sent privately because the admin chat refused it."""
    if not payload.get("fallback"):
        return []
    error = _clip(str(payload.get("admin_chat_error") or "unknown"), 300)
    return ["", f"Sent to you privately: the admin chat refused it ({esc(error)})."]


def outbox_undelivered(payload: Mapping[str, Any]) -> str:
    kind = str(payload.get("kind") or "")
    what = _UNDELIVERED_WHAT.get(kind, f"a message ({esc(kind or 'unknown')})")
    chat = payload.get("chat_id")
    to = "the admin chat" if payload.get("to_admin_chat") else f"chat {esc(chat)}"
    reference = _text(payload, "internal_id")
    withdrawal = reference if kind.startswith("withdrawal") else None
    deposit = reference if kind.startswith("deposit") else None
    body = _lines(
        ("What", what),
        ("To", to),
        ("Withdrawal", f"<code>{withdrawal}</code>" if withdrawal else None),
        ("Deposit", f"<code>{deposit}</code>" if deposit else None),
        ("Status then", _text(payload, "status")),
        ("Amount", _usd(payload, "amount_usd")),
        ("Queued", _moment(payload.get("created_at"))),
        ("Why", esc(_clip(str(payload.get("error") or "unknown"), 300))),
    )
    if withdrawal and kind == "withdrawal_card":
        action = (
            "Decide it with /pending in the admin chat once the bot can post there again."
            if payload.get("fallback")
            else "Decide it with the buttons below, or find it with /pending."
        )
    elif withdrawal or deposit:
        action = "The user was not told: reach them another way if it matters."
    else:
        action = "Nothing was sent; the row stays in the outbox as failed."
    return "\n".join(
        [
            "🚨 <b>A message could not be delivered</b>",
            "",
            *body,
            "",
            action,
            *_via_private(payload),
        ]
    )


def outbox_backlog(payload: Mapping[str, Any]) -> str:
    depth, oldest = payload.get("depth"), payload.get("oldest_minutes")
    threshold = payload.get("threshold_minutes")
    lines = [
        "⚠️ <b>Messages are piling up</b>",
        "",
        f"Queued: {esc(depth)}, the oldest for {esc(oldest)} min (alert above {esc(threshold)}"
        " min).",
        "Telegram may be unreachable or refusing the bot; /stats shows the queue.",
        "This alert is sent once until the queue has cleared.",
    ]
    return "\n".join([*lines, *_via_private(payload)])


# --- deposit & withdraw flows (bot/handlers/deposit.py, withdraw.py, my_items.py) -------------

BTN_CHECK_STATUS = "🔄 Check status"
BTN_CONFIRM = "✅ Confirm"
BTN_CANCEL = "✖️ Cancel"
BTN_PAGE_PREVIOUS = "◀ Back"
BTN_PAGE_NEXT = "More ▶"


# Button labels are plain text (not parsed as HTML).
def btn_usd(amount: Decimal) -> str:
    return format_usd(amount)


def btn_check_deposit(internal_id: str) -> str:
    return f"🔄 Check {internal_id}"


def btn_cancel_withdrawal(internal_id: str) -> str:
    return f"✖️ Cancel {internal_id}"


CAPTION_LIMIT = 1024
_TAG = re.compile(r"<[^>]*>")


def visible_length(html_text: str) -> int:
    """What Telegram counts against its length limits: the text without tags, entities decoded,
    trimmed, in UTF-16 code units."""
    shown = unescape(_TAG.sub("", html_text)).strip()
    return len(shown.encode("utf-16-le")) // 2


def fits_caption(html_text: str) -> bool:
    return visible_length(html_text) <= CAPTION_LIMIT


NO_CURRENCIES = "No coins are available right now. Please try again later."
SEND_AS_TEXT = "Please send that as a text message — or /cancel to stop."


def _usd_range(minimum: Decimal, maximum: Decimal) -> str:
    return f"from {format_usd(minimum)} to {format_usd(maximum)}"


# What is wrong with a typed amount, where ERRORS also says what to send: a refusal in a flow
# names the problem once and the instruction once.
_AMOUNT_PROBLEMS: Mapping[str, str] = {
    "invalid_amount": "That amount doesn't look right.",
    "invalid_amount.empty": "There is no amount in that.",
    "invalid_amount.not_a_number": "That is not a number I can read.",
    "invalid_amount.too_long": "That is too long for an amount.",
}


def _amount_problem(exc: PaybotError) -> str:
    problem = _AMOUNT_PROBLEMS.get(f"{exc.code}.{exc.reason}")
    return problem or error_text(exc.code, exc.reason, exc.params)


# Deposits

DEPOSIT_PICK_CURRENCY = "<b>Deposit</b>\n\nWhich coin will you pay with?"
DEPOSIT_USE_BUTTONS = "Pick a coin with the buttons above — or /cancel to stop."
# Callback answers (plain text, at most 200 characters).
DEPOSIT_STEP_EXPIRED = "This button is no longer valid. Start a new deposit: /deposit"
DEPOSIT_MEMO_WARNING = (
    "⚠️ <b>Put the memo / tag in your transfer.</b> Without it the deposit cannot be matched to"
    " your account and is lost."
)


def deposit_ask_amount(code: str, minimum: Decimal, maximum: Decimal) -> str:
    return (
        f"<b>Deposit with {esc(coin_name(code))}</b>\n\n"
        f"How much do you want to deposit, in USD ({_usd_range(minimum, maximum)})?\n"
        "Tap an amount or send your own, e.g. 25 or 12.50."
    )


def deposit_amount_refused(exc: InvalidAmount, minimum: Decimal, maximum: Decimal) -> str:
    """The range said once: a coin's own minimum (from core) replaces the general one."""
    problem = _amount_problem(exc)
    coin_minimum = exc.params.get("minimum")
    if exc.reason == "below_minimum" and isinstance(coin_minimum, Decimal):
        coin = exc.params.get("currency")
        problem = f"That is below the minimum{f' for {esc(coin_name(coin))}' if coin else ''}."
        minimum = max(minimum, coin_minimum)
    elif exc.reason == "above_maximum":
        problem = "That is above the maximum."
    return (
        f"{problem}\nSend an amount in USD {_usd_range(minimum, maximum)}, e.g. 25 or 12.50"
        " — or /cancel."
    )


def deposit_try_again(exc: PaybotError) -> str:
    if exc.code == "provider_unavailable":
        return (
            "The payment provider is not reachable right now. Send the amount again in a minute"
            " — or /cancel."
        )
    return f"{error_text(exc.code, exc.reason, exc.params)}\nOr /cancel to stop."


def deposit_create_pending(internal_id: object) -> str:
    ref = f" {esc(internal_id)}" if internal_id else ""
    return (
        f"⏳ The payment provider did not confirm your deposit{ref} in time. I'm checking with it"
        " and will send you the address here as soon as it is ready.\n\n"
        "Please don't send any money before you have it."
    )


def deposit_invoice(view: PaymentView) -> str:
    coin = esc(coin_name(view.currency))
    amount = plain(view.pay_amount) if view.pay_amount is not None else "?"
    lines = [
        f"<b>Deposit {esc(view.internal_id)}</b>",
        "",
        f"Amount: <b>{format_usd(view.amount_usd)}</b>",
        f"Send exactly: <code>{esc(amount)}</code> {coin}",
        f"To address: <code>{esc(view.pay_address or '?')}</code>",
    ]
    if view.memo:
        lines += [f"Memo / tag: <code>{esc(view.memo)}</code>", "", DEPOSIT_MEMO_WARNING]
    if view.expires_at is not None:
        lines += ["", f"Pay before: {when(view.expires_at)}"]
    lines += [
        "",
        f"Send only {coin} to this address, in one transfer. Tap a value to copy it, or scan the"
        " QR code. I'll message you here when the payment arrives, or tap “Check status” to ask"
        " now.",
    ]
    return "\n".join(lines)


DEPOSIT_STATUS_SHORT: Mapping[str, str] = {
    "creating": "⏳ being set up",
    "waiting": "⏳ waiting for your payment",
    "confirming": "🔄 payment seen, waiting for confirmations",
    "confirmed": "🔄 payment confirmed by the network",
    "sending": "🔄 payment confirmed, finishing up",
    "partially_paid": "⚠️ partially paid",
    "finished": "✅ credited",
    "failed": "❌ failed",
    "refunded": "↩️ refunded",
    "expired": "⌛ expired, no payment received",
    "cancelled": "❌ cancelled",
    "create_failed": "❌ could not be created",
}


def _deposit_state(view: PaymentView) -> str:
    """Plain text: escape it before putting it into HTML."""
    label = DEPOSIT_STATUS_SHORT.get(view.status, view.status)
    credited = view.credited_usd
    if view.status == "partially_paid":
        coin = coin_name(view.currency)
        paid = f"{plain(view.actually_paid)} {coin}" if view.actually_paid else "?"
        if credited is None:
            return f"{label}: {paid} arrived, an admin is reviewing it"
        return f"{label}: {paid} arrived, {format_usd(credited)} credited"
    if credited is not None and credited > 0:
        return f"{label}: {format_usd(credited)}"
    if view.needs_review:
        return "payment received, an admin is reviewing it"
    return label


def deposit_check_answer(view: PaymentView) -> str:
    return f"Deposit {view.internal_id}: {_deposit_state(view)}"[:200]


DEPOSITS_EMPTY = "No deposits yet. Use /deposit to top up."


def deposits_list(views: Sequence[PaymentView]) -> str:
    lines = ["<b>Your deposits</b> (newest first)"]
    for view in views:
        lines += [
            "",
            f"<b>{format_usd(view.amount_usd)}</b> in {esc(coin_name(view.currency))}"
            f" · {esc(_deposit_state(view))}",
            f"{esc(view.internal_id)} · {when(view.created_at)}",
        ]
        if view.status == "waiting" and view.pay_address and view.pay_amount is not None:
            # Where to pay, again: the invoice message may be gone.
            lines.append(
                f"Send <code>{esc(plain(view.pay_amount))}</code> {esc(coin_name(view.currency))}"
                f" to <code>{esc(view.pay_address)}</code>"
                + (f", memo <code>{esc(view.memo)}</code>" if view.memo else "")
                + (f", before {when(view.expires_at)}" if view.expires_at else "")
            )
    return _bounded(lines)


# Withdrawals

WITHDRAW_USE_BUTTONS = "Please use the buttons above — or /cancel to stop."
# Callback answers (plain text, at most 200 characters).
WITHDRAW_STEP_EXPIRED = "This button belongs to an earlier step. Start again: /withdraw"
WITHDRAW_CONFIRM_EXPIRED = (
    "This confirmation is no longer valid (cancelled, already used or replaced by a newer one)."
    " Start again: /withdraw"
)
WITHDRAW_ABORTED = "Withdrawal cancelled. Nothing was taken from your balance."

# Address families as core.addresses names them (looks_like), and network codes.
NETWORK_NAMES: Mapping[str, str] = {
    "btc": "Bitcoin",
    "eth": "Ethereum",
    "trx": "Tron",
    "ltc": "Litecoin",
    "xrp": "XRP Ledger",
    "bsc": "BNB Smart Chain",
    "matic": "Polygon",
    "arbitrum": "Arbitrum",
    "op": "Optimism",
    "base": "Base",
    "sol": "Solana",
    "ton": "TON",
}
_FAMILY_NAMES: Mapping[str, str] = {**NETWORK_NAMES, "eth": "Ethereum or another EVM chain"}


def network_name(code: object, *, family: bool = False) -> str:
    name = (_FAMILY_NAMES if family else NETWORK_NAMES).get(str(code).strip().lower())
    return esc(name or str(code).upper())


def withdraw_ask_amount(balance: Decimal) -> str:
    return (
        "<b>Withdraw</b>\n\n"
        f"Your balance: <b>{format_usd(balance)}</b>\n"
        "How much do you want to withdraw, in USD? Send a number like 25 or 12.50. "
        "You see the fees before you confirm."
    )


def withdraw_amount_refused(exc: PaybotError) -> str:
    return f"{_amount_problem(exc)}\nSend the amount in USD, e.g. 25 or 12.50 — or /cancel."


def withdraw_kept(code: object, address: object) -> str:
    """Under the amount question when an earlier answer stands (a refused amount is asked
    again): the steps it skips are named, and how to change them."""
    if not code:
        return ""
    kept = f"coin <b>{esc(coin_name(code))}</b>"
    if address:
        kept += f", address <code>{esc(address)}</code>"
    them = "them" if address else "it"
    return f"\n\nKept from before: {kept}. To change {them}, start again with /withdraw."


def withdraw_coin_refused_amount(exc: PaybotError) -> str:
    """A coin's quote refused the amount: its own limit, named with the coin."""
    coin = exc.params.get("currency")
    if exc.reason == "below_minimum" and coin:
        minimum = _param(exc.params.get("minimum"))
        return f"The minimum for {esc(coin_name(coin))} is {minimum}."
    return error_text(exc.code, exc.reason, exc.params)


def withdraw_pick_currency(amount: Decimal) -> str:
    return f"<b>Withdraw {format_usd(amount)}</b>\n\nWhich coin do you want to receive?"


def withdraw_ask_address(code: str) -> str:
    return (
        f"Send your <b>{esc(coin_name(code))}</b> address.\n"
        "Check it twice: a transfer to a wrong address cannot be undone."
    )


def withdraw_ask_memo(code: str) -> str:
    return (
        f"{esc(coin_name(code))} needs a <b>memo / destination tag</b>. Send the one your wallet"
        " or exchange gave you for this address."
    )


_MEMO_REASONS = frozenset({"memo_required", "memo_invalid"})


# (what is wrong, what to send) where ERRORS says both in one text.
_ADDRESS_PROBLEMS: Mapping[str, tuple[str, str]] = {
    "empty": ("There is no address in that.", "Send the address"),
    "testnet": ("That is a testnet address.", "Send a mainnet address"),
    "burn_address": ("That address can't receive funds.", "Send your own address"),
}


def withdraw_address_refused(exc: InvalidAddress) -> str:
    """Which network an address belongs to is named; the user is asked for that field again,
    once."""
    field = "memo / tag" if exc.reason in _MEMO_REASONS else "address"
    problem, ask = _ADDRESS_PROBLEMS.get(exc.reason, ("", f"Send the {field} again"))
    if exc.reason == "wrong_network":
        expected = network_name(exc.params.get("expected") or exc.params.get("network", ""))
        looks_like = network_name(exc.params.get("looks_like", ""), family=True)
        problem = f"That is an address on {looks_like}, but this withdrawal is sent on {expected}."
        ask = f"Send an address on {expected}"
    return f"{problem or error_text(exc.code, exc.reason, exc.params)}\n{ask} — or /cancel."


def withdraw_confirm(quote: FeeQuote, code: str, address: str, memo: str | None = None) -> str:
    lines = [
        "<b>Please confirm your withdrawal</b>",
        "",
        f"Amount: {format_usd(quote.amount)}",
        f"Network fee: {format_usd(quote.network_fee)}",
        f"Service fee: {format_usd(quote.service_fee)}",
        f"You receive: <b>{format_usd(quote.final_amount)}</b> in {esc(coin_name(code))}",
        f"To address: <code>{esc(address)}</code>",
    ]
    if memo:
        lines.append(f"Memo / tag: <code>{esc(memo)}</code>")
    lines += [
        "",
        f"{format_usd(quote.amount)} is taken from your balance when you confirm and held until"
        " an admin sends it. Check the address: a transfer to a wrong address cannot be undone.",
    ]
    return "\n".join(lines)


def withdraw_requested(view: WithdrawalView) -> str:
    return (
        f"<b>✅ Withdrawal requested</b> · {esc(view.internal_id)}\n\n"
        f"{format_usd(view.amount)} is held from your balance. You receive"
        f" {format_usd(view.final_amount)} in {esc(coin_name(view.currency_code))} at"
        f" <code>{esc(view.wallet_address)}</code> once an admin approves and sends it."
        " I'll message you here at every step.\n\n"
        "While it is pending you can cancel it: /withdrawals"
    )


WITHDRAWAL_STATUS_SHORT: Mapping[str, str] = {
    "pending": "🕓 waiting for approval",
    "approved": "👍 approved",
    "processing": "🔄 being sent",
    "completed": "✅ sent",
    "rejected": "❌ rejected, back on your balance",
    "cancelled": "↩️ cancelled, back on your balance",
}
WITHDRAWALS_EMPTY = "No withdrawals yet. Use /withdraw to send funds to your wallet."


def withdrawals_list(views: Sequence[WithdrawalView]) -> str:
    lines = ["<b>Your withdrawals</b> (newest first)"]
    for view in views:
        status = WITHDRAWAL_STATUS_SHORT.get(view.status, view.status)
        # A rejected or cancelled one sends nothing: no "→ what you receive".
        sent = "" if view.status in _WITHDRAWAL_RETURNED else f" → {format_usd(view.final_amount)}"
        lines += [
            "",
            f"<b>{format_usd(view.amount)}</b>{sent} in {esc(coin_name(view.currency_code))}"
            f" · {esc(status)}",
            f"{esc(view.internal_id)} · {when(view.created_at)}",
            f"To: <code>{esc(view.wallet_address)}</code>",
        ]
        if view.status == "rejected" and view.reject_reason:
            lines.append(f"Reason: {esc(_clip(view.reject_reason, 300))}")
        if view.transaction_hash:
            lines.append(f"Transaction: <code>{esc(view.transaction_hash)}</code>")
    return _bounded(lines)  # ten entries with long reasons would pass Telegram's 4,096


def withdrawal_cancelled(view: WithdrawalView) -> str:
    """A callback answer (plain text)."""
    return (
        f"Withdrawal {view.internal_id} cancelled: {format_usd(view.amount)} is back on your"
        " balance."
    )[:200]


# --- admin ------------------------------------------------------------------------------------
# The admin chat (bot/handlers/admin): withdrawal cards, reply prompts, commands, alerts.
# Callback answers (alerts, toasts) are plain text, never HTML: names go there unescaped.


ADMIN_ONLY = "Sorry, only admins can do that."
ADMIN_HELP = (
    "<b>Admin commands</b> (this chat only)\n\n"
    "/pending — withdrawals awaiting action (pending, approved, processing)\n"
    "/payments [status|review] — recent deposits, optionally by status; <i>review</i> lists"
    " the ones waiting for a decision, with Credit / Close buttons\n"
    "/user &lt;telegram id | @username&gt; — balance, totals, last transactions\n"
    "/stats — totals by status, balances, ledger check\n"
    "/currencies — deposit coins: switch on or off, sync from the provider\n"
    "/adjust &lt;user&gt; &lt;±amount&gt; &lt;reason&gt; — correct a balance (asks to confirm)\n"
    "/bonus &lt;user&gt; &lt;amount&gt; &lt;reason&gt; — credit a bonus (asks to confirm)\n\n"
    "Withdrawal cards: press Approve or Reject; after approval Processing or Mark completed. "
    "Reject and Mark completed ask for the reason or the transaction hash: answer by replying "
    "to that message.\n\n"
    "Deposits that need a decision (a partial payment on hold, a provider reply that disagrees):"
    " Credit posts what arrived, once; Close ends the review without moving money (use /adjust"
    " for anything else)."
)

BTN_WD_APPROVE = "✅ Approve"
BTN_WD_REJECT = "❌ Reject"
BTN_WD_PROCESS = "🔄 Processing"
BTN_WD_COMPLETE = "🏁 Mark completed"
BTN_ADJUST_CONFIRM = "✅ Confirm"
BTN_ADJUST_CANCEL = "✖️ Cancel"
BTN_CURRENCY_SYNC = "🔄 Sync from provider"
PROMPT_REASON_PLACEHOLDER = "Reason for the user"
PROMPT_HASH_PLACEHOLDER = "Transaction hash"


def btn_currency(code: str, active: bool) -> str:
    return f"⛔ {code}" if active else f"✅ {code}"


ADMIN_WD_STATUS: Mapping[str, str] = {
    "pending": "🕓 Pending",
    "approved": "👍 Approved",
    "processing": "🔄 Processing",
    "completed": "✅ Completed",
    "rejected": "❌ Rejected",
    "cancelled": "↩️ Cancelled by the user",
}
ADMIN_WD_ICON: Mapping[str, str] = {
    "approved": "👍",
    "processing": "🔄",
    "completed": "✅",
    "rejected": "❌",
    "cancelled": "↩️",
}
ADMIN_WD_STEP: Mapping[str, str] = {
    "approved": "approved",
    "processing": "marked processing",
    "completed": "completed",
    "rejected": "rejected",
    "cancelled": "cancelled",
}


def who(person: Person | UserRef) -> str:
    """HTML: 'Alice @alice (id 123)'."""
    parts = [esc(person.first_name) if person.first_name else None]
    parts.append(f"@{esc(person.username)}" if person.username else None)
    parts.append(f"(id <code>{person.telegram_id}</code>)")
    return " ".join(p for p in parts if p)


def plain_name(telegram_id: int, names: Mapping[int, Person]) -> str:
    """Plain text: '@bob', 'Bob (id 7)' or 'id 7'."""
    person = names.get(telegram_id)
    if person is not None and person.username:
        return f"@{person.username}"
    if person is not None and person.first_name:
        return f"{person.first_name} (id {telegram_id})"
    return f"id {telegram_id}"


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _decision_by(decision: Decision, names: Mapping[int, Person]) -> str:
    if decision.status.value == "cancelled" or decision.by is None:
        return "by the user"
    return f"by {esc(plain_name(decision.by, names))}"


def admin_withdrawal_card(card: WithdrawalCard, names: Mapping[int, Person]) -> str:
    w = card.withdrawal
    status = ADMIN_WD_STATUS.get(w.status.value, esc(w.status.value))
    lines = [
        f"<b>💸 Withdrawal {esc(w.internal_id)}</b> · #{w.id}",
        f"Status: <b>{status}</b>",
        "",
        f"User: {who(w.user)}",
        f"Amount: <b>{format_usd(w.amount)}</b>",
        f"Fees: {format_usd(w.total_fee)} (network {format_usd(w.network_fee)},"
        f" service {format_usd(w.service_fee)})",
        f"To send: <b>{format_usd(w.final_amount)}</b> in {esc(card.currency_name)}",
        f"Currency: {esc(w.currency_code)} · network {esc(card.network)}",
        f"Address: <code>{esc(w.wallet_address)}</code>",
    ]
    if w.memo:
        lines.append(f"Memo / tag: <code>{esc(w.memo)}</code>")
    if w.transaction_hash:
        lines.append(f"Tx hash: <code>{esc(w.transaction_hash)}</code>")
    if w.reject_reason:
        lines.append(f"Reason: {esc(_clip(w.reject_reason, 300))}")
    if w.admin_notes:
        lines.append(f"Notes: {esc(_clip(w.admin_notes, 300))}")
    b = card.balance
    lines += [
        "",
        f"Balance now: <b>{format_usd(b.balance)}</b> (deposited {format_usd(b.total_deposited)},"
        f" withdrawn {format_usd(b.total_withdrawn)})",
    ]
    if card.recent:
        lines.append("Recent activity:")
        lines += [
            f"· {when(e.created_at)} {TX_TYPES.get(e.type, esc(e.type))}"
            f" {format_usd(e.amount, signed=True)} → {format_usd(e.balance_after)}"
            for e in card.recent
        ]
    lines += ["", f"🕓 {when(w.created_at)} requested"]
    lines += [
        f"{ADMIN_WD_ICON.get(d.status.value, '•')} {when(d.at)}"
        f" {ADMIN_WD_STEP.get(d.status.value, esc(d.status.value))} {_decision_by(d, names)}"
        for d in w.decisions()
    ]
    return "\n".join(lines)


def admin_already_handled(params: Mapping[str, Any], names: Mapping[int, Person]) -> str:
    """Plain text (a callback alert, at most 200 characters)."""
    status = str(params.get("status") or "")
    by, at = params.get("decided_by"), params.get("decided_at")
    if status == "pending" or (by is None and status != "cancelled"):
        return _clip(f"Not possible now: the withdrawal is {status or 'changed'}.", 200)
    text = f"Already handled: {ADMIN_WD_STEP.get(status, status)}"
    if status == "cancelled":
        text += " by the user"
    elif isinstance(by, int):
        text += f" by {plain_name(by, names)}"
    if isinstance(at, datetime):
        text += f" at {when(at)}"
    return _clip(text + ".", 200)


def btn_review_credit(amount: Decimal, internal_id: str | None = None) -> str:
    return f"✅ Credit {format_usd(amount)}" + (f" · {internal_id}" if internal_id else "")


def btn_review_close(internal_id: str | None = None) -> str:
    return "✖ Close review" + (f" · {internal_id}" if internal_id else "")


REVIEW_TOAST = {
    "credit": "Credited. The user is told.",
    "close": "Review closed.",
}


def admin_review_decided(
    internal_id: str, credited: Decimal | None, admin_id: int, names: Mapping[int, Person]
) -> str:
    """The line added under a deposit notice once an admin has decided it."""
    what = f"credited {format_usd(credited)}" if credited is not None else "review closed"
    stamp = when(datetime.now(UTC))
    return f"✔️ {esc(internal_id)}: {what} by {esc(plain_name(admin_id, names))} at {stamp}"


def admin_review_already(params: Mapping[str, Any], names: Mapping[int, Person]) -> str:
    """Plain text (a callback alert, at most 200 characters)."""
    by, at = params.get("decided_by"), params.get("decided_at")
    text = "Already decided"
    if isinstance(by, int):
        text += f" by {plain_name(by, names)}"
    if isinstance(at, datetime):
        text += f" at {when(at)}"
    return _clip(text + ".", 200)


ADMIN_WD_TOAST: Mapping[str, str] = {
    "approve": "Approved. The user is told; the card updates.",
    "process": "Marked as processing. The user is told.",
    "prompt": "Reply to my message below.",
}
ADMIN_REPLY_NEEDS_TEXT = "Please answer with text, as a reply to my question."
# The last line of a prompt names what the reply is for; the handler reads it back.
PROMPT_REF = "ref: {action} {withdrawal_id}"
PROMPT_REF_FROM = " from {status}"


def prompt_ref(action: str, withdrawal_id: int, status: str | None = None) -> str:
    ref = PROMPT_REF.format(action=action, withdrawal_id=withdrawal_id)
    return ref + (PROMPT_REF_FROM.format(status=status) if status else "")


def _mention(telegram_id: int, name: str) -> str:
    return f'<a href="tg://user?id={telegram_id}">{esc(name)}</a>'


def admin_reject_prompt(view: WithdrawalView, admin_id: int, admin_name: str) -> str:
    return (
        f"{_mention(admin_id, admin_name)}, why is withdrawal <code>{esc(view.internal_id)}</code>"
        f" ({format_usd(view.amount)}, {who(view.user)}, now {view.status.value}) rejected?\n"
        "Reply to this message with the reason: the user sees it, and the amount goes back to"
        " their balance.\n\n"
        f"{prompt_ref('reject', view.id, view.status.value)}"
    )


def admin_complete_prompt(view: WithdrawalView, admin_id: int, admin_name: str) -> str:
    return (
        f"{_mention(admin_id, admin_name)}, reply to this message with the transaction hash of"
        f" withdrawal <code>{esc(view.internal_id)}</code>: {format_usd(view.final_amount)} in"
        f" {esc(view.currency_code)} to <code>{esc(view.wallet_address)}</code>.\n\n"
        f"{prompt_ref('complete', view.id)}"
    )


def admin_rejected(view: WithdrawalView) -> str:
    return (
        f"❌ Withdrawal <code>{esc(view.internal_id)}</code> rejected;"
        f" {format_usd(view.amount)} is back on the user's balance. The user is told."
    )


def admin_completed(view: WithdrawalView) -> str:
    return (
        f"✅ Withdrawal <code>{esc(view.internal_id)}</code> completed"
        f" (tx <code>{esc(view.transaction_hash or '')}</code>). The user is told."
    )


MAX_MESSAGE_LENGTH = 4096  # Telegram's limit for a message text


def _bounded(lines: Sequence[str], limit: int = 3500) -> str:
    """Lines joined up to about ``limit`` characters; the rest counted."""
    kept: list[str] = []
    size = 0
    for n, line in enumerate(lines):
        if size + len(line) > limit:
            kept.append(f"… and {len(lines) - n} more")
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def admin_pending(views: Sequence[WithdrawalView]) -> str:
    if not views:
        return "No withdrawals awaiting action. 🎉"
    lines = [f"<b>Withdrawals awaiting action</b> ({len(views)}, oldest first)", ""]
    lines += [
        f"{ADMIN_WD_STATUS.get(v.status.value, esc(v.status.value))} ·"
        f" <code>{esc(v.internal_id)}</code> · {format_usd(v.amount)} → {esc(v.currency_code)}"
        f" · {who(v.user)} · {when(v.created_at)}"
        for v in views
    ]
    return _bounded(lines)


def admin_payments(views: Sequence[PaymentView], status: str | None) -> str:
    title = f"<b>Recent deposits</b> ({esc(status)})" if status else "<b>Recent deposits</b>"
    if not views:
        return f"{title}\n\nNone."
    lines = [title, ""]
    for p in views:
        credited = f", credited {format_usd(p.credited_usd)}" if p.credited_usd else ""
        review = " · ⚠️ review" if p.needs_review else ""
        lines.append(
            f"<code>{esc(p.internal_id)}</code> · {format_usd(p.amount_usd)} in {esc(p.currency)}"
            f" · {esc(p.status)}{credited}{review} · user <code>{p.user_telegram_id}</code>"
            f" · {when(p.created_at)}"
        )
    return _bounded(lines)


def admin_unknown_payment_filter(status: str, filters: Sequence[str]) -> str:
    return f"Unknown status “{esc(status)}”. Use one of: {esc(', '.join(filters))}."


USER_USAGE = "Usage: /user &lt;telegram id or @username&gt;"
USER_NOT_FOUND = "No user with that Telegram id or username."


def _status_totals(totals: Mapping[str, StatusTotal]) -> str:
    if not totals:
        return "none"
    return ", ".join(
        f"{esc(status)} {t.count} ({format_usd(t.amount)})" for status, t in totals.items()
    )


def admin_user_summary(summary: UserSummary) -> str:
    u, b = summary.user, summary.balance
    flags = [name for on, name in ((u.is_banned, "banned"), (u.blocked_bot, "blocked us")) if on]
    lines = [
        f"<b>User</b> {who(u.person)}" + (f" · {', '.join(flags)}" if flags else ""),
        f"Registered {when(u.created_at)} · internal id {u.id}",
        "",
        f"Balance: <b>{format_usd(b.balance)}</b>",
        f"Total deposited: {format_usd(b.total_deposited)}",
        f"Total withdrawn: {format_usd(b.total_withdrawn)}",
        f"Transactions: {summary.transactions}",
        f"Deposits: {_status_totals(summary.deposit_totals)}",
        f"Withdrawals: {_status_totals(summary.withdrawal_totals)}",
    ]
    if summary.recent:
        lines += ["", "<b>Last transactions</b>"]
        lines += [
            f"{when(e.created_at)} · {TX_TYPES.get(e.type, esc(e.type))}"
            f" {format_usd(e.amount, signed=True)} → {format_usd(e.balance_after)}"
            for e in summary.recent
        ]
    if summary.withdrawals:
        lines += ["", "<b>Withdrawals</b>"]
        lines += [
            f"<code>{esc(w.internal_id)}</code> · {format_usd(w.amount)} → {esc(w.currency_code)}"
            f" · {ADMIN_WD_STATUS.get(w.status.value, esc(w.status.value))}"
            f" · {when(w.created_at)}"
            for w in summary.withdrawals
        ]
    if summary.deposits:
        lines += ["", "<b>Deposits</b>"]
        lines += [
            f"<code>{esc(p.internal_id)}</code> · {format_usd(p.amount_usd)} in {esc(p.currency)}"
            f" · {esc(p.status)} · {when(p.created_at)}"
            for p in summary.deposits
        ]
    return _bounded(lines)


def admin_stats(stats: Stats) -> str:
    lines = [
        f"<b>Stats</b> · {when(stats.at)}",
        "",
        f"Users: {stats.users}",
        f"Balances held by users: <b>{format_usd(stats.balances)}</b>",
        f"In open withdrawals: {format_usd(stats.held)}",
        f"Deposited: {format_usd(stats.deposited)} · credited for deposits:"
        f" {format_usd(stats.credited)}",
        f"Withdrawn: {format_usd(stats.withdrawn)}",
        "",
        "<b>Deposits by status</b>",
        *(f"{esc(s)}: {t.count} · {format_usd(t.amount)}" for s, t in stats.payments.items()),
        *(["none"] if not stats.payments else []),
        "",
        "<b>Withdrawals by status</b>",
        *(f"{esc(s)}: {t.count} · {format_usd(t.amount)}" for s, t in stats.withdrawals.items()),
        *(["none"] if not stats.withdrawals else []),
        "",
    ]
    lines += [admin_stats_outbox(stats), ""]
    if stats.mismatches:
        lines.append(f"🚨 <b>Ledger check: {len(stats.mismatches)} mismatches</b>")
        lines += [
            f"user {m.user_id}: {esc(m.kind)} expected {m.expected} found {m.actual}"
            for m in stats.mismatches[:10]
        ]
    else:
        lines.append("✅ Ledger check: every balance matches the ledger.")
    return _bounded(lines)


def admin_stats_outbox(stats: Stats) -> str:
    queue = stats.outbox
    line = f"<b>Outbox</b>: {queue.depth} queued"
    if queue.oldest_age is not None:
        line += f", the oldest for {_duration(queue.oldest_age.total_seconds())}"
    line += f" · {queue.failed_recently} undelivered in the last day"
    return ("⚠️ " if queue.failed_recently else "") + line


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def admin_currencies(coins: Sequence[Currency], page: int, per_page: int) -> str:
    """One page of the list (the buttons under it switch the same coins)."""
    if not coins:
        return "No currencies yet. Press Sync to load them from the provider."
    pages = -(-len(coins) // per_page)
    where = f", page {page + 1} of {pages}" if pages > 1 else ""
    lines = [
        f"<b>Currencies</b> ({len(coins)}{where}; a button switches a coin off ⛔ or on ✅)",
        "",
    ]
    for c in coins[page * per_page : (page + 1) * per_page]:
        if c.is_active and not c.disabled_by_admin:
            state = "✅ on"
        elif c.disabled_by_admin:
            state = "⛔ off (switched off by an admin)"
        else:
            state = "⛔ off (not offered by the provider)"
        minimum = f" · min {format_usd(c.min_amount_usd)}" if c.min_amount_usd is not None else ""
        lines.append(f"<code>{esc(c.code)}</code> {esc(c.display_name)} · {state}{minimum}")
    return _bounded(lines)


def admin_currency_toast(code: str, active: bool) -> str:
    return f"{code} is now {'on' if active else 'off'}."


CURRENCY_SYNC_STARTED = "Syncing with the provider…"


def admin_sync_result(result: SyncResult) -> str:
    error = esc(_clip(result.error or "unknown error", 300))
    if result.source == "none":
        return f"⚠️ Sync failed, nothing changed: {error}"
    seeded = " (the provider was unreachable: built-in list used)"
    lines = [
        "🔄 <b>Currencies synced</b>" + (seeded if result.source == "seed" else ""),
        f"Active now: {result.active}",
    ]
    for label, codes in (
        ("Added", result.added),
        ("Back on", result.reactivated),
        ("Switched off (no longer offered)", result.deactivated),
    ):
        if codes:
            lines.append(f"{label}: {esc(', '.join(codes))}")
    return "\n".join(lines)


ADJUST_USAGE = (
    "Usage: /adjust &lt;telegram id | @username&gt; &lt;±amount&gt; &lt;reason&gt;\n"
    "e.g. <code>/adjust @alice -5.00 duplicate deposit</code>"
)
BONUS_USAGE = (
    "Usage: /bonus &lt;telegram id | @username&gt; &lt;amount&gt; &lt;reason&gt;\n"
    "e.g. <code>/bonus 123456 10 welcome bonus</code>"
)
ADJUST_KIND: Mapping[str, str] = {"adjustment": "adjustment", "bonus": "bonus"}
# The line that carries the terms; the confirm button reads it back from the message.
ADJUST_REF = "ref: {kind} {telegram_id} {amount}"
ADJUST_REASON = "Reason: "


def admin_adjust_confirm(plan: AdjustmentPlan) -> str:
    kind = ADJUST_KIND.get(plan.kind.value, plan.kind.value)
    ref = ADJUST_REF.format(
        kind=plan.kind.value, telegram_id=plan.user.telegram_id, amount=plan.amount
    )
    return (
        f"<b>Confirm {kind}</b>\n\n"
        f"User: {who(plan.user)}\n"
        f"Change: <b>{format_usd(plan.amount, signed=True)}</b>\n"
        f"Balance: {format_usd(plan.balance)} → {format_usd(plan.balance_after)}\n"
        f"{ref}\n{ADJUST_REASON}{esc(plan.reason)}"
    )


def admin_adjust_done(result: AdjustmentResult, reason: str, admin: str) -> str:
    e = result.entry
    kind = ADJUST_KIND.get(e.type.value, e.type.value)
    return (
        f"✅ <b>{kind.capitalize()} posted</b> by {esc(admin)}\n\n"
        f"User: {who(result.user)}\n"
        f"Change: <b>{format_usd(e.amount, signed=True)}</b>"
        f" → balance {format_usd(e.balance_after)}\n"
        f"Reason: {esc(reason)}"
    )


def admin_adjust_cancelled(admin: str) -> str:
    return f"✖️ Cancelled by {esc(admin)}: nothing was posted."


ADJUST_DONE_TOAST = "Posted."
ADJUST_ALREADY = "Already posted: this confirmation was used before."


def admin_adjust_insufficient(balance: Decimal) -> str:
    """Plain text (a callback alert)."""
    return f"Refused: that would take the balance below zero (it is {format_usd(balance)} now)."


DEPOSIT_ADMIN_REASONS: Mapping[str, str] = {
    "overpaid": (
        "Paid more than the tolerance allows; nothing credited. Credit posts the invoiced amount"
        " (the rest by /adjust), or Close."
    ),
    "overpaid_credited": "Paid a little more than asked (within tolerance); credited pro rata.",
    "finished_underpaid": (
        "Finished by the provider with less paid than asked; nothing credited. Credit posts what"
        " arrived at the invoice's rate, or Close."
    ),
    "finished_nothing_paid": "Finished by the provider with nothing paid; nothing credited.",
    "ended_with_payment": (
        "Expired or failed at the provider, yet some money arrived; nothing credited. Credit"
        " posts what arrived at the invoice's rate, at most the invoice."
    ),
    "amount_unknown": "Partially paid, amount unknown: nothing credited until an admin decides.",
    "partial_hold": "Partially paid: nothing credited until an admin decides.",
    "price_changed": "The provider reports another price than the one we created.",
    "amount_changed_after_credit": "The paid amount changed after we credited the deposit.",
    "changed_after_credit": "The provider changed the status after we credited the deposit.",
    "paid_after_final": (
        "Money arrived after the deposit ended (or more than when it was held): nothing"
        " credited. Credit posts what arrived at the invoice's rate, at most the invoice."
    ),
    "changed_under_review": "The provider changed a deposit that is under review.",
    "child_payment": "A repeated payment to the same address: not credited automatically.",
}


def _current_value(payload: Mapping[str, Any]) -> str | None:
    if payload.get("current_rate_unavailable") is True:
        return "unavailable (the provider's estimate failed)"
    return _usd(payload, "current_value_usd")


def _deposit_notice(title: str, payload: Mapping[str, Any]) -> str:
    reason = str(payload.get("reason") or "")
    coin = _text(payload, "currency") or ""
    tg_id = payload.get("user_telegram_id")
    user = None
    if isinstance(tg_id, int):
        username = _text(payload, "username")
        user = f"{'@' + username + ' ' if username else ''}(id <code>{tg_id}</code>)"
    paid = _text(payload, "actually_paid")
    asked = _text(payload, "pay_amount")
    provider_id = _text(payload, "provider_payment_id")
    body = _lines(
        ("Why", esc(DEPOSIT_ADMIN_REASONS.get(reason, reason)) if reason else None),
        ("Deposit", _text(payload, "internal_id")),
        ("Provider payment", provider_id),
        ("User", user),
        ("Amount", _usd(payload, "amount_usd")),
        ("Asked", f"{asked} {coin}" if asked else None),
        ("Paid", f"{paid} {coin}" if paid else None),
        ("Worth at the invoice's rate", _usd(payload, "invoice_value_usd")),
        ("Worth at the current rate", _current_value(payload)),
        ("Credited", _usd(payload, "credited_usd")),
        ("Status", _text(payload, "status")),
        ("Provider says", _text(payload, "reply_status")),
        ("Repeat payment", _text(payload, "child_payment_id")),
        ("Repeat paid", _text(payload, "child_actually_paid")),
    )
    hint = [f"Look up: /user {tg_id}"] if isinstance(tg_id, int) else []
    return "\n".join([f"<b>{title}</b>", "", *body, *hint]).strip()


def admin_deposit_review(payload: Mapping[str, Any]) -> str:
    return _deposit_notice("🔎 Deposit needs a decision", payload)


def admin_deposit_alert(payload: Mapping[str, Any]) -> str:
    return _deposit_notice("⚠️ Deposit alert", payload)


def admin_reconcile_alert(payload: Mapping[str, Any]) -> str:
    count, users, more = payload.get("count"), payload.get("users"), payload.get("more")
    title = "🚨 Ledger reconciliation found mismatches"
    if isinstance(count, int):
        title = f"🚨 Ledger reconciliation found {count} mismatches"
        if isinstance(users, int):
            title += f" ({users} users)"
    detail = esc(_clip(str(payload.get("detail") or ""), 3000))
    lines = [f"<b>{title}</b>", ""]
    if detail:
        lines.append(f"<pre>{detail}</pre>")
    if isinstance(more, int) and more > 0:
        lines.append(f"… and {more} more.")
    lines.append("Full list: <code>python -m bot reconcile</code>. See /stats.")
    return "\n".join(lines)
