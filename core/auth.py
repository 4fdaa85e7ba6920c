"""Who may act as an admin: the one check every admin path in core calls."""

from __future__ import annotations

from collections.abc import Collection

from core.errors import Forbidden


def require_admin(admin_ids: Collection[int], actor: object) -> None:
    """Raises Forbidden("not_admin") unless actor is one of admin_ids. Whatever chat a request
    came from; a bool is refused although True == 1."""
    if isinstance(actor, bool) or not isinstance(actor, int) or actor not in admin_ids:
        raise Forbidden("not_admin", actor=actor)
