"""The two database roles: the owner (runs migrations) and the app role the bot runs as.

``ensure_app_role`` runs after every migrate, as the owner: it creates the app role if missing,
sets its password when one is configured and re-grants exactly ``APP_GRANTS`` (everything else
it had on the schema is revoked first, so a re-run converges). The app role can append to the
ledger but never rewrite it, and can only move a balance through the ledger trigger (a SECURITY
DEFINER function owned by the owner, migration 0004). docs/database-roles.md is the operator's
side of this.

``privilege_warning`` is the start-up check: a bot that runs as a superuser or as the owner of
the ledger could switch the ledger's triggers off.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import unicodedata
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.config import DatabaseSettings
from core.db.session import asyncpg_url, create_engine, database_url
from core.errors import ConfigError

log = logging.getLogger(__name__)

SCHEMA = "public"

# What the bot does to each table (read from core/): the ledger is append-only, a balance moves
# only through the ledger trigger; the app itself only creates a zero balance row, locks it
# (FOR UPDATE needs UPDATE on some column) and counts completed withdrawals in total_withdrawn.
# Nothing deletes. A table added by a migration must be listed here (a test checks).
APP_GRANTS: Mapping[str, tuple[str, ...]] = {
    "users": ("SELECT", "INSERT", "UPDATE"),
    "currencies": ("SELECT", "INSERT", "UPDATE"),
    "payments": ("SELECT", "INSERT", "UPDATE"),
    "payment_events": ("SELECT", "INSERT"),
    "withdrawal_requests": ("SELECT", "INSERT", "UPDATE"),
    "notifications": ("SELECT", "INSERT", "UPDATE"),
    "status_check_limits": ("SELECT", "INSERT", "UPDATE"),
    "transactions": ("SELECT", "INSERT"),
    "user_balances": ("SELECT", "INSERT", "UPDATE (total_withdrawn)"),
    # A question is asked (INSERT, or an upsert over a stale row with the same message id),
    # then answered once (used_at); expired rows stay, so a late answer still hears that its
    # question expired.
    "admin_prompts": ("SELECT", "INSERT", "UPDATE"),
    "alembic_version": (),
}

SCRAM_ITERATIONS = 4096  # PostgreSQL's own default (scram_iterations)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def scram_verifier(password: str, *, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802/7677), so the
    password itself never reaches the server: not its statement log, not an error message.
    NFKC stands in for SASLprep, which equals it for every ASCII password."""
    salt = salt if salt is not None else os.urandom(16)
    secret = unicodedata.normalize("NFKC", password).encode()
    salted = hashlib.pbkdf2_hmac("sha256", secret, salt, SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def owner_url(settings: DatabaseSettings) -> str:
    """What migrations run with: ``owner_url``, else the bot's own URL (one role: the embedded
    server, CI)."""
    if settings.owner_url is not None:
        return asyncpg_url(settings.owner_url.get_secret_value().strip())
    return database_url(settings)


async def _scalar(conn: AsyncConnection, sql: str, *args: object) -> object:
    return (await conn.exec_driver_sql(sql, args)).scalar()


async def _ensure_role(conn: AsyncConnection, role: str, password: str | None) -> bool:
    """Create the role (LOGIN with a password, else NOLOGIN) or set its password (an existing
    role without a configured password is left as it is); True if it was created."""
    exists = await _scalar(conn, "SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    if exists and password is None:
        return False
    verb = "ALTER" if exists else "CREATE"
    statement = f"{verb} ROLE {quote_ident(role)}"
    if password is None:
        statement += " NOLOGIN"
    else:
        statement += f" LOGIN PASSWORD '{scram_verifier(password)}'"
    if not exists:
        statement += " NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    try:
        await conn.exec_driver_sql(statement)
    except DBAPIError as exc:  # reported without the statement: it carries the verifier
        reason = exc.orig.__cause__ if exc.orig and exc.orig.__cause__ else exc.orig
        raise ConfigError(
            "invalid",
            detail=f"database.app_role: could not {verb.lower()} role {role}: {reason} (the"
            " owner needs CREATEROLE, or an administrator creates the role and migrate is run"
            " without database.app_password; docs/database-roles.md)",
        ) from None
    return not exists


async def _refuse_privileged(conn: AsyncConnection, role: str) -> None:
    row: Any = (
        await conn.exec_driver_sql(
            "SELECT r.rolsuper OR r.rolbypassrls, pg_has_role($1, current_user, 'MEMBER')"
            " FROM pg_roles r WHERE r.rolname = $1",
            (role,),
        )
    ).one()
    if row[0] or row[1]:
        raise ConfigError(
            "invalid",
            detail=f"database.app_role: {role} is a superuser, bypasses row security or is (a"
            " member of) the owner; the bot's role must be an ordinary one",
        )


async def grant_app_role(conn: AsyncConnection, role: str) -> list[str]:
    """Revoke what the role has on the schema and grant exactly APP_GRANTS; returns the
    tables found that APP_GRANTS does not list (they get nothing)."""
    who = quote_ident(role)
    schema = quote_ident(SCHEMA)
    database = quote_ident(str(await _scalar(conn, "SELECT current_database()")))
    for kind in ("TABLES", "SEQUENCES", "FUNCTIONS"):
        await conn.exec_driver_sql(f"REVOKE ALL ON ALL {kind} IN SCHEMA {schema} FROM {who}")
    await conn.exec_driver_sql(f"REVOKE ALL ON SCHEMA {schema} FROM {who}")
    await conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {database} TO {who}")
    await conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {who}")
    tables = (
        await conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1", (SCHEMA,)
        )
    ).scalars()
    unlisted = []
    for table in tables:
        privileges = APP_GRANTS.get(table)
        if privileges is None:
            unlisted.append(table)
        elif privileges:
            name = f"{schema}.{quote_ident(table)}"
            await conn.exec_driver_sql(f"GRANT {', '.join(privileges)} ON {name} TO {who}")
    # nextval for the id columns; setval needs UPDATE, which no sequence gets.
    await conn.exec_driver_sql(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {who}")
    if await _scalar(conn, "SELECT has_schema_privilege($1, $2, 'CREATE')", role, SCHEMA):
        # PostgreSQL < 15 lets everyone create in public.
        await conn.exec_driver_sql(f"REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC")
        if await _scalar(conn, "SELECT has_schema_privilege($1, $2, 'CREATE')", role, SCHEMA):
            log.warning(
                "app role %s can still create objects in schema %s (granted through another"
                " role?): revoke it as the schema's owner",
                role,
                SCHEMA,
            )
    return unlisted


async def ensure_app_role(settings: DatabaseSettings, url: str | None = None) -> None:
    """Create/update the app role and its grants, connected as the owner (``url``, default
    ``owner_url(settings)``). Idempotent; one transaction."""
    role = settings.app_role
    password = settings.app_password.get_secret_value() if settings.app_password else None
    engine = create_engine(url or owner_url(settings), pool_size=1)
    try:
        async with engine.begin() as conn:
            # Two migrates at once (two replicas starting) would race on CREATE ROLE.
            await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('paybot.roles'))")
            owner = str(await _scalar(conn, "SELECT current_user"))
            if owner == role:
                log.warning(
                    "database.app_role %s is the role migrations run as: no separate app role"
                    " (fine for the embedded server and CI, not for production)",
                    role,
                )
                return
            created = await _ensure_role(conn, role, password)
            await _refuse_privileged(conn, role)
            unlisted = await grant_app_role(conn, role)
            can_login = await _scalar(
                conn, "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", role
            )
    finally:
        await engine.dispose()
    if unlisted:
        log.warning(
            "app role %s got no privileges on tables core/db/roles.py does not list: %s",
            role,
            ", ".join(unlisted),
        )
    log.info(
        "app role %s %s, grants up to date%s",
        role,
        "created" if created else "exists",
        "" if can_login else " (NOLOGIN: set database.app_password and migrate again to log in)",
    )
    _warn_if_bot_is_not_app_role(settings, owner)


def _warn_if_bot_is_not_app_role(settings: DatabaseSettings, owner: str) -> None:
    if settings.owner_url is None or settings.url is None:
        return
    user = make_url(asyncpg_url(settings.url.get_secret_value().strip())).username
    if user != settings.app_role:
        log.warning(
            "database.url connects as %s, not as database.app_role %s%s",
            user,
            settings.app_role,
            ": the bot runs with the owner's rights" if user == owner else "",
        )


async def privilege_warning(engine: AsyncEngine) -> str | None:
    """Why the bot's role is too strong, or None: a superuser or the owner of the ledger can
    disable its triggers and rewrite it."""
    async with engine.connect() as conn:
        row: Any = (
            await conn.exec_driver_sql(
                "SELECT current_user, r.rolsuper,"
                " coalesce(pg_has_role(current_user, c.relowner, 'USAGE'), false)"
                " FROM pg_roles r LEFT JOIN pg_class c"
                " ON c.oid = to_regclass('public.transactions')"
                " WHERE r.rolname = current_user"
            )
        ).one()
    user, superuser, owner = row
    if superuser:
        return (
            f"the bot connects as {user}, a superuser: it could disable the ledger's triggers"
            " and rewrite balances; run it as the app role (docs/database-roles.md)"
        )
    if owner:
        return (
            f"the bot connects as {user}, the owner of the ledger: it could disable its triggers"
            " and rewrite balances; run it as the app role (docs/database-roles.md)"
        )
    return None


async def warn_if_privileged(engine: AsyncEngine) -> None:
    """Log a WARNING at start when the bot's role is too strong (the embedded server and CI
    run with one role on purpose, so it is not an error)."""
    warning = await privilege_warning(engine)
    if warning is not None:
        log.warning("%s", warning)
