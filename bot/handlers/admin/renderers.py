"""Renderers for the admin chat's outbox kinds (see bot.notifier.Rendered).

The withdrawal card is rendered from fresh data (WithdrawalService.card) whenever one of its rows
is sent: the first row posts it and stores the message id (set_admin_message); every later row
edits that message in place, with the buttons the current status offers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards, texts
from bot.callbacks import BUTTON_ACTION
from bot.notifier import Rendered, Renderer
from core.admin import RECONCILE_ALERT_KIND as RECONCILE_ALERT
from core.admin import people
from core.deposits.review import review_options
from core.deposits.settlement import ALERT_KIND as DEPOSIT_ALERT
from core.deposits.settlement import REVIEW_KIND as DEPOSIT_REVIEW
from core.errors import NotFound
from core.outbox import UNDELIVERED_KIND as UNDELIVERED
from core.outbox import OutboxMessage
from core.withdrawals import CARD_KIND, WithdrawalService, offered_actions

log = logging.getLogger(__name__)


def _plain(render: Callable[[Mapping[str, Any]], str]) -> Renderer:
    async def renderer(message: OutboxMessage, session: AsyncSession) -> Rendered:
        return Rendered(render(message.payload))

    return renderer


def _withdrawal_id(payload: Mapping[str, Any]) -> int | None:
    value = payload.get("withdrawal_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def card_renderer(withdrawals: WithdrawalService) -> Renderer:
    async def render(message: OutboxMessage, session: AsyncSession) -> Rendered:
        withdrawal_id = _withdrawal_id(message.payload)
        if withdrawal_id is None:  # not written by core.withdrawals: the plain card
            return Rendered(texts.withdrawal_card(message.payload))
        try:
            card = await withdrawals.card(withdrawal_id)
        except NotFound:
            log.error("withdrawal card %s: withdrawal %s is gone", message.id, withdrawal_id)
            return Rendered(texts.withdrawal_card(message.payload))
        view = card.withdrawal
        names = await people(session, [d.by for d in view.decisions() if d.by is not None])
        actions = [BUTTON_ACTION[a] for a in offered_actions(view.status)]
        posted = view.admin_chat_message_id

        async def remember(_: AsyncSession, message_id: int) -> None:
            if message_id != posted:  # first post, or the old card was gone
                await withdrawals.set_admin_message(view.id, message_id)

        return Rendered(
            texts.admin_withdrawal_card(card, names),
            reply_markup=keyboards.admin_withdrawal_card(view.id, actions),
            edit_message_id=posted,
            on_sent=remember,
        )

    return render


def undelivered_renderer(withdrawals: WithdrawalService) -> Renderer:
    """The outbox's alert about an undelivered row. For a withdrawal card, in the admin chat, it
    carries the buttons the withdrawal's current status offers, so admins can still act."""

    async def render(message: OutboxMessage, session: AsyncSession) -> Rendered:
        text = texts.outbox_undelivered(message.payload)
        withdrawal_id = _withdrawal_id(message.payload)
        private = message.payload.get("fallback") or message.chat_id > 0
        if withdrawal_id is None or private or message.payload.get("kind") != CARD_KIND:
            return Rendered(text)
        try:
            view = await withdrawals.get(withdrawal_id)
        except NotFound:
            return Rendered(text)
        actions = [BUTTON_ACTION[a] for a in offered_actions(view.status)]
        return Rendered(text, reply_markup=keyboards.admin_withdrawal_card(view.id, actions))

    return render


def _payment_id(payload: Mapping[str, Any]) -> int | None:
    value = payload.get("payment_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def deposit_notice(render: Callable[[Mapping[str, Any]], str]) -> Renderer:
    """A deposit review or alert, with Credit / Close buttons while it is still under review."""

    async def renderer(message: OutboxMessage, session: AsyncSession) -> Rendered:
        text = render(message.payload)
        payment_id = _payment_id(message.payload)
        if payment_id is None:
            return Rendered(text)
        options = await review_options(session, payment_id)
        if options is None or not options[0]:  # gone, or decided before this was sent
            return Rendered(text)
        internal_id = str(message.payload.get("internal_id") or payment_id)
        markup = keyboards.admin_review([(payment_id, internal_id, options[1])])
        return Rendered(text, reply_markup=markup)

    return renderer


def create_renderers(withdrawals: WithdrawalService) -> dict[str, Renderer]:
    """The admin chat's kinds; merge over bot.notifier.RENDERERS."""
    return {
        CARD_KIND: card_renderer(withdrawals),
        UNDELIVERED: undelivered_renderer(withdrawals),
        DEPOSIT_REVIEW: deposit_notice(texts.admin_deposit_review),
        DEPOSIT_ALERT: deposit_notice(texts.admin_deposit_alert),
        RECONCILE_ALERT: _plain(texts.admin_reconcile_alert),
    }
