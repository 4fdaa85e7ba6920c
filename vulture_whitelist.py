"""Names vulture takes for dead code that are used all the same (read by vulture only, never
imported). Whole families are ignored in [tool.vulture] in pyproject.toml instead."""

# ruff: noqa: B018, F821

# pydantic-settings calls this hook by name; it must accept every source, used or not.
_.settings_customise_sources
file_secret_settings
dotenv_settings  # replaced by core.config.dotenv_source (PAYBOT_ENV_FILE)

# The ORM models declare the schema that tests/integration/test_migrations.py compares with
# the migrations; their rows are read and written by raw SQL (core/ledger.py, core/outbox.py).
StatusCheckLimit
UserBalance
Notification
window_start
meta
sent_at
SENT
SKIPPED

# decimal.localcontext(): setting the precision is the point of the assignment.
_.prec

# Parsed provider reply fields: they document the reply and are validated when present.
max_amount
priority
extra_id_regex
logo_url
track
cg_id
is_maxlimit
smart_contract
deposit_fee
withdrawal_fee
actually_paid_at_fiat
payin_hash
payout_hash
fee
payout_extra_id

# Protocol signatures: __aexit__ arguments; http.server calls these handler methods.
exc_type
tb
_.do_GET
_.log_message

# A pytest fixture requested for its side effect (it restores the root logger).
restore_root

# PEP 562: bot.texts renders its constant-looking names (texts.HELP) when they are read.
__getattr__
