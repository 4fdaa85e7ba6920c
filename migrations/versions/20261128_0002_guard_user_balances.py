"""guard user_balances: only the ledger trigger moves a balance

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 20:10:00

The ledger trigger checks each new row against the cached balance, so the cache must be as
trustworthy as the ledger: a hand-written UPDATE, DELETE or TRUNCATE of user_balances would let
later postings continue from a made-up balance. Now the cache changes only inside
paybot_apply_transaction (which marks its own write for the guard), except that a new row may
start at zero and total_withdrawn may grow (a completed withdrawal counts its earlier debit).
The mark is a transaction-local setting: it stops mistakes, not a superuser, who could drop the
trigger anyway.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPLY_WITH_MARK = """
CREATE OR REPLACE FUNCTION paybot_apply_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('paybot.ledger_write', 'on', true);
    UPDATE user_balances
       SET balance_usd = NEW.balance_after,
           total_deposited = total_deposited
               + CASE WHEN NEW.type = 'deposit' THEN NEW.amount_usd ELSE 0 END,
           last_transaction_at = NEW.created_at
     WHERE user_id = NEW.user_id
       AND balance_usd + NEW.amount_usd = NEW.balance_after;
    IF NOT FOUND THEN  -- before the next PERFORM, which sets FOUND itself
        RAISE EXCEPTION 'ledger chain broken for user %: balance_after % does not follow the balance',
            NEW.user_id, NEW.balance_after
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM set_config('paybot.ledger_write', 'off', true);
    RETURN NULL;
END
$$
"""

APPLY_WITHOUT_MARK = """
CREATE OR REPLACE FUNCTION paybot_apply_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_balances
       SET balance_usd = NEW.balance_after,
           total_deposited = total_deposited
               + CASE WHEN NEW.type = 'deposit' THEN NEW.amount_usd ELSE 0 END,
           last_transaction_at = NEW.created_at
     WHERE user_id = NEW.user_id
       AND balance_usd + NEW.amount_usd = NEW.balance_after;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger chain broken for user %: balance_after % does not follow the balance',
            NEW.user_id, NEW.balance_after
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$
"""

GUARD = """
CREATE FUNCTION paybot_guard_balances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.balance_usd = 0 AND NEW.total_deposited = 0 AND NEW.total_withdrawn = 0 THEN
            RETURN NEW;
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        IF current_setting('paybot.ledger_write', true) = 'on' THEN
            RETURN NEW;
        END IF;
        IF NEW.user_id = OLD.user_id AND NEW.balance_usd = OLD.balance_usd
           AND NEW.total_deposited = OLD.total_deposited
           AND NEW.total_withdrawn >= OLD.total_withdrawn
           AND NEW.last_transaction_at IS NOT DISTINCT FROM OLD.last_transaction_at THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'user_balances follows the ledger: % refused (post a transaction instead)',
        TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$
"""

UPGRADE = [
    APPLY_WITH_MARK,
    GUARD,
    """
    CREATE TRIGGER user_balances_guard BEFORE INSERT OR UPDATE OR DELETE ON user_balances
        FOR EACH ROW EXECUTE FUNCTION paybot_guard_balances()
    """,
    """
    CREATE TRIGGER user_balances_no_truncate BEFORE TRUNCATE ON user_balances
        FOR EACH STATEMENT EXECUTE FUNCTION paybot_guard_balances()
    """,
]

DOWNGRADE = [
    "DROP TRIGGER IF EXISTS user_balances_no_truncate ON user_balances",
    "DROP TRIGGER IF EXISTS user_balances_guard ON user_balances",
    "DROP FUNCTION IF EXISTS paybot_guard_balances()",
    APPLY_WITHOUT_MARK,
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
