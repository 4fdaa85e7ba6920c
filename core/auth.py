"""Who may act as an admin: the one check every admin path in core goes through.

``AdminGate.authorize`` is the only place an admin's Telegram id is checked against
``telegram.admin_ids``. It hands back an ``Admin``: proof of that check, which every admin method
in core (``core.admin``, ``core.withdrawals``) requires as its ``admin`` argument. An ``Admin``
cannot be made any other way, so no caller, whatever it checked itself, can reach an admin
action for an id the gate refused.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from core.errors import Forbidden

# Only the gate holds this; ``Admin`` refuses to be built without it.
_GATE = object()


def require_admin(admin_ids: Collection[int], actor: object) -> None:
    """Raises Forbidden("not_admin") unless actor is one of admin_ids. Whatever chat a request
    came from; a bool is refused although True == 1."""
    if isinstance(actor, bool) or not isinstance(actor, int) or actor not in admin_ids:
        raise Forbidden("not_admin", actor=actor)


@dataclass(frozen=True, slots=True)
class Admin:
    """An admin the gate let through: their Telegram id, checked."""

    telegram_id: int
    _gate: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._gate is not _GATE:
            raise Forbidden("not_admin", actor=self.telegram_id)


class AdminGate:
    def __init__(self, admin_ids: Collection[int]) -> None:
        self._admin_ids = frozenset(admin_ids)

    def authorize(self, actor: object) -> Admin:
        """Raises Forbidden("not_admin")."""
        require_admin(self._admin_ids, actor)
        assert isinstance(actor, int)  # require_admin
        return Admin(actor, _GATE)

    def admit(self, actor: object) -> Admin | None:
        """``authorize`` for a filter: None instead of raising."""
        try:
            return self.authorize(actor)
        except Forbidden:
            return None
