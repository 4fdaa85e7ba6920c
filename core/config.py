"""Settings: environment (PAYBOT_ prefix, ``__`` nesting) > .env > YAML file > defaults.

The YAML file is named by PAYBOT_CONFIG (default ``config.dev.yaml``). pydantic-settings skips a
missing YAML file silently, so a file that was named explicitly is checked to exist.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.errors import ConfigError

CONFIG_ENV = "PAYBOT_CONFIG"
DEFAULT_CONFIG_FILE = "config.dev.yaml"
ENV_PREFIX = "PAYBOT_"
# The dotenv file to read instead of ./.env; set and empty: none (the test suite sets it so a
# developer's .env never changes what tests see).
ENV_FILE_ENV = "PAYBOT_ENV_FILE"
# Telegram tokens look like 123456789:AA... (digits, colon, 30+ url-safe characters).
TOKEN_RE = re.compile(r"[0-9]{3,20}:[A-Za-z0-9_-]{30,64}")


def _finite_money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if value < 0:
        raise ValueError("must not be negative")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("must have at most 2 decimals")
    return value


def _finite_percent(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0 or value >= 100:
        raise ValueError("must be a percentage from 0 to below 100")
    return value


Usd = Annotated[Decimal, AfterValidator(_finite_money)]
Percent = Annotated[Decimal, AfterValidator(_finite_percent)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse_ids(value: Any) -> Any:
    """Admin ids as `123`, `123,456` or JSON `[123, 456]` (env and YAML alike)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(
                "is not a list of Telegram user ids (use 123, 123,456 or [123, 456])"
            ) from None
    parts = [p for p in re.split(r"[,\s]+", text) if p]
    if not all(re.fullmatch(r"-?[0-9]+", p) for p in parts):
        raise ValueError("is not a list of Telegram user ids (use 123, 123,456 or [123, 456])")
    return [int(p) for p in parts]


class TelegramSettings(Section):
    bot_token: SecretStr | None = None
    # The admin group (negative id). Send /id in the group to learn it.
    admin_chat_id: int | None = None
    # Telegram user ids allowed to decide withdrawals: 123, "123,456" or [123, 456].
    # Send /id to the bot in a private chat to learn yours.
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    # The language of the admin chat (its texts, its command menu): one of the bot's locales.
    admin_language: Literal["en", "ru"] = "en"
    # A local telegram-bot-api server in production, the fake in tests.
    api_base_url: str | None = None
    fsm_storage: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    throttle_per_second: float = Field(default=2.0, gt=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if (
            value is not None
            and value.get_secret_value()
            and not TOKEN_RE.fullmatch(value.get_secret_value())
        ):
            raise ValueError(
                "is not a Telegram bot token (expected 123456:ABC..., from @BotFather)"
            )
        if value is not None and not value.get_secret_value():
            return None
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return _parse_ids(value)

    @field_validator("admin_chat_id")
    @classmethod
    def _group_chat(cls, value: int | None) -> int | None:
        if value is not None and value >= 0:
            raise ValueError(
                "must be a group chat id, which is negative (e.g. -1001234567890); a positive id"
                " is a private chat. Add the bot to the admin group and send /id there"
            )
        return value


# postgres://, postgresql:// and postgresql+<driver>:// (the driver is replaced by asyncpg).
_PG_SCHEME = re.compile(r"postgres(ql)?(\+[a-z0-9_]+)?")


# A role name that needs no quoting and is not reserved (pg_*).
ROLE_NAME_RE = re.compile(r"(?!pg_)[a-z_][a-z0-9_]{0,62}")


def _role_name(value: str) -> str:
    if not ROLE_NAME_RE.fullmatch(value):
        raise ValueError(
            "must be a lower-case SQL name: letters, digits and _, at most 63, not starting"
            " with a digit or pg_"
        )
    return value


class DatabaseSettings(Section):
    """``url`` is what the bot runs with (the app role in production); ``owner_url`` is what
    ``python -m bot migrate`` runs with (the owner of the schema; unset: ``url``). Migrate
    creates ``app_role`` if missing (LOGIN with ``app_password``, else NOLOGIN), sets its
    password when one is given and grants it only what the bot needs (docs/database-roles.md).
    """

    # Empty: an embedded PostgreSQL (pgserver) under data_dir.
    url: SecretStr | None = None
    owner_url: SecretStr | None = None
    app_role: Annotated[str, AfterValidator(_role_name)] = "paybot_app"
    app_password: SecretStr | None = None
    data_dir: Path = Path(".data/postgres")
    pool_size: int = Field(default=10, ge=1, le=200)
    echo: bool = False

    @field_validator("app_password")
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("url", "owner_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        """Parsed now, so a typo fails check-config rather than the first connection. The URL
        may hold a password: the messages never repeat it."""
        if value is None or not value.get_secret_value().strip():
            return None
        try:
            url = make_url(value.get_secret_value().strip())
        except (ArgumentError, ValueError):
            raise ValueError(
                "is not a database URL (expected postgresql://user:password@host:5432/dbname)"
            ) from None
        if not _PG_SCHEME.fullmatch(url.drivername):
            raise ValueError(
                f"must be a PostgreSQL URL (postgresql://...), not {url.drivername}://"
            )
        if not url.database:
            raise ValueError("names no database (postgresql://user:password@host:5432/dbname)")
        return value


# The login (email + password) is only needed for the list endpoint and as a fallback for
# get-payment; without it these features stop working (said at check-config and every start).
LOGIN_CONSEQUENCES = (
    "without nowpayments.email and nowpayments.password (the NOWPayments account login),"
    " repeat deposits to the same address are never credited or reported, and a deposit whose"
    " create call had an unknown outcome cannot be found by order_id"
)


# Keys that once existed: setting one is an error that says why it went.
REMOVED_KEYS = {
    "ipn_secret": (
        "ipn_secret is no longer a setting: paybot polls NOWPayments and receives no IPN"
        " webhooks, so nothing would read it. Remove nowpayments.ipn_secret from the config file"
        " and PAYBOT_NOWPAYMENTS__IPN_SECRET from the environment or .env"
    ),
}


class NowPaymentsSettings(Section):
    api_key: SecretStr | None = None
    sandbox: bool = True
    base_url: str | None = None
    email: str | None = None
    password: SecretStr | None = None
    # With sandbox false a missing login is a configuration error unless this is true.
    allow_without_login: bool = False
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    max_requests_per_second: float = Field(default=5.0, gt=0)
    # Provider budget (core.nowpayments.budget): the poller and the currency sync leave this many
    # requests in the bucket for users, so "create deposit"/"check status" never queue behind
    # them; bursts are at most 1 + this.
    user_reserve_requests: int = Field(default=1, ge=0, le=5)
    # The currency sync's own cap (inside the total above): ~200 coins take ~200 s at 1/s.
    catalog_requests_per_second: float = Field(default=1.0, gt=0, le=100)

    @model_validator(mode="before")
    @classmethod
    def _removed_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ipn_secret" in data:
            if data["ipn_secret"] not in (None, ""):  # an old file's empty entry is harmless
                raise ValueError(REMOVED_KEYS["ipn_secret"])
            data = {k: v for k, v in data.items() if k != "ipn_secret"}
        return data

    @field_validator("api_key", "password")
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @field_validator("email")
    @classmethod
    def _empty_email(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @property
    def has_login(self) -> bool:
        return self.email is not None and self.password is not None


class PaymentsSettings(Section):
    min_deposit_usd: Usd = Decimal("5.00")
    max_deposit_usd: Usd = Decimal("10000.00")
    deposit_presets_usd: list[Usd] = Field(
        default_factory=lambda: [Decimal("10"), Decimal("25"), Decimal("50"), Decimal("100")]
    )
    # Margin over the provider's minimum, because the rate moves between quote and create.
    provider_min_margin_percent: Percent = Decimal("10")
    # What arrived decides the credit (core.deposits.rules). A deposit the provider calls
    # partially_paid: "hold" (default) sends it to admin review; "credit" credits what arrived at
    # the invoice's rate, at most the invoiced amount.
    partial_payment_policy: Literal["credit", "hold"] = "hold"
    # How far actually_paid may differ from pay_amount (either way) for a "finished" deposit to
    # be credited without an admin; beyond it, or with nothing paid, it goes to review.
    overpayment_tolerance_percent: Percent = Field(default=Decimal("1"), le=100)
    # Within the tolerance: false credits the invoiced amount, true credits what arrived at the
    # invoice's rate (at most the invoiced amount plus the tolerance).
    credit_overpayment: bool = False
    # Deposits that ended without money (expired, failed) are asked about again until
    # late_check_window_hours after creation (the provider's 7 days): every
    # late_check_intervals_seconds[i] while the time since the end is below
    # late_check_phase_seconds[i] (the last interval after that).
    late_check_window_hours: float = Field(default=168.0, ge=0, le=24 * 31)
    late_check_intervals_seconds: list[float] = Field(
        default_factory=lambda: [300.0, 1800.0, 10800.0], min_length=1
    )
    late_check_phase_seconds: list[float] = Field(default_factory=lambda: [3600.0, 43200.0])
    # The user's "Check status" asks the provider at most this often per user per minute.
    status_checks_per_minute: int = Field(default=5, ge=1, le=1000)

    min_withdrawal_usd: Usd = Decimal("10.00")
    max_withdrawal_usd: Usd = Decimal("10000.00")
    min_withdrawal_by_currency: dict[str, Usd] = Field(default_factory=dict)
    default_network_fee_usd: Usd = Decimal("1.00")
    network_fee_by_currency: dict[str, Usd] = Field(default_factory=dict)
    service_fee_fixed_usd: Usd = Decimal("0.00")
    service_fee_percent: Percent = Decimal("1")
    max_pending_withdrawals: int = Field(default=3, ge=1)
    # Four eyes: an admin may not approve, process or complete their own withdrawal (rejecting
    # it is fine: that only refunds). Set true for a one-admin bot.
    allow_self_approval: bool = False
    daily_withdrawal_cap_usd: Usd = Decimal("5000.00")

    poll_interval_seconds: float = Field(default=10.0, gt=0)
    poll_batch_size: int = Field(default=50, ge=1, le=1000)
    poll_concurrency: int = Field(default=10, ge=1, le=200)
    poll_lease_seconds: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _ranges(self) -> PaymentsSettings:
        if self.min_deposit_usd > self.max_deposit_usd:
            raise ValueError("min_deposit_usd is above max_deposit_usd")
        if self.min_withdrawal_usd > self.max_withdrawal_usd:
            raise ValueError("min_withdrawal_usd is above max_withdrawal_usd")
        if any(v <= 0 for v in self.late_check_intervals_seconds):
            raise ValueError("late_check_intervals_seconds must be positive")
        if len(self.late_check_phase_seconds) != len(self.late_check_intervals_seconds) - 1:
            raise ValueError("late_check_phase_seconds needs one entry fewer than the intervals")
        if self.late_check_phase_seconds != sorted(self.late_check_phase_seconds):
            raise ValueError("late_check_phase_seconds must be ascending")
        return self


class NotifierSettings(Section):
    """The outbox sender (bot/notifier.py)."""

    global_per_second: float = Field(default=25.0, gt=0)
    per_chat_per_second: float = Field(default=1.0, gt=0)
    group_per_minute: float = Field(default=20.0, gt=0)
    batch_size: int = Field(default=50, ge=1)
    # Transient failures (network, 5xx, 429) are retried, backing off up to retry_max_seconds,
    # until the row is this old; then it ends failed and the admin chat is alerted.
    give_up_after_seconds: float = Field(default=86_400.0, gt=0)
    retry_max_seconds: float = Field(default=600.0, gt=0)
    # A claimed row comes back after this if the process dies without settling it (at once
    # when the next process starts: it releases every claim). Must outlast a send.
    lease_seconds: float = Field(default=40.0, gt=0)
    # A send that Telegram has not answered by then is a network error (retried).
    send_timeout_seconds: float = Field(default=20.0, gt=0)
    # Alert the admin chat (once per episode) when the oldest queued row is this old.
    backlog_alert_seconds: float = Field(default=600.0, gt=0)

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> NotifierSettings:
        if self.lease_seconds <= self.send_timeout_seconds:
            raise ValueError("lease_seconds must be longer than send_timeout_seconds")
        return self


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # One JSON object per line (ts, level, logger, message and ids such as payment_id as fields).
    json_format: bool = False


class ObservabilitySettings(Section):
    """The /healthz and /metrics HTTP endpoint; off unless a port is set (0 = any free port)."""

    http_port: int | None = Field(default=None, ge=0, le=65535)
    # Loopback by default: the endpoint has no authentication.
    http_host: str = "127.0.0.1"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        frozen=True,
    )

    telegram: TelegramSettings = TelegramSettings()
    database: DatabaseSettings = DatabaseSettings()
    nowpayments: NowPaymentsSettings = NowPaymentsSettings()
    payments: PaymentsSettings = PaymentsSettings()
    notifier: NotifierSettings = NotifierSettings()
    logging: LoggingSettings = LoggingSettings()
    observability: ObservabilitySettings = ObservabilitySettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = config_file_path()
        return (
            init_settings,
            env_settings,
            dotenv_source(settings_cls),
            YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file),
        )

    def secrets(self) -> list[str]:
        """Every secret value that is set, for log redaction."""
        values = [
            self.telegram.bot_token,
            self.nowpayments.api_key,
            self.nowpayments.password,
            self.database.app_password,
        ]
        found = [v.get_secret_value() for v in values if v is not None]
        urls = [u.get_secret_value() for u in (self.database.url, self.database.owner_url) if u]
        for text in (*urls, self.telegram.redis_url):
            password = _URL_PASSWORD.search(text)
            if password:
                found.append(password.group(1))
        return [s for s in found if s]


# The password of scheme://user:password@host (user may be empty, as in redis://:pw@host).
_URL_PASSWORD = re.compile(r"://[^:/@]*:([^@]+)@")


def dotenv_source(settings_cls: type[BaseSettings]) -> DotEnvSettingsSource:
    """./.env, or the file PAYBOT_ENV_FILE names (set and empty: no file)."""
    named = os.environ.get(ENV_FILE_ENV)
    env_file = ".env" if named is None else (named or None)
    return DotEnvSettingsSource(settings_cls, env_file=env_file)


def config_file_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


def _env_name(loc: tuple[Any, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(p for p in error["loc"] if not isinstance(p, int))
    key = ".".join(str(p) for p in loc) or "(settings)"
    message = str(error["msg"]).removeprefix("Value error, ")
    if message in REMOVED_KEYS.values():
        return f"{key}: {message}"
    how = (
        f"set {_env_name(loc)} in the environment or .env, or `{key}` in {config_file_path()}"
        if loc
        else f"check {config_file_path()}"
    )
    return f"{key}: {message} ({how})"


def load_settings(**overrides: Any) -> Settings:
    """Build Settings or raise ConfigError listing every bad key and how to set it."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit and not Path(explicit).is_file():
        raise ConfigError(
            "missing_file",
            detail=f"{CONFIG_ENV}={explicit} names a file that does not exist",
        )
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [_describe(dict(e)) for e in exc.errors(include_url=False, include_input=False)]
        raise ConfigError("invalid", detail="\n".join(lines)) from None
    except SettingsError as exc:  # a nested value in the environment is not valid JSON
        raise ConfigError("unparsable_env", detail=_env_parse_problem(exc)) from None
    except (OSError, ValueError, yaml.YAMLError) as exc:  # unreadable or malformed YAML
        raise ConfigError("unreadable", detail=f"{config_file_path()}: {exc}") from None


def _env_parse_problem(exc: SettingsError) -> str:
    match = re.search(r'field "(\w+)"', str(exc))
    section = match.group(1) if match else ""
    prefix = f"{ENV_PREFIX}{section.upper()}__"
    names = sorted(k for k in os.environ if section and k.upper().startswith(prefix))
    where = ", ".join(names) or f"{prefix}* variables"
    return (
        f"{section or '(settings)'}: a value set in the environment or .env could not be parsed"
        f" (check {where}; lists and maps are JSON, e.g."
        f" {ENV_PREFIX}PAYMENTS__DEPOSIT_PRESETS_USD='[10,25]'; or set `{section}` in"
        f" {config_file_path()})"
    )


def _how(key: str) -> str:
    return (
        f"set {_env_name(tuple(key.split('.')))} in the environment or .env, or `{key}` in"
        f" {config_file_path()}"
    )


# What `run` needs besides valid values: (key, why it is needed).
_REQUIRED = (
    ("telegram.bot_token", "missing (get one from @BotFather)"),
    (
        "telegram.admin_chat_id",
        "missing (the group that receives withdrawal cards; send /id there)",
    ),
    (
        "telegram.admin_ids",
        "empty (Telegram user ids allowed to decide withdrawals: 123,456 or [123, 456]; each"
        " admin sends /id to the bot to learn theirs)",
    ),
    ("nowpayments.api_key", "missing (from the NOWPayments dashboard)"),
)


def _is_unset(settings: Settings, key: str) -> bool:
    section, name = key.split(".")
    value = getattr(getattr(settings, section), name)
    return value is None or value == []


@dataclass(frozen=True, slots=True)
class Checked:
    settings: Settings
    warnings: list[str]


def login_warning(settings: Settings) -> str | None:
    """What will not work without the provider login, or None when it is set."""
    if settings.nowpayments.has_login:
        return None
    return f"nowpayments.email/password: not set; {LOGIN_CONSEQUENCES}"


def bot_problems(settings: Settings, skip: frozenset[str] = frozenset()) -> list[str]:
    """What `run` cannot do without, besides invalid values (keys in ``skip`` already have a
    problem reported)."""
    problems = [
        f"{key}: {why} ({_how(key)})"
        for key, why in _REQUIRED
        if key not in skip and _is_unset(settings, key)
    ]
    np = settings.nowpayments
    if not np.sandbox and not np.has_login and not np.allow_without_login:
        problems.append(
            f"nowpayments.email/password: required with sandbox: false; {LOGIN_CONSEQUENCES}."
            " Set both (PAYBOT_NOWPAYMENTS__EMAIL, PAYBOT_NOWPAYMENTS__PASSWORD), or accept"
            " that with nowpayments.allow_without_login: true"
            " (PAYBOT_NOWPAYMENTS__ALLOW_WITHOUT_LOGIN=true)"
        )
    return problems


def check_settings() -> Checked:
    """The one validation `run` and `check-config` share: every invalid value and every missing
    one, all at once, in a ConfigError; warnings (e.g. no provider login) otherwise."""
    try:
        settings = load_settings()
        invalid: list[str] = []
    except ConfigError as exc:
        if exc.reason != "invalid":
            raise
        settings, invalid = _partial_settings()
    skip = frozenset(line.split(":", 1)[0] for line in invalid)
    problems = invalid + bot_problems(settings, skip)
    if problems:
        raise ConfigError("invalid", detail="\n".join(problems))
    warning = login_warning(settings)
    return Checked(settings, [warning] if warning else [])


# --- raw sources: every problem at once, and where each value came from ----------------------


def raw_sources() -> dict[str, dict[str, Any]]:
    """The values each source sets, highest priority first (as Settings merges them)."""
    yaml_file = config_file_path()
    return {
        "env": EnvSettingsSource(Settings)(),
        ".env": dotenv_source(Settings)(),
        f"YAML file {yaml_file}": YamlConfigSettingsSource(Settings, yaml_file=yaml_file)(),
    }


def _merged(sources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for values in reversed(list(sources.values())):
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return merged


def _partial_settings() -> tuple[Settings, list[str]]:
    """Validate section by section, dropping each bad key (its default stands in), so the
    missing settings can be reported next to the invalid ones."""
    raw = _merged(raw_sources())
    problems = [
        _describe({"loc": (name,), "msg": "is not a settings section"})
        for name in raw
        if name not in Settings.model_fields
    ]
    sections: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        data = raw.get(name, {})
        if not isinstance(data, dict):
            problems.append(_describe({"loc": (name,), "msg": "must be a mapping of keys"}))
            data = {}
        for _ in range(len(data) + 1):
            try:
                sections[name] = model.model_validate(data)
                break
            except ValidationError as exc:
                errors = exc.errors(include_url=False, include_input=False)
                problems += [_describe({**e, "loc": (name, *e["loc"])}) for e in errors]
                bad = {e["loc"][0] for e in errors if e["loc"]} or (REMOVED_KEYS.keys() & data)
                data = {k: v for k, v in data.items() if k not in bad} if bad else {}
        else:
            sections[name] = model()
    return Settings.model_construct(**sections), problems


SECRET_MASK = "********"


def effective_values(settings: Settings) -> list[tuple[str, str, str]]:
    """(key, shown value, origin) for every setting; secrets masked, the database URL without
    its password. Origin: env, .env, the YAML file, or default."""
    sources = raw_sources()
    rows = []
    for section_name in Settings.model_fields:
        section = getattr(settings, section_name)
        for name in type(section).model_fields:
            value = getattr(section, name)
            origin = next(
                (
                    where
                    for where, values in sources.items()
                    if isinstance(values.get(section_name), dict) and name in values[section_name]
                ),
                "default",
            )
            rows.append((f"{section_name}.{name}", _shown(section_name, name, value), origin))
    return rows


def _shown(section: str, name: str, value: Any) -> str:
    if isinstance(value, SecretStr):
        if section == "database" and name == "url":
            try:
                return make_url(value.get_secret_value()).render_as_string(hide_password=True)
            except (ArgumentError, ValueError):
                return SECRET_MASK
        return SECRET_MASK
    if value is None:
        return "(not set)"
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    text = str(value)
    password = _URL_PASSWORD.search(text)
    if password:  # e.g. telegram.redis_url
        text = text[: password.start(1)] + "***" + text[password.end(1) :]
    return text
