# Two entry points for a fresh machine that has only Python: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint migrate bench clean

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bot migrate
	$(BIN)/python -m bot run

migrate: $(STAMP)
	$(BIN)/python -m bot migrate

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy core bot tests bench migrations
	$(BIN)/vulture

# Three workers (pytest-xdist) on the 2-core machine this is measured on: the suite waits on
# child processes, checkpoints and fakes as well as the CPU (load ~1-2: 64-70 s of pytest with 3,
# 79 s with 2, 74 s with 4). Whole modules per worker, so a module's own database is built once;
# the slowest modules are handed out first (tests/conftest.py SLOW_FIRST, kept in order by
# --no-loadscope-reorder).
PYTEST_WORKERS ?= 3

test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: $(STAMP)
	$(BIN)/python -m bench.ledger
	$(BIN)/python -m bench.poller
	$(BIN)/python -m bench.bot
	$(BIN)/python -m bench.provider
	$(BIN)/python -m bench.notifier

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
