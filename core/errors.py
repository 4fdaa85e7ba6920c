"""Typed domain errors. Each carries a stable ``code`` and parameters; the bot turns them into
friendly text (bot/texts/errors.py, worded in bot/locales). Messages here are for logs and
operators, never shown to users."""

from __future__ import annotations

from typing import Any


class PaybotError(Exception):
    """Base of every error that is an expected outcome of bad input or a refused operation."""

    code = "error"

    def __init__(self, reason: str | None = None, **params: Any) -> None:
        self.reason = reason or self.code
        self.params = params
        detail = ", ".join(f"{k}={v!r}" for k, v in params.items())
        super().__init__(f"{self.code}: {self.reason}" + (f" ({detail})" if detail else ""))


class ConfigError(PaybotError):
    code = "config"


class InvalidAmount(PaybotError):
    """Reasons: empty, too_long, not_a_number, negative, zero, too_many_decimals, too_large,
    below_minimum, above_maximum, wrong_sign, fees_exceed_amount."""

    code = "invalid_amount"


class InsufficientFunds(PaybotError):
    code = "insufficient_funds"


class IdempotencyConflict(PaybotError):
    """An idempotency key was reused for different terms: never ignored.
    Reasons: key_reused (ledger), request_key_reused (withdrawal request)."""

    code = "idempotency_conflict"


class NotFound(PaybotError):
    """Reasons name the thing: user, withdrawal, payment, currency."""

    code = "not_found"


class Forbidden(PaybotError):
    """The acting user may not do this. Reasons: not_admin, not_owner, own_withdrawal (an
    admin deciding their own payout), banned."""

    code = "forbidden"


class InvalidAddress(PaybotError):
    """Reasons: empty, too_long, bad_format, bad_checksum, wrong_network, testnet,
    burn_address, memo_required, memo_invalid, bad_tx_hash."""

    code = "invalid_address"


class CurrencyUnavailable(PaybotError):
    """Reasons: unknown, inactive."""

    code = "currency_unavailable"


class LimitExceeded(PaybotError):
    """Reasons: too_many_pending, daily_cap."""

    code = "limit_exceeded"


class InvalidTransition(PaybotError):
    """A state change the current state does not allow. Reasons: not_allowed (params: status,
    decided_by, decided_at), reason_required, text_too_long."""

    code = "invalid_transition"


class ProviderRefused(PaybotError):
    """The payment provider refused a request for a reason the user can act on."""

    code = "provider_refused"


class ProviderUnavailable(PaybotError):
    """The payment provider cannot be reached now; try again later."""

    code = "provider_unavailable"
