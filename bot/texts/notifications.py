"""Pushes (outbox kinds), rendered when they are sent, in the recipient's locale."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.i18n import has_text, t
from bot.texts.common import (
    clip,
    coin_name,
    crypto,
    esc,
    lines,
    payload_text,
    payload_usd,
    pick,
    titled,
    when,
)
from bot.texts.withdraw import WITHDRAWAL_RETURNED
from core.errors import InvalidAmount
from core.money import to_decimal

# Reasons whose title replaces the status's (a review, a late payment).
_REVIEW_TITLES = frozenset(
    {
        "review_credit",
        "review_close",
        "overpaid",
        "finished_underpaid",
        "finished_nothing_paid",
        "paid_after_final",
        "ended_with_payment",
    }
)


def _nonzero(raw: object) -> bool:
    """Whether a paid amount is worth a line: a zero says nothing the title does not."""
    try:
        return to_decimal(raw) != 0
    except InvalidAmount:
        return raw is not None and raw != ""  # shown as the provider wrote it


def deposit_status(payload: Mapping[str, Any]) -> str:
    status = str(payload.get("status") or "")
    reason = str(payload.get("reason") or "")
    if reason in _REVIEW_TITLES:
        title = t(f"deposit-title-{reason}")
    elif status == "finished" and payload.get("credited_usd") is None:
        title = t("deposit-title-under-review")  # "finished" alone would read as credited
    else:
        title = pick("deposit-title", status, "deposit-title-unknown")
    coin = esc(coin_name(payload.get("currency")))
    pay = payload_text(payload, "pay_amount")
    paid_raw = payload.get("actually_paid")
    paid = esc(crypto(paid_raw)) if _nonzero(paid_raw) and paid_raw is not None else None
    address = payload_text(payload, "pay_address") if status == "waiting" else None
    body = lines(
        ("label-deposit", payload_text(payload, "internal_id")),
        ("label-amount", payload_usd(payload, "amount_usd")),
        ("label-send-exactly", f"<code>{pay}</code> {coin}" if pay and address else None),
        ("label-to-address", f"<code>{address}</code>" if address else None),
        ("label-memo", payload_text(payload, "memo") if address else None),
        ("label-paid", f"{paid} {coin}".strip() if paid and status != "waiting" else None),
        ("label-credited", payload_usd(payload, "credited_usd")),
        ("label-balance", payload_usd(payload, "balance_usd")),
    )
    note = None
    for key in (f"deposit-note-{reason}", f"deposit-status-note-{status}"):
        if key.rsplit("-", 1)[-1] and has_text(key):
            note = t(key)
            break
    return titled(title, body, *([note] if note else []))


def withdrawal_status(payload: Mapping[str, Any]) -> str:
    status = str(payload.get("status") or "")
    title = pick("withdrawal-title", status, "withdrawal-title-unknown")
    tx_hash = payload_text(payload, "tx_hash")
    returned = status in WITHDRAWAL_RETURNED
    final = None if returned else payload_usd(payload, "final_amount_usd")
    currency = payload.get("currency")
    body = lines(
        ("label-withdrawal", payload_text(payload, "internal_id")),
        ("label-returned" if returned else "label-amount", payload_usd(payload, "amount_usd")),
        ("label-sent-to-you" if status == "completed" else "label-you-receive", final),
        ("label-coin", esc(coin_name(currency)) if currency else None),
        ("label-transaction", f"<code>{tx_hash}</code>" if tx_hash else None),
        ("label-reason", payload_text(payload, "reason") if status == "rejected" else None),
    )
    return titled(title, body)


def withdrawal_card(payload: Mapping[str, Any]) -> str:
    """A plain admin card; the admin handlers replace it with their own (and its keyboard)."""
    user = " ".join(
        part
        for part in (
            payload_text(payload, "first_name"),
            f"@{payload_text(payload, 'username')}" if payload.get("username") else None,
            t("user-id", id=payload_text(payload, "user_telegram_id") or "?"),
        )
        if part
    )
    address = payload_text(payload, "address")
    body = lines(
        ("label-status", payload_text(payload, "status")),
        ("label-user", user),
        ("label-amount", payload_usd(payload, "amount_usd")),
        ("label-fees", payload_usd(payload, "total_fee_usd")),
        ("label-to-send", payload_usd(payload, "final_amount_usd")),
        ("label-currency", payload_text(payload, "currency")),
        ("label-address", f"<code>{address}</code>" if address else None),
        ("label-memo", payload_text(payload, "memo")),
        ("label-tx-hash", payload_text(payload, "tx_hash")),
        ("label-reason", payload_text(payload, "reason")),
    )
    title = t("withdrawal-card-title", id=payload_text(payload, "internal_id") or "").strip()
    return "\n".join([f"<b>{title}</b>", "", *body])


def _facts(title: str, payload: Mapping[str, Any]) -> str:
    body = [f"{esc(key)}: {esc(value)}" for key, value in payload.items() if value is not None]
    return titled(title, body)


def deposit_review(payload: Mapping[str, Any]) -> str:
    return _facts(t("facts-deposit-review"), payload)


def deposit_alert(payload: Mapping[str, Any]) -> str:
    return _facts(t("facts-deposit-alert"), payload)


def reconcile_alert(payload: Mapping[str, Any]) -> str:
    return _facts(t("facts-reconcile-alert"), payload)


# --- the outbox's own alerts (core.outbox) ----------------------------------------------------


def _moment(raw: object) -> str | None:
    try:
        return when(datetime.fromisoformat(str(raw)))
    except ValueError:
        return None


def via_private(payload: Mapping[str, Any]) -> list[str]:
    """The note on an alert re-sent privately because the admin chat refused it."""
    if not payload.get("fallback"):
        return []
    error = clip(str(payload.get("admin_chat_error") or "unknown"), 300)
    return ["", t("outbox-via-private", error=esc(error))]


def outbox_undelivered(payload: Mapping[str, Any]) -> str:
    kind = str(payload.get("kind") or "")
    what = pick("undelivered-what", kind, "undelivered-what-unknown")
    chat = payload.get("chat_id")
    to = (
        t("undelivered-to-admin-chat")
        if payload.get("to_admin_chat")
        else t("undelivered-to-chat", chat=esc(chat))
    )
    reference = payload_text(payload, "internal_id")
    withdrawal = reference if kind.startswith("withdrawal") else None
    deposit = reference if kind.startswith("deposit") else None
    body = lines(
        ("label-what", what),
        ("label-to", to),
        ("label-withdrawal", f"<code>{withdrawal}</code>" if withdrawal else None),
        ("label-deposit", f"<code>{deposit}</code>" if deposit else None),
        ("label-status-then", payload_text(payload, "status")),
        ("label-amount", payload_usd(payload, "amount_usd")),
        ("label-queued", _moment(payload.get("created_at"))),
        ("label-why", esc(clip(str(payload.get("error") or "unknown"), 300))),
    )
    if withdrawal and kind == "withdrawal_card":
        action = t(
            "undelivered-decide-later" if payload.get("fallback") else "undelivered-decide-here"
        )
    elif withdrawal or deposit:
        action = t("undelivered-user-not-told")
    else:
        action = t("undelivered-nothing-sent")
    return "\n".join([t("undelivered-title"), "", *body, "", action, *via_private(payload)])


def outbox_backlog(payload: Mapping[str, Any]) -> str:
    text = t(
        "outbox-backlog",
        depth=esc(payload.get("depth")),
        oldest=esc(payload.get("oldest_minutes")),
        threshold=esc(payload.get("threshold_minutes")),
    )
    return "\n".join([text, *via_private(payload)])
