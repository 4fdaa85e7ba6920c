"""admin_prompts: what an answer to a question the bot asked in the admin chat does, keyed by
the chat and the question's message (the question's text carries no machine line any more)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_prompts",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("admin_telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("withdrawal_id", sa.BigInteger(), nullable=True),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("user_telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("amount_usd", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "action IN ('reject', 'complete', 'adjustment', 'bonus')",
            name=op.f("ck_admin_prompts_action"),
        ),
        sa.CheckConstraint(
            "action NOT IN ('reject', 'complete') OR withdrawal_id IS NOT NULL",
            name=op.f("ck_admin_prompts_withdrawal_named"),
        ),
        sa.CheckConstraint(
            "action NOT IN ('adjustment', 'bonus') OR (user_telegram_id IS NOT NULL"
            " AND amount_usd IS NOT NULL AND amount_usd <> 'NaN'::numeric"
            " AND length(coalesce(reason, '')) > 0)",
            name=op.f("ck_admin_prompts_adjustment_terms"),
        ),
        sa.CheckConstraint(
            "expires_at > created_at", name=op.f("ck_admin_prompts_expires_after_creation")
        ),
        sa.ForeignKeyConstraint(
            ["withdrawal_id"],
            ["withdrawal_requests.id"],
            name=op.f("fk_admin_prompts_withdrawal_id_withdrawal_requests"),
        ),
        sa.PrimaryKeyConstraint("chat_id", "message_id", name=op.f("pk_admin_prompts")),
    )


def downgrade() -> None:
    op.drop_table("admin_prompts")
