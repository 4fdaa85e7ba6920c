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

# Two workers (pytest-xdist): the machine this is measured on has 2 cores; whole modules per
# worker, so a module's own database is built once. More workers only add databases.
PYTEST_WORKERS ?= 2

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
