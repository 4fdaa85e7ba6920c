"""Settings: environment (PAYBOT_ prefix, ``__`` nesting) > .env > YAML file > defaults.

The YAML file is named by PAYBOT_CONFIG (default ``config.dev.yaml``). pydantic-settings skips a
missing YAML file silently, so a file that was named explicitly is checked to exist.
"""

from __future__ import annotations

import os
import re
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
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from core.errors import ConfigError

CONFIG_ENV = "PAYBOT_CONFIG"
DEFAULT_CONFIG_FILE = "config.dev.yaml"
ENV_PREFIX = "PAYBOT_"
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


class TelegramSettings(Section):
    bot_token: SecretStr | None = None
    admin_chat_id: int | None = None
    admin_ids: list[int] = Field(default_factory=list)
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


class DatabaseSettings(Section):
    # Empty: an embedded PostgreSQL (pgserver) under data_dir.
    url: SecretStr | None = None
    data_dir: Path = Path(".data/postgres")
    pool_size: int = Field(default=10, ge=1, le=200)
    echo: bool = False


class NowPaymentsSettings(Section):
    api_key: SecretStr | None = None
    ipn_secret: SecretStr | None = None
    sandbox: bool = True
    base_url: str | None = None
    email: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    max_requests_per_second: float = Field(default=5.0, gt=0)


class PaymentsSettings(Section):
    min_deposit_usd: Usd = Decimal("5.00")
    max_deposit_usd: Usd = Decimal("10000.00")
    deposit_presets_usd: list[Usd] = Field(
        default_factory=lambda: [Decimal("10"), Decimal("25"), Decimal("50"), Decimal("100")]
    )
    # Margin over the provider's minimum, because the rate moves between quote and create.
    provider_min_margin_percent: Percent = Decimal("10")
    partial_payment_policy: Literal["credit", "hold"] = "credit"
    # Overpayment beyond this share of pay_amount is credited pro rata; within it, the price.
    overpayment_tolerance_percent: Percent = Decimal("1")
    credit_overpayment: bool = True

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
    json_format: bool = False


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
            dotenv_settings,
            YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file),
        )

    def secrets(self) -> list[str]:
        """Every secret value that is set, for log redaction."""
        values = [
            self.telegram.bot_token,
            self.nowpayments.api_key,
            self.nowpayments.ipn_secret,
            self.nowpayments.password,
        ]
        found = [v.get_secret_value() for v in values if v is not None]
        url = self.database.url.get_secret_value() if self.database.url else ""
        password = re.search(r"://[^:/@]+:([^@]+)@", url)
        if password:
            found.append(password.group(1))
        return [s for s in found if s]


def config_file_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)


def _env_name(loc: tuple[Any, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(p for p in error["loc"] if not isinstance(p, int))
    key = ".".join(str(p) for p in loc) or "(settings)"
    message = str(error["msg"]).removeprefix("Value error, ")
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
        f" {ENV_PREFIX}TELEGRAM__ADMIN_IDS='[123,456]'; or set `{section}` in"
        f" {config_file_path()})"
    )


def require_bot_settings(settings: Settings) -> None:
    """The bot can't run without these; say which key is missing and how to set it."""
    problems = []
    if settings.telegram.bot_token is None:
        problems.append(
            "telegram.bot_token: missing (get one from @BotFather; set PAYBOT_TELEGRAM__BOT_TOKEN"
            f" in the environment or .env, or `telegram.bot_token` in {config_file_path()})"
        )
    if settings.telegram.admin_chat_id is None:
        problems.append(
            "telegram.admin_chat_id: missing (the group that receives withdrawal cards; set"
            " PAYBOT_TELEGRAM__ADMIN_CHAT_ID in the environment or .env, or"
            f" `telegram.admin_chat_id` in {config_file_path()})"
        )
    if not settings.telegram.admin_ids:
        problems.append(
            "telegram.admin_ids: empty (Telegram user ids allowed to decide withdrawals; set"
            " PAYBOT_TELEGRAM__ADMIN_IDS='[123,456]' in the environment or .env, or"
            f" `telegram.admin_ids` in {config_file_path()})"
        )
    if settings.nowpayments.api_key is None:
        problems.append(
            "nowpayments.api_key: missing (set PAYBOT_NOWPAYMENTS__API_KEY in the environment or"
            f" .env, or `nowpayments.api_key` in {config_file_path()})"
        )
    if problems:
        raise ConfigError("incomplete", detail="\n".join(problems))
