"""The bot's app role against real PostgreSQL: `python -m bot migrate` creates it with only the
grants the bot needs; connected as it, every known way to rewrite the ledger or a balance is
refused, while the real money paths (a deposit settled through the provider, withdrawals with
their hold, refund and completion, an admin bonus, reconcile) still work.

Roles are cluster-wide: each test's role has a name of its own and is dropped at the end.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.__main__ import _migrate
from core import ledger
from core.admin import Adjustments
from core.auth import AdminGate
from core.config import DatabaseSettings, Settings
from core.db.base import Base
from core.db.models import TxType
from core.db.roles import APP_GRANTS, ensure_app_role, privilege_warning, scram_verifier
from core.db.session import create_engine, create_session_factory
from core.deposits.poller import Poller
from core.errors import ConfigError
from core.migrate import run_alembic
from core.nowpayments import NowPaymentsClient
from core.withdrawals import WithdrawalService
from tests.fakes.nowpayments import FakeNowPayments
from tests.support.db import (
    Db,
    DbServer,
    clone,
    ledger_balance,
    make_user,
    new_payment,
    new_withdrawal,
    post_deposit,
)
from tests.support.deposits import COINS, drive, make_service
from tests.support.settings import make_settings
from tests.support.withdrawals import ADMIN_A, ADMIN_B, CURRENCIES, TRX, TX_HASH

D = Decimal
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class AppRole:
    name: str
    password: str
    owner: Db  # the migrated database, connected as the owner (the test server's superuser)

    def url(self, password: str | None = None) -> str:
        return (
            make_url(self.owner.url)
            .set(username=self.name, password=password or self.password)
            .render_as_string(hide_password=False)
        )

    def dsn(self) -> str:
        """For asyncpg itself: exact exception classes for each refusal."""
        return make_url(self.url()).set(drivername="postgresql").render_as_string(False)

    def settings(self, password: str | None = None) -> Settings:
        database = DatabaseSettings(
            url=SecretStr(self.url(password)),
            owner_url=SecretStr(self.owner.url),
            app_role=self.name,
            app_password=SecretStr(password or self.password),
        )
        return Settings(database=database)


async def drop_role(owner: Db, name: str) -> None:
    async with owner.engine.connect() as conn:
        await conn.execute(text("COMMIT"))
        exists = await conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": name})
        if exists:
            await conn.exec_driver_sql(f'DROP OWNED BY "{name}"')  # its grants here
            await conn.exec_driver_sql(f'DROP ROLE "{name}"')


@pytest.fixture(scope="module")
async def role_db(db_server: DbServer, template_db: str) -> AsyncIterator[Db]:
    database = await clone(db_server, template_db)
    yield database
    await database.engine.dispose()


@pytest.fixture(scope="module")
async def role(role_db: Db) -> AsyncIterator[AppRole]:
    """An app role created by `python -m bot migrate` (a real process) on a database of this
    module's own (the tests use users of their own in it)."""
    fresh_db = role_db
    app = AppRole(f"paybot_app_t{secrets.token_hex(5)}", secrets.token_urlsafe(18), fresh_db)
    try:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PAYBOT_LOGGING__LEVEL": "DEBUG",
            "PAYBOT_DATABASE__URL": app.url(),
            "PAYBOT_DATABASE__OWNER_URL": fresh_db.url,
            "PAYBOT_DATABASE__APP_ROLE": app.name,
            "PAYBOT_DATABASE__APP_PASSWORD": app.password,
        }
        done = subprocess.run(  # noqa: ASYNC221  # one short child process, nothing else runs
            [sys.executable, "-m", "bot", "migrate"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        assert f"app role {app.name} created" in output
        assert app.password not in output  # not even at DEBUG
        async with fresh_db.sessions.begin() as session:
            await session.execute(CURRENCIES)
            await session.execute(COINS)
        yield app
    finally:
        await drop_role(fresh_db, app.name)


@pytest.fixture
async def app_db(role: AppRole) -> AsyncIterator[Db]:
    """The bot's view: sessions connected as the app role."""
    engine = create_engine(role.url(), pool_size=4)
    yield Db(role.url(), engine, create_session_factory(engine))
    await engine.dispose()


@pytest.fixture
async def attacker(role: AppRole) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(role.dsn())
    yield conn
    await conn.close()


async def funded(app_db: Db, amount: str = "100.00") -> int:
    user = await make_user(app_db.sessions)
    async with app_db.sessions.begin() as session:
        await post_deposit(session, user.id, D(amount), f"deposit-seed:{user.id}")
    return user.id


# A chain-correct row: it continues the user's balance exactly, so only the rules can stop it.
CHAINED = """
    INSERT INTO transactions (user_id, type, amount_usd, balance_after, payment_id,
                              withdrawal_id, idempotency_key)
    SELECT $1, $2, $3, balance_usd + $3, $4, $5, $6 FROM user_balances WHERE user_id = $1
"""


async def test_migrate_grants_exactly_what_the_bot_needs(role: AppRole) -> None:
    async with role.owner.engine.connect() as conn:
        flags = (
            await conn.execute(
                text(
                    "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls"
                    " FROM pg_roles WHERE rolname = :r"
                ),
                {"r": role.name},
            )
        ).one()
        grants = (
            await conn.execute(
                text(
                    "SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type)"
                    " FROM information_schema.role_table_grants WHERE grantee = :r"
                    " GROUP BY table_name"
                ),
                {"r": role.name},
            )
        ).all()
        columns = (
            await conn.execute(
                text(
                    "SELECT table_name, column_name, privilege_type"
                    " FROM information_schema.column_privileges WHERE grantee = :r"
                    " AND table_name = 'user_balances' AND privilege_type <> 'SELECT'"
                    " AND privilege_type <> 'INSERT'"
                ),
                {"r": role.name},
            )
        ).all()
    assert tuple(flags) == (True, False, False, False, False)
    assert dict(grants) == {
        "admin_prompts": "INSERT,SELECT,UPDATE",
        "currencies": "INSERT,SELECT,UPDATE",
        "notifications": "INSERT,SELECT,UPDATE",
        "payment_events": "INSERT,SELECT",
        "payments": "INSERT,SELECT,UPDATE",
        "status_check_limits": "INSERT,SELECT,UPDATE",
        "transactions": "INSERT,SELECT",
        "user_balances": "INSERT,SELECT",
        "users": "INSERT,SELECT,UPDATE",
        "withdrawal_requests": "INSERT,SELECT,UPDATE",
    }
    assert [tuple(c) for c in columns] == [("user_balances", "total_withdrawn", "UPDATE")]


def test_every_table_of_the_models_is_listed_in_the_grants() -> None:
    """A migration that adds a table must say what the app role may do with it."""
    assert set(Base.metadata.tables) | {"alembic_version"} == set(APP_GRANTS)


async def test_the_app_role_cannot_rewrite_the_ledger(
    app_db: Db, attacker: asyncpg.Connection
) -> None:
    user_id = await funded(app_db)
    (entry_id,) = await attacker.fetchrow(
        "SELECT id FROM transactions WHERE user_id = $1", user_id
    )
    refused: list[tuple[str, type[Exception]]] = [
        (
            "UPDATE transactions SET amount_usd = 1000 WHERE id = $1",
            asyncpg.InsufficientPrivilegeError,
        ),
        ("DELETE FROM transactions WHERE id = $1", asyncpg.InsufficientPrivilegeError),
    ]
    for sql, error in refused:
        with pytest.raises(error):
            await attacker.execute(sql, entry_id)
    for sql in (
        "TRUNCATE transactions",
        "ALTER TABLE transactions DISABLE TRIGGER transactions_immutable",
        "ALTER TABLE transactions DISABLE TRIGGER ALL",
        "ALTER TABLE user_balances DISABLE TRIGGER user_balances_guard",
        "DROP TRIGGER transactions_apply ON transactions",
        "ALTER TABLE transactions DROP CONSTRAINT ck_transactions_deposit_has_payment",
        "SET session_replication_role = replica",  # would switch every trigger off
        "CREATE TRIGGER t AFTER INSERT ON transactions"
        " FOR EACH ROW EXECUTE FUNCTION paybot_apply_transaction()",
        "SELECT paybot_apply_transaction()",
        "CREATE OR REPLACE FUNCTION paybot_guard_balances() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        "CREATE TABLE public.mine (id int)",
        "CREATE FUNCTION public.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "SELECT setval('transactions_id_seq', 1)",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await attacker.execute(sql)
    async with app_db.sessions() as session:
        entries = (await ledger.history(session, user_id)).entries
    assert [(e.type, e.amount) for e in entries] == [(TxType.DEPOSIT, D("100.00"))]


async def test_a_session_setting_does_not_open_the_balances(
    app_db: Db, attacker: asyncpg.Connection
) -> None:
    user_id = await funded(app_db, "10.00")
    other = (await make_user(app_db.sessions)).id
    await attacker.execute("SELECT set_config('paybot.ledger_write', 'on', false)")
    async with attacker.transaction():  # the mark the old guard trusted, both scopes
        await attacker.execute("SELECT set_config('paybot.ledger_write', 'on', true)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await attacker.execute(
                "UPDATE user_balances SET balance_usd = 1000000 WHERE user_id = $1", user_id
            )
    for sql, args in [
        ("UPDATE user_balances SET balance_usd = 1000000 WHERE user_id = $1", (user_id,)),
        ("UPDATE user_balances SET total_deposited = 0 WHERE user_id = $1", (user_id,)),
        ("DELETE FROM user_balances WHERE user_id = $1", (user_id,)),
        ("TRUNCATE user_balances", ()),
        (
            "INSERT INTO user_balances (user_id) VALUES ($1)"
            " ON CONFLICT (user_id) DO UPDATE SET balance_usd = 1000000",
            (user_id,),
        ),
    ]:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await attacker.execute(sql, *args)
    # What the grants allow, the guard still refuses: a new row with money, a shrinking total.
    with pytest.raises(asyncpg.RestrictViolationError, match="follows the ledger"):
        await attacker.execute(
            "INSERT INTO user_balances (user_id, balance_usd) VALUES ($1, 500)", other
        )
    # The one write the app makes itself: a completed withdrawal counts in total_withdrawn, up
    # to what the user's completed withdrawals add up to, never back down.
    grow = "UPDATE user_balances SET total_withdrawn = total_withdrawn + $2 WHERE user_id = $1"
    with pytest.raises(asyncpg.RestrictViolationError, match="follows the ledger"):
        await attacker.execute(grow, user_id, D("3.00"))
    async with app_db.sessions.begin() as session:
        withdrawal_id = await new_withdrawal(session, user_id, D("3.00"))
    await attacker.execute(
        "UPDATE withdrawal_requests SET status = 'completed', transaction_hash = 'h'"
        " WHERE id = $1",
        withdrawal_id,
    )
    await attacker.execute(grow, user_id, D("3.00"))
    for step in ("0.01", "-1.00"):
        with pytest.raises(asyncpg.RestrictViolationError, match="follows the ledger"):
            await attacker.execute(grow, user_id, D(step))
    view = await ledger_balance(app_db, user_id)
    assert (view.balance, view.total_deposited, view.total_withdrawn) == (
        D("10.00"),
        D("10.00"),
        D("3.00"),
    )


async def test_ledger_rows_need_their_cause(app_db: Db, attacker: asyncpg.Connection) -> None:
    user_id = await funded(app_db, "50.00")
    other = await funded(app_db, "5.00")
    async with app_db.sessions.begin() as session:
        others_payment = await new_payment(session, other, D("30.00"))
        mine = await new_payment(session, user_id, D("30.00"))
        pending = await new_withdrawal(session, user_id, D("20.00"))
        others_withdrawal = await new_withdrawal(session, other, D("20.00"))
    (seed_payment,) = await attacker.fetchrow(
        "SELECT payment_id FROM transactions WHERE user_id = $1", user_id
    )
    forged = [  # (type, amount, payment, withdrawal, the rule that refuses it)
        ("deposit", "1000.00", None, None, "ck_transactions_deposit_has_payment"),
        ("deposit", "30.00", others_payment, None, "is not user"),
        ("deposit", "50.00", seed_payment, None, "uq_transactions_deposit_payment"),
        ("refund", "20.00", None, None, "ck_transactions_hold_refund_has_withdrawal"),
        ("withdrawal", "-20.00", None, None, "ck_transactions_hold_refund_has_withdrawal"),
        ("refund", "20.00", mine, None, "ck_transactions_hold_refund_has_withdrawal"),
        ("refund", "20.00", None, pending, "refused: it is pending"),
        ("refund", "20.00", None, others_withdrawal, "is not user"),
        ("withdrawal", "-1.00", None, pending, "must move its amount"),
    ]
    for tx_type, amount, payment_id, withdrawal_id, rule in forged:
        key = f"forged:{secrets.token_hex(4)}"
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match=rule):
            await attacker.execute(
                CHAINED, user_id, tx_type, D(amount), payment_id, withdrawal_id, key
            )
    # A session's temporary table cannot stand in for `payments` inside the trigger.
    await attacker.execute(
        "CREATE TEMP TABLE payments AS SELECT id, $1::bigint AS user_id FROM public.payments",
        user_id,
    )
    with pytest.raises(asyncpg.CheckViolationError, match="is not user"):
        await attacker.execute(
            CHAINED, user_id, "deposit", D("30.00"), others_payment, None, "forged:temp"
        )
    # The real thing still goes through: a deposit of the user's own payment, once.
    await attacker.execute(CHAINED, user_id, "deposit", D("30.00"), mine, None, "deposit:mine")
    with pytest.raises(asyncpg.UniqueViolationError):
        await attacker.execute(CHAINED, user_id, "deposit", D("30.00"), mine, None, "again")
    assert (await ledger_balance(app_db, user_id)).balance == D("80.00")


async def test_the_money_paths_work_as_the_app_role(
    app_db: Db, fake: FakeNowPayments, client: NowPaymentsClient
) -> None:
    user = await make_user(app_db.sessions)
    settings = make_settings()
    service = make_service(app_db, client)
    for amount in ("60", "5"):  # one settled by "check status", one by the poller
        view = await service.create(user_id=user.id, amount_usd=amount, currency_code="BTC")
        assert view.provider_payment_id is not None
        fake.play(view.provider_payment_id, "finished")
        if amount == "60":
            assert (await drive(app_db, client, user, view.id))[-1] == "finished"
    poller = Poller(app_db.sessions, client, settings, policy=service.policy)
    for _ in range(12):
        await poller.run_once()
        if (await ledger_balance(app_db, user.id)).balance == D("65.00"):
            break
    assert (await ledger_balance(app_db, user.id)).balance == D("65.00")

    wd_settings = Settings(
        telegram=settings.telegram.model_copy(update={"admin_ids": [ADMIN_A, ADMIN_B]}),
        payments=settings.payments.model_copy(update={"max_pending_withdrawals": 10}),
    )
    wd = WithdrawalService(app_db.sessions, wd_settings)
    as_admin = AdminGate(wd_settings.telegram.admin_ids).authorize
    paid = await wd.request(user_id=user.id, currency_code="USDTTRC20", amount="20", address=TRX)
    refunded = await wd.request(
        user_id=user.id, currency_code="USDTTRC20", amount="15", address=TRX
    )
    await wd.approve(paid.id, admin=as_admin(ADMIN_A))
    await wd.start_processing(paid.id, admin=as_admin(ADMIN_B))
    await wd.complete(paid.id, admin=as_admin(ADMIN_B), tx_hash=TX_HASH)
    await wd.reject(refunded.id, admin=as_admin(ADMIN_A), reason="no")
    bonus = await Adjustments(app_db.sessions).post(
        user.telegram_id,
        D("2.50"),
        "thanks",
        admin=as_admin(ADMIN_A),
        key=f"bonus:{user.id}",
        kind=TxType.BONUS,
    )
    assert bonus.created
    view_balance = await ledger_balance(app_db, user.id)
    assert (view_balance.balance, view_balance.total_deposited, view_balance.total_withdrawn) == (
        D("47.50"),
        D("65.00"),
        D("20.00"),
    )
    async with app_db.sessions() as session:  # other tests' users share this database
        assert [m for m in await ledger.reconcile(session) if m.user_id == user.id] == []


async def test_rerunning_migrate_converges_and_changes_the_password(role: AppRole) -> None:
    async def state() -> tuple[Any, ...]:
        async with role.owner.engine.connect() as conn:
            grants = (
                await conn.execute(
                    text(
                        "SELECT table_name, privilege_type FROM information_schema"
                        ".role_table_grants WHERE grantee = :r ORDER BY 1, 2"
                    ),
                    {"r": role.name},
                )
            ).all()
            columns = (
                await conn.execute(
                    text(
                        "SELECT table_name, column_name, privilege_type FROM information_schema"
                        ".column_privileges WHERE grantee = :r ORDER BY 1, 2, 3"
                    ),
                    {"r": role.name},
                )
            ).all()
            verifier = await conn.scalar(
                text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"), {"r": role.name}
            )
        return [tuple(g) for g in grants], [tuple(c) for c in columns], verifier

    grants, columns, verifier = await state()
    assert matches(verifier, role.password)
    async with role.owner.engine.begin() as conn:  # drift an operator might add by hand
        await conn.exec_driver_sql(f'GRANT DELETE, TRUNCATE ON transactions TO "{role.name}"')
        await conn.exec_driver_sql(f'GRANT UPDATE ON user_balances TO "{role.name}"')
    new_password = secrets.token_urlsafe(18)
    await _migrate(role.settings(new_password))
    again, again_columns, new_verifier = await state()
    assert (again, again_columns) == (grants, columns)
    assert matches(new_verifier, new_password) and not matches(new_verifier, role.password)
    role.password = new_password  # the module's other tests connect with it
    conn = await asyncpg.connect(
        make_url(role.url(new_password)).set(drivername="postgresql").render_as_string(False)
    )
    assert await conn.fetchval("SELECT current_user") == role.name
    await conn.close()


def matches(verifier: str, password: str) -> bool:
    """Does a stored SCRAM-SHA-256 verifier belong to ``password``?"""
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key = keys.split(":")[0]
    assert method == "SCRAM-SHA-256" and int(iterations) > 0
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    return hmac.compare_digest(
        base64.b64encode(hashlib.sha256(client_key).digest()).decode(), stored_key
    )


async def test_a_role_without_password_is_created_nologin(fresh_db: Db) -> None:
    name = f"paybot_app_t{secrets.token_hex(5)}"
    try:
        await ensure_app_role(DatabaseSettings(app_role=name), fresh_db.url)
        await ensure_app_role(DatabaseSettings(app_role=name), fresh_db.url)  # no error
        async with fresh_db.engine.connect() as conn:
            login = await conn.scalar(
                text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :r"), {"r": name}
            )
            can_insert = await conn.scalar(
                text("SELECT has_table_privilege(:r, 'transactions', 'INSERT')"), {"r": name}
            )
        assert login is False and can_insert is True
    finally:
        await drop_role(fresh_db, name)


async def test_one_role_set_up_is_left_alone(
    fresh_db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    """The embedded server and CI: the app role named is the owner itself."""
    async with fresh_db.engine.connect() as conn:
        me = str(await conn.scalar(text("SELECT current_user")))
    await ensure_app_role(DatabaseSettings(app_role=me), fresh_db.url)
    assert "is the role migrations run as" in caplog.text
    async with fresh_db.engine.connect() as conn:
        assert await conn.scalar(text("SELECT has_table_privilege('transactions', 'UPDATE')"))


async def test_the_start_warning_names_superuser_and_owner(fresh_db: Db, app_db: Db) -> None:
    superuser = await privilege_warning(fresh_db.engine)
    assert superuser is not None and "superuser" in superuser
    assert await privilege_warning(app_db.engine) is None
    owner = f"paybot_owner_t{secrets.token_hex(5)}"
    async with fresh_db.engine.begin() as conn:
        await conn.exec_driver_sql(f'CREATE ROLE "{owner}" LOGIN')
        await conn.exec_driver_sql(f'ALTER TABLE transactions OWNER TO "{owner}"')
    engine = create_engine(make_url(fresh_db.url).set(username=owner).render_as_string(False))
    try:
        warning = await privilege_warning(engine)
    finally:
        await engine.dispose()
        async with fresh_db.engine.begin() as conn:
            await conn.exec_driver_sql(f'REASSIGN OWNED BY "{owner}" TO CURRENT_USER')
            await conn.exec_driver_sql(f'DROP OWNED BY "{owner}"')
            await conn.exec_driver_sql(f'DROP ROLE "{owner}"')
    assert warning is not None and "owner of the ledger" in warning and owner in warning


@pytest.mark.parametrize("name", ['x"; DROP TABLE users; --', "pg_app", "App", "1app", "a" * 64])
def test_app_role_must_be_a_plain_name(name: str) -> None:
    with pytest.raises(ValidationError, match="lower-case SQL name"):
        DatabaseSettings(app_role=name)


def test_passwords_of_both_roles_are_redacted() -> None:
    settings = Settings(
        database=DatabaseSettings(
            url=SecretStr("postgresql://paybot_app:app-url-secret@db/paybot"),
            owner_url=SecretStr("postgresql://owner:owner-url-secret@db/paybot"),
            app_password=SecretStr("app-password-secret"),
        )
    )
    assert {"app-url-secret", "owner-url-secret", "app-password-secret"} <= set(settings.secrets())


def test_scram_verifier_passes_the_rfc_7677_exchange() -> None:
    """RFC 7677's example (password "pencil"): the server keys derived from our verifier accept
    the client's proof and produce the server signature the RFC shows."""
    client_first = "n=user,r=rOprNGfwEbeRWgbNEkqO"
    server_first = (
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    )
    client_final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    proof = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    signature = base64.b64decode("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    auth = f"{client_first},{server_first},{client_final}".encode()

    verifier = scram_verifier("pencil", salt=base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="))
    stored_b64, server_b64 = verifier.split("$")[2].split(":")
    stored_key, server_key = base64.b64decode(stored_b64), base64.b64decode(server_b64)
    client_key = bytes(
        a ^ b for a, b in zip(proof, hmac.digest(stored_key, auth, "sha256"), strict=True)
    )
    assert hashlib.sha256(client_key).digest() == stored_key
    assert hmac.digest(server_key, auth, "sha256") == signature
    assert verifier.startswith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")


async def test_migrate_refuses_a_privileged_app_role_and_explains_a_missing_right(
    fresh_db: Db,
) -> None:
    strong = f"paybot_app_t{secrets.token_hex(5)}"
    weak_owner = f"paybot_owner_t{secrets.token_hex(5)}"
    password = secrets.token_urlsafe(18)
    try:
        async with fresh_db.engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE ROLE "{strong}" NOLOGIN SUPERUSER')
            await conn.exec_driver_sql(f'CREATE ROLE "{weak_owner}" LOGIN')
        with pytest.raises(ConfigError) as refused:
            await ensure_app_role(DatabaseSettings(app_role=strong), fresh_db.url)
        assert "is a superuser" in refused.value.params["detail"]
        async with fresh_db.engine.connect() as conn:  # nothing granted to it
            granted = await conn.scalar(
                text(
                    "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = :r"
                ),
                {"r": strong},
            )
            assert granted == 0
        weak_url = make_url(fresh_db.url).set(username=weak_owner).render_as_string(False)
        new_role = f"paybot_app_t{secrets.token_hex(5)}"
        settings = DatabaseSettings(app_role=new_role, app_password=SecretStr(password))
        with pytest.raises(ConfigError) as no_right:
            await ensure_app_role(settings, weak_url)
        detail = no_right.value.params["detail"]
        assert f"could not create role {new_role}" in detail and "CREATEROLE" in detail
        assert password not in detail and "SCRAM" not in detail
    finally:
        for name in (strong, weak_owner):
            await drop_role(fresh_db, name)


async def test_upgrade_stops_and_names_ledger_rows_the_new_rules_refuse(
    empty_database: str,
) -> None:
    engine = create_engine(empty_database, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run_alembic, "upgrade", "0003")
            for sql in (
                "INSERT INTO users (telegram_id) VALUES (1)",
                "INSERT INTO user_balances (user_id) VALUES (1)",
                "INSERT INTO transactions (user_id, type, amount_usd, balance_after,"
                " idempotency_key) VALUES (1, 'deposit', 5, 5, 'old-deposit')",
            ):
                await conn.execute(text(sql))
        with pytest.raises(RuntimeError, match="1 rows against ck_transactions_deposit_has"):
            async with engine.begin() as conn:
                await conn.run_sync(run_alembic, "upgrade", "head")
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT version_num FROM alembic_version")) == "0003"
    finally:
        await engine.dispose()
