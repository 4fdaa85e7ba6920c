"""status_check_limits (the per-user "Check status" limit); ended deposits get late checks

ix_payments_late_due serves the poller's late branch.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_check_limits",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.CheckConstraint("used >= 0", name=op.f("ck_status_check_limits_used_non_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_status_check_limits_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_status_check_limits")),
    )
    op.create_index(
        "ix_payments_late_due",
        "payments",
        ["next_check_at"],
        postgresql_where=sa.text("status IN ('expired', 'failed') AND credited_usd IS NULL"),
    )
    # Deposits that ended without money inside the provider's 7-day window are looked at again
    # (money may still arrive); the poller's late schedule takes it from there.
    op.execute(
        "UPDATE payments SET next_check_at = now()"
        " WHERE status IN ('expired', 'failed') AND credited_usd IS NULL"
        " AND next_check_at IS NULL AND created_at > now() - interval '7 days'"
    )


def downgrade() -> None:
    op.drop_index("ix_payments_late_due", table_name="payments")
    op.drop_table("status_check_limits")
