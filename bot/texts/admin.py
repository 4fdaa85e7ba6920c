"""The admin chat (bot/handlers/admin), in ``telegram.admin_language``: withdrawal cards, reply
prompts, commands, alerts. Callback answers (alerts, toasts) are plain text, never HTML: names go
there unescaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.i18n import has_text, t
from bot.texts.balance import tx_type
from bot.texts.common import (
    LazyCommands,
    LazyMap,
    bounded,
    clip,
    esc,
    lines,
    number,
    payload_text,
    payload_usd,
    pick,
    usd,
    when,
)
from core.admin import AdjustmentPlan, AdjustmentResult, Person, Stats, StatusTotal, UserSummary
from core.currencies import SyncResult
from core.db.models import Currency
from core.deposits.views import PaymentView
from core.withdrawals import Decision, UserRef, WithdrawalCard, WithdrawalView

# Scoped to the admin chat; the admin handlers own their meaning.
ADMIN_COMMANDS = LazyCommands(
    (
        "pending",
        "payments",
        "user",
        "stats",
        "transactions",
        "export",
        "currencies",
        "adjust",
        "bonus",
        "id",
        "help",
    ),
    "admin-command",
)
ADMIN_WD_TOAST = LazyMap(
    {
        "approve": "admin-toast-approve",
        "process": "admin-toast-process",
        "prompt": "admin-toast-prompt",
    }
)
REVIEW_TOAST = LazyMap(
    {"credit": "admin-review-toast-credit", "close": "admin-review-toast-close"}
)
_WD_STATUSES = ("pending", "approved", "processing", "completed", "rejected", "cancelled")
ADMIN_WD_STATUS = LazyMap({s: f"admin-wd-status-{s}" for s in _WD_STATUSES})
ADMIN_WD_ICON: Mapping[str, str] = {
    "approved": "👍",
    "processing": "🔄",
    "completed": "✅",
    "rejected": "❌",
    "cancelled": "↩️",
}
ADMIN_WD_STEP = LazyMap({s: f"admin-wd-step-{s}" for s in _WD_STATUSES[1:]})
# Why an answer to a question (core.admin.prompts.Refusal) changed nothing: one sentence each,
# for a reply (the reason or hash questions) and for a confirm button (plain text, an alert).
PROMPT_REFUSAL = LazyMap(
    {r: f"admin-prompt-{r}" for r in ("unknown", "expired", "used", "not_yours")}
)
ADJUST_REFUSAL = LazyMap(
    {r: f"admin-adjust-{r}" for r in ("unknown", "expired", "used", "not_yours")}
)


def _wd_status(status: str) -> str:
    return pick("admin-wd-status", status, "state-unknown")


def _wd_step(status: str) -> str:
    return pick("admin-wd-step", status, "state-unknown")


def btn_currency(code: str, active: bool) -> str:
    return f"⛔ {code}" if active else f"✅ {code}"


def who(person: Person | UserRef) -> str:
    """HTML: 'Alice @alice (id 123)'."""
    parts = [esc(person.first_name) if person.first_name else None]
    parts.append(f"@{esc(person.username)}" if person.username else None)
    parts.append(t("user-id", id=f"<code>{person.telegram_id}</code>"))
    return " ".join(p for p in parts if p)


def plain_name(telegram_id: int, names: Mapping[int, Person]) -> str:
    """Plain text: '@bob', 'Bob (id 7)' or 'id 7'."""
    person = names.get(telegram_id)
    if person is not None and person.username:
        return f"@{person.username}"
    if person is not None and person.first_name:
        return f"{person.first_name} {t('user-id', id=telegram_id)}"
    return f"id {telegram_id}"


def _decision_by(decision: Decision, names: Mapping[int, Person]) -> str:
    if decision.status.value == "cancelled" or decision.by is None:
        return t("admin-by-user")
    return t("admin-by", who=esc(plain_name(decision.by, names)))


def _ledger_line(e: Any) -> str:
    return t(
        "admin-ledger-line",
        when=when(e.created_at),
        type=tx_type(e.type),
        amount=usd(e.amount, signed=True),
        balance=usd(e.balance_after),
    )


def admin_withdrawal_card(card: WithdrawalCard, names: Mapping[int, Person]) -> str:
    w = card.withdrawal
    rows = [
        t("admin-card-title", id=esc(w.internal_id)),
        t("admin-card-status", status=_wd_status(w.status.value)),
        "",
        t("line", label=t("label-user"), value=who(w.user)),
        t("line", label=t("label-amount"), value=f"<b>{usd(w.amount)}</b>"),
        t(
            "admin-card-fees",
            total=usd(w.total_fee),
            network=usd(w.network_fee),
            service=usd(w.service_fee),
        ),
        t("admin-card-to-send", amount=usd(w.final_amount), coin=esc(card.currency_name)),
        t("admin-card-currency", code=esc(w.currency_code), network=esc(card.network)),
        t("line", label=t("label-address"), value=f"<code>{esc(w.wallet_address)}</code>"),
    ]
    if w.memo:
        rows.append(t("line", label=t("label-memo"), value=f"<code>{esc(w.memo)}</code>"))
    if w.transaction_hash:
        tx = f"<code>{esc(w.transaction_hash)}</code>"
        rows.append(t("line", label=t("label-tx-hash"), value=tx))
    if w.reject_reason:
        rows.append(t("line", label=t("label-reason"), value=esc(clip(w.reject_reason, 300))))
    if w.admin_notes:
        rows.append(t("admin-card-notes", notes=esc(clip(w.admin_notes, 300))))
    b = card.balance
    rows += [
        "",
        t(
            "admin-card-balance",
            balance=usd(b.balance),
            deposited=usd(b.total_deposited),
            withdrawn=usd(b.total_withdrawn),
        ),
    ]
    if card.recent:
        rows.append(t("admin-card-recent"))
        rows += ["· " + _ledger_line(e) for e in card.recent]
    rows += ["", t("admin-card-requested", when=when(w.created_at))]
    rows += [
        f"{ADMIN_WD_ICON.get(d.status.value, '•')} {when(d.at)}"
        f" {_wd_step(d.status.value)} {_decision_by(d, names)}"
        for d in w.decisions()
    ]
    return "\n".join(rows)


def admin_already_handled(params: Mapping[str, Any], names: Mapping[int, Person]) -> str:
    """Plain text (a callback alert, at most 200 characters)."""
    status = str(params.get("status") or "")
    by, at = params.get("decided_by"), params.get("decided_at")
    if status == "pending" or (by is None and status != "cancelled"):
        state = _wd_step(status) if status else t("admin-changed")
        return clip(t("admin-not-possible", state=state), 200)
    text = t("admin-already-handled", step=_wd_step(status))
    if status == "cancelled":
        text += " " + t("admin-by-user")
    elif isinstance(by, int):
        text += " " + t("admin-by", who=plain_name(by, names))
    if isinstance(at, datetime):
        text += " " + t("admin-at", when=when(at))
    return clip(text + ".", 200)


def btn_review_credit(amount: Decimal, internal_id: str | None = None) -> str:
    text = t("admin-btn-credit", amount=usd(amount))
    return text + (f" · {internal_id}" if internal_id else "")


def btn_review_close(internal_id: str | None = None) -> str:
    return t("admin-btn-close-review") + (f" · {internal_id}" if internal_id else "")


def admin_review_decided(
    internal_id: str, credited: Decimal | None, admin_id: int, names: Mapping[int, Person]
) -> str:
    """The line added under a deposit notice once an admin has decided it."""
    what = (
        t("admin-review-credited", amount=usd(credited))
        if credited is not None
        else t("admin-review-closed")
    )
    return t(
        "admin-review-decided",
        id=esc(internal_id),
        what=what,
        who=esc(plain_name(admin_id, names)),
        when=when(datetime.now(UTC)),
    )


def admin_review_already(params: Mapping[str, Any], names: Mapping[int, Person]) -> str:
    """Plain text (a callback alert, at most 200 characters)."""
    by, at = params.get("decided_by"), params.get("decided_at")
    text = t("admin-review-already")
    if isinstance(by, int):
        text += " " + t("admin-by", who=plain_name(by, names))
    if isinstance(at, datetime):
        text += " " + t("admin-at", when=when(at))
    return clip(text + ".", 200)


def _person(user: UserRef) -> str:
    """HTML, a name a person reads: '@alice', else 'Alice', else 'id 123' (Telegram's id)."""
    if user.username:
        return f"@{esc(user.username)}"
    if user.first_name:
        return esc(user.first_name)
    return t("user-id", id=str(user.telegram_id))


def _wd_step_now(status: str) -> str:
    return pick("admin-wd-now", status, "state-unknown")


def _mention(telegram_id: int, name: str) -> str:
    return f'<a href="tg://user?id={telegram_id}">{esc(name)}</a>'


def admin_reject_prompt(view: WithdrawalView, admin_id: int, admin_name: str) -> str:
    return t(
        "admin-reject-prompt",
        admin=_mention(admin_id, admin_name),
        id=esc(view.internal_id),
        amount=usd(view.amount),
        user=_person(view.user),
        status=_wd_step_now(view.status.value),
    )


def admin_complete_prompt(view: WithdrawalView, admin_id: int, admin_name: str) -> str:
    return t(
        "admin-complete-prompt",
        admin=_mention(admin_id, admin_name),
        id=esc(view.internal_id),
        amount=usd(view.final_amount),
        coin=esc(view.currency_code),
        address=esc(view.wallet_address),
    )


def admin_rejected(view: WithdrawalView) -> str:
    return t("admin-rejected", id=esc(view.internal_id), amount=usd(view.amount))


def admin_completed(view: WithdrawalView) -> str:
    return t("admin-completed", id=esc(view.internal_id), tx=esc(view.transaction_hash or ""))


def admin_pending(views: Sequence[WithdrawalView]) -> str:
    if not views:
        return t("admin-pending-none")
    rows = [t("admin-pending-title", count=len(views)), ""]
    rows += [
        f"{_wd_status(v.status.value)} · <code>{esc(v.internal_id)}</code> · {usd(v.amount)}"
        f" → {esc(v.currency_code)} · {who(v.user)} · {when(v.created_at)}"
        for v in views
    ]
    return bounded(rows)


def admin_payments(views: Sequence[PaymentView], status: str | None) -> str:
    title = (
        t("admin-payments-title-status", status=esc(status))
        if status
        else t("admin-payments-title")
    )
    if not views:
        return f"{title}\n\n{t('admin-none')}"
    rows = [title, ""]
    for p in views:
        credited = (
            t("admin-payment-credited", amount=usd(p.credited_usd)) if p.credited_usd else ""
        )
        review = t("admin-payment-review") if p.needs_review else ""
        rows.append(
            t(
                "admin-payment-line",
                id=esc(p.internal_id),
                amount=usd(p.amount_usd),
                coin=esc(p.currency),
                status=esc(p.status),
                credited=credited,
                review=review,
                user=f"<code>{p.user_telegram_id}</code>",
                when=when(p.created_at),
            )
        )
    return bounded(rows)


def admin_unknown_payment_filter(status: str, filters: Sequence[str]) -> str:
    return t("admin-unknown-filter", status=esc(status), filters=esc(", ".join(filters)))


def _status_totals(totals: Mapping[str, StatusTotal]) -> str:
    if not totals:
        return t("admin-none-lower")
    return ", ".join(
        f"{esc(status)} {number(total.count)} ({usd(total.amount)})"
        for status, total in totals.items()
    )


def admin_user_summary(summary: UserSummary) -> str:
    u, b = summary.user, summary.balance
    flags = [
        t(key)
        for on, key in ((u.is_banned, "admin-flag-banned"), (u.blocked_bot, "admin-flag-blocked"))
        if on
    ]
    rows = [
        t("admin-user-title", who=who(u.person)) + (f" · {', '.join(flags)}" if flags else ""),
        t("admin-user-registered", when=when(u.created_at), id=str(u.id)),
        "",
        t("line", label=t("label-balance"), value=f"<b>{usd(b.balance)}</b>"),
        t("admin-total-deposited", amount=usd(b.total_deposited)),
        t("admin-total-withdrawn", amount=usd(b.total_withdrawn)),
        t("admin-transactions-count", count=number(summary.transactions)),
        t("admin-user-deposits", totals=_status_totals(summary.deposit_totals)),
        t("admin-user-withdrawals", totals=_status_totals(summary.withdrawal_totals)),
    ]
    if summary.recent:
        rows += ["", t("admin-last-transactions")]
        rows += [_ledger_line(e) for e in summary.recent]
    if summary.withdrawals:
        rows += ["", t("admin-withdrawals-heading")]
        rows += [
            f"<code>{esc(w.internal_id)}</code> · {usd(w.amount)} → {esc(w.currency_code)}"
            f" · {_wd_status(w.status.value)} · {when(w.created_at)}"
            for w in summary.withdrawals
        ]
    if summary.deposits:
        rows += ["", t("admin-deposits-heading")]
        rows += [
            t(
                "admin-user-deposit-line",
                id=esc(p.internal_id),
                amount=usd(p.amount_usd),
                coin=esc(p.currency),
                status=esc(p.status),
                when=when(p.created_at),
            )
            for p in summary.deposits
        ]
    return bounded(rows)


def admin_stats(stats: Stats) -> str:
    def by_status(totals: Mapping[str, StatusTotal]) -> list[str]:
        found = [
            f"{esc(s)}: {number(total.count)} · {usd(total.amount)}" for s, total in totals.items()
        ]
        return found or [t("admin-none-lower")]

    rows = [
        t("admin-stats-title", when=when(stats.at)),
        "",
        t("admin-stats-users", count=number(stats.users)),
        t("admin-stats-balances", amount=usd(stats.balances)),
        t("admin-stats-held", amount=usd(stats.held)),
        t("admin-stats-deposited", amount=usd(stats.deposited), credited=usd(stats.credited)),
        t("admin-stats-withdrawn", amount=usd(stats.withdrawn)),
        "",
        t("admin-stats-deposits-by-status"),
        *by_status(stats.payments),
        "",
        t("admin-stats-withdrawals-by-status"),
        *by_status(stats.withdrawals),
        "",
        admin_stats_outbox(stats),
        "",
    ]
    if stats.mismatches:
        rows.append(t("admin-ledger-mismatches", count=len(stats.mismatches)))
        rows += [
            t(
                "admin-ledger-mismatch",
                user=str(m.user_id),
                kind=esc(m.kind),
                expected=str(m.expected),
                actual=str(m.actual),
            )
            for m in stats.mismatches[:10]
        ]
    else:
        rows.append(t("admin-ledger-ok"))
    return bounded(rows)


def admin_stats_outbox(stats: Stats) -> str:
    queue = stats.outbox
    if queue.oldest_age is not None:
        line = t(
            "admin-outbox-oldest",
            depth=number(queue.depth),
            oldest=_duration(queue.oldest_age.total_seconds()),
            failed=number(queue.failed_recently),
        )
    else:
        line = t("admin-outbox", depth=number(queue.depth), failed=number(queue.failed_recently))
    return ("⚠️ " if queue.failed_recently else "") + line


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return t("duration-seconds", s=str(seconds))
    if seconds < 3600:
        return t("duration-minutes", m=str(seconds // 60))
    return t("duration-hours", h=str(seconds // 3600), m=str(seconds % 3600 // 60))


def admin_currencies(coins: Sequence[Currency], page: int, per_page: int) -> str:
    """One page of the list (the buttons under it switch the same coins)."""
    if not coins:
        return t("admin-currencies-none")
    pages = -(-len(coins) // per_page)
    rows = [
        t("admin-currencies-title-paged", count=len(coins), page=page + 1, pages=pages)
        if pages > 1
        else t("admin-currencies-title", count=len(coins)),
        "",
    ]
    for c in coins[page * per_page : (page + 1) * per_page]:
        if c.is_active and not c.disabled_by_admin:
            state = t("admin-currency-on")
        elif c.disabled_by_admin:
            state = t("admin-currency-off-admin")
        else:
            state = t("admin-currency-off-provider")
        minimum = (
            t("admin-currency-min", amount=usd(c.min_amount_usd))
            if c.min_amount_usd is not None
            else ""
        )
        rows.append(f"<code>{esc(c.code)}</code> {esc(c.display_name)} · {state}{minimum}")
    return bounded(rows)


def admin_currency_toast(code: str, active: bool) -> str:
    return t("admin-currency-now-on" if active else "admin-currency-now-off", code=code)


def admin_sync_result(result: SyncResult) -> str:
    error = esc(clip(result.error or "unknown error", 300))
    if result.source == "none":
        return t("admin-sync-failed", error=error)
    title = t("admin-sync-title-seed" if result.source == "seed" else "admin-sync-title")
    rows = [title, t("admin-sync-active", count=number(result.active))]
    for label, codes in (
        ("admin-sync-added", result.added),
        ("admin-sync-back-on", result.reactivated),
        ("admin-sync-switched-off", result.deactivated),
    ):
        if codes:
            rows.append(t("line", label=t(label), value=esc(", ".join(codes))))
    return "\n".join(rows)


def admin_adjust_confirm(plan: AdjustmentPlan) -> str:
    return t(
        "admin-adjust-confirm",
        kind=pick("admin-kind", plan.kind.value, "state-unknown"),
        user=who(plan.user),
        change=usd(plan.amount, signed=True),
        balance=usd(plan.balance),
        after=usd(plan.balance_after),
        reason=esc(plan.reason),
    )


def admin_adjust_done(result: AdjustmentResult, reason: str, admin: str) -> str:
    e = result.entry
    return t(
        "admin-adjust-done",
        kind=pick("admin-kind-title", e.type.value, "state-unknown"),
        admin=esc(admin),
        user=who(result.user),
        change=usd(e.amount, signed=True),
        balance=usd(e.balance_after),
        reason=esc(reason),
    )


def admin_adjust_cancelled(admin: str) -> str:
    return t("admin-adjust-cancelled", admin=esc(admin))


def admin_adjust_insufficient(balance: Decimal) -> str:
    """Plain text (a callback alert)."""
    return t("admin-adjust-insufficient", balance=usd(balance))


_DEPOSIT_REASONS = (
    "overpaid", "overpaid_credited", "finished_underpaid", "finished_nothing_paid",
    "ended_with_payment", "amount_unknown", "partial_hold", "price_changed",
    "amount_changed_after_credit", "changed_after_credit", "paid_after_final",
    "changed_under_review", "child_payment",
)  # fmt: skip
DEPOSIT_ADMIN_REASONS = LazyMap({r: f"admin-deposit-reason-{r}" for r in _DEPOSIT_REASONS})


def _current_value(payload: Mapping[str, Any]) -> str | None:
    if payload.get("current_rate_unavailable") is True:
        return t("admin-rate-unavailable")
    return payload_usd(payload, "current_value_usd")


def _deposit_notice(title: str, payload: Mapping[str, Any]) -> str:
    reason = str(payload.get("reason") or "")
    coin = payload_text(payload, "currency") or ""
    tg_id = payload.get("user_telegram_id")
    user = None
    if isinstance(tg_id, int):
        username = payload_text(payload, "username")
        user = f"{'@' + username + ' ' if username else ''}" + t(
            "user-id", id=f"<code>{tg_id}</code>"
        )
    paid = payload_text(payload, "actually_paid")
    asked = payload_text(payload, "pay_amount")
    why = None
    if reason:
        key = f"admin-deposit-reason-{reason}"
        why = esc(t(key) if has_text(key) else reason)
    body = lines(
        ("label-why", why),
        ("label-deposit", payload_text(payload, "internal_id")),
        ("label-provider-payment", payload_text(payload, "provider_payment_id")),
        ("label-user", user),
        ("label-amount", payload_usd(payload, "amount_usd")),
        ("label-asked", f"{asked} {coin}" if asked else None),
        ("label-paid", f"{paid} {coin}" if paid else None),
        ("label-worth-invoice", payload_usd(payload, "invoice_value_usd")),
        ("label-worth-current", _current_value(payload)),
        ("label-credited", payload_usd(payload, "credited_usd")),
        ("label-status", payload_text(payload, "status")),
        ("label-provider-says", payload_text(payload, "reply_status")),
        ("label-repeat-payment", payload_text(payload, "child_payment_id")),
        ("label-repeat-paid", payload_text(payload, "child_actually_paid")),
    )
    hint = [t("admin-look-up", id=str(tg_id))] if isinstance(tg_id, int) else []
    return "\n".join([f"<b>{title}</b>", "", *body, *hint]).strip()


def admin_deposit_review(payload: Mapping[str, Any]) -> str:
    return _deposit_notice(t("admin-deposit-review-title"), payload)


def admin_deposit_alert(payload: Mapping[str, Any]) -> str:
    return _deposit_notice(t("admin-deposit-alert-title"), payload)


def admin_reconcile_alert(payload: Mapping[str, Any]) -> str:
    count, users, more = payload.get("count"), payload.get("users"), payload.get("more")
    title = t("facts-reconcile-alert")
    if isinstance(count, int):
        title = t("admin-reconcile-title", count=count)
        if isinstance(users, int):
            title += " " + t("admin-reconcile-users", users=users)
    detail = esc(clip(str(payload.get("detail") or ""), 3000))
    rows = [f"<b>{title}</b>", ""]
    if detail:
        rows.append(f"<pre>{detail}</pre>")
    if isinstance(more, int) and more > 0:
        rows.append(t("and-more", count=more) + ".")
    rows.append(t("admin-reconcile-hint"))
    return "\n".join(rows)
