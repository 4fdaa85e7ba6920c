"""least privilege: balance-moving triggers run as their owner; ledger rows name their cause

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 19:20:00

The bot now runs as an app role without UPDATE on balances (core/db/roles.py grants it), so
the ledger trigger that moves a balance is SECURITY DEFINER: it runs as the role that owns it
(the one that ran the migrations), with a search_path pinned so a session's temporary tables
cannot stand in for ours. The balance guard used to trust the transaction-local setting
`paybot.ledger_write`, which any session can set itself; it now lets a balance move only when
the write comes from inside a trigger (pg_trigger_depth() > 1) *and* runs as the owner of
paybot_apply_transaction, i.e. from inside that definer function. A session cannot raise its
own trigger depth (creating triggers needs ownership or TRIGGER, neither granted) nor become
the owner. The one write the app makes itself, total_withdrawn growing when a withdrawal
completes, may no longer exceed the user's completed withdrawals.

Ledger rows must name what caused them: a deposit its payment, a withdrawal hold and a refund
their withdrawal (CHECK), at most one of each per payment/withdrawal (partial unique indexes),
and the payment or withdrawal must be the same user's (trigger); a withdrawal hold and its
refund move exactly the withdrawal's amount, and a refund needs a rejected or cancelled
withdrawal.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every function pins its search_path with pg_temp last: left out, pg_temp is searched first
# for tables, so a session's temporary `payments` could stand in for ours (PostgreSQL docs,
# "Writing SECURITY DEFINER Functions Safely").
APPLY = """
CREATE OR REPLACE FUNCTION paybot_apply_transaction() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
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

# Not SECURITY DEFINER: it must see who is writing. Inside paybot_apply_transaction that is the
# function's owner, one trigger level down.
GUARD = """
CREATE OR REPLACE FUNCTION paybot_guard_balances() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.balance_usd = 0 AND NEW.total_deposited = 0 AND NEW.total_withdrawn = 0 THEN
            RETURN NEW;
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        IF pg_trigger_depth() > 1 AND current_user = (
            SELECT pg_get_userbyid(proowner) FROM pg_proc
             WHERE oid = 'public.paybot_apply_transaction()'::regprocedure
        ) THEN
            RETURN NEW;
        END IF;
        -- The app's own write: a completed withdrawal counts in total_withdrawn, which never
        -- goes beyond what the user's completed withdrawals add up to.
        IF NEW.user_id = OLD.user_id AND NEW.balance_usd = OLD.balance_usd
           AND NEW.total_deposited = OLD.total_deposited
           AND NEW.total_withdrawn >= OLD.total_withdrawn
           AND NEW.total_withdrawn <= (
               SELECT coalesce(sum(amount_usd), 0) FROM withdrawal_requests
                WHERE user_id = NEW.user_id AND status = 'completed'
           )
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

# A missing payment or withdrawal is left to the foreign key (same error as before 0004).
CHECK_REFS = """
CREATE FUNCTION paybot_check_ledger_refs() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    owner_id bigint;
    held numeric;
    state text;
BEGIN
    IF NEW.payment_id IS NOT NULL THEN
        SELECT user_id INTO owner_id FROM payments WHERE id = NEW.payment_id;
        IF FOUND AND owner_id <> NEW.user_id THEN
            RAISE EXCEPTION 'payment % is not user %''s', NEW.payment_id, NEW.user_id
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    IF NEW.withdrawal_id IS NOT NULL THEN
        SELECT user_id, amount_usd, status INTO owner_id, held, state
          FROM withdrawal_requests WHERE id = NEW.withdrawal_id;
        IF FOUND AND owner_id <> NEW.user_id THEN
            RAISE EXCEPTION 'withdrawal % is not user %''s', NEW.withdrawal_id, NEW.user_id
                USING ERRCODE = 'check_violation';
        END IF;
        IF FOUND AND ((NEW.type = 'withdrawal' AND NEW.amount_usd <> -held)
                      OR (NEW.type = 'refund' AND NEW.amount_usd <> held)) THEN
            RAISE EXCEPTION '% of withdrawal % must move its amount %',
                NEW.type, NEW.withdrawal_id, held
                USING ERRCODE = 'check_violation';
        END IF;
        IF FOUND AND NEW.type = 'refund' AND state NOT IN ('rejected', 'cancelled') THEN
            RAISE EXCEPTION 'refund of withdrawal % refused: it is %', NEW.withdrawal_id, state
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$$
"""

FUNCTIONS = (
    "paybot_apply_transaction()",
    "paybot_guard_balances()",
    "paybot_refuse_ledger_change()",
    "paybot_check_ledger_refs()",
)

UPGRADE = [
    APPLY,
    GUARD,
    CHECK_REFS,
    """
    CREATE TRIGGER transactions_check_refs BEFORE INSERT ON transactions
        FOR EACH ROW EXECUTE FUNCTION paybot_check_ledger_refs()
    """,
    # Triggers fire whoever inserts; nobody needs to call these functions directly.
    *(f"REVOKE ALL ON FUNCTION {f} FROM PUBLIC" for f in FUNCTIONS),
]

# As of 0002.
APPLY_0002 = """
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

GUARD_0002 = """
CREATE OR REPLACE FUNCTION paybot_guard_balances() RETURNS trigger LANGUAGE plpgsql AS $$
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

DOWNGRADE = [
    "DROP TRIGGER IF EXISTS transactions_check_refs ON transactions",
    "DROP FUNCTION IF EXISTS paybot_check_ledger_refs()",
    # CREATE OR REPLACE keeps a function's attributes unless restated: reset them first.
    "ALTER FUNCTION paybot_apply_transaction() SECURITY INVOKER RESET search_path",
    "ALTER FUNCTION paybot_guard_balances() RESET search_path",
    APPLY_0002,
    GUARD_0002,
    *(f"GRANT EXECUTE ON FUNCTION {f} TO PUBLIC" for f in FUNCTIONS[:3]),
]

# Only the rows that an attacker could forge without a cause are constrained; bonus, fee,
# payment and adjustment rows stay free (admin tools post them).
CHECKS = {
    "deposit_has_payment": "type <> 'deposit' OR payment_id IS NOT NULL",
    "hold_refund_has_withdrawal": (
        "type NOT IN ('withdrawal', 'refund') OR withdrawal_id IS NOT NULL"
    ),
}
UNIQUE_PER_CAUSE = {
    "uq_transactions_deposit_payment": ("payment_id", "type = 'deposit'"),
    "uq_transactions_withdrawal_hold": ("withdrawal_id", "type = 'withdrawal'"),
    "uq_transactions_withdrawal_refund": ("withdrawal_id", "type = 'refund'"),
}


# Rows already in the ledger that the new rules would refuse: the upgrade stops and names them
# rather than failing on an anonymous constraint error (the app never wrote such rows). The SQL
# is built from the constants above only.
VIOLATIONS = {
    **{
        f"rows against ck_transactions_{name}": f"SELECT count(*) FROM transactions WHERE NOT ({c})"  # noqa: S608
        for name, c in CHECKS.items()
    },
    **{
        f"{column}s with more than one row for {name}": (
            f"SELECT count(*) FROM (SELECT {column} FROM transactions WHERE {where}"  # noqa: S608
            f" GROUP BY {column} HAVING count(*) > 1) d"
        )
        for name, (column, where) in UNIQUE_PER_CAUSE.items()
    },
}


def _refuse_violations() -> None:
    bind = op.get_bind()
    found = {what: bind.execute(sa.text(sql)).scalar_one() for what, sql in VIOLATIONS.items()}
    bad = [f"{count} {what}" for what, count in found.items() if count]
    if bad:
        raise RuntimeError(
            "migration 0004 stops: the ledger already holds rows its new rules refuse ("
            + "; ".join(bad)
            + "); review them with the owner before upgrading"
        )


def upgrade() -> None:
    if not context.is_offline_mode():
        _refuse_violations()
    for name, condition in CHECKS.items():
        op.create_check_constraint(op.f(f"ck_transactions_{name}"), "transactions", condition)
    for name, (column, where) in UNIQUE_PER_CAUSE.items():
        op.create_index(
            name, "transactions", [column], unique=True, postgresql_where=sa.text(where)
        )
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
    for name, (_column, where) in UNIQUE_PER_CAUSE.items():
        op.drop_index(name, table_name="transactions", postgresql_where=sa.text(where))
    for name in CHECKS:
        op.drop_constraint(op.f(f"ck_transactions_{name}"), "transactions", type_="check")
