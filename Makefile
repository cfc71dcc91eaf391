# Two commands: `make run` (set up and run the bot) and `make test` (set up and run every check).
# Installs come from the lock files (exact versions, hashes checked); `make lock` refreshes them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
# Test processes side by side: most tests wait on a bot process or a deadline, not on the CPU,
# so 6 fit a 2-CPU machine; an idle process takes tests from a busy one (worksteal).
# `make test TEST_WORKERS=1` runs them one after another.
TEST_WORKERS ?= 6

# A .venv made by a Python older than 3.11 (or whose Python is gone) is rebuilt, saying so.
VENV_PY := $(shell [ -e $(BIN)/python ] && { $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2]); sys.exit(sys.version_info < (3, 11))' 2>/dev/null || echo stale; })
ifneq ($(filter stale,$(VENV_PY)),)
$(info make: $(VENV) was made by Python $(firstword $(VENV_PY)) (or it no longer runs); FLEXUS needs 3.11+: rebuilding it)
$(shell rm -rf $(VENV))
endif

.PHONY: run test lint check-config upgrade backup lock clean

# The project's byte-code is written first (a moment when it is up to date): with
# PYTHONDONTWRITEBYTECODE set, every start would compile the bot's modules again.
run: $(VENV)/.installed
	@$(BIN)/python -m compileall -q bot handlers models alembic
	$(BIN)/flexus-bot run

# mypy runs beside the tests (they mostly wait on sockets and deadlines); its report is printed
# after theirs, and either failing fails the target. The project's byte-code is written first:
# the suite starts the bot some two hundred times, and with PYTHONDONTWRITEBYTECODE set (as on
# many CI machines) each start would compile every module again.
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(BIN)/python -m compileall -q bot handlers models tests alembic
	@typed=$$(mktemp); $(BIN)/mypy > $$typed 2>&1 & mypy=$$!; \
	  echo "$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal  (mypy beside it)"; \
	  status=0; $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal || status=$$?; \
	  wait $$mypy || status=1; echo "$(BIN)/mypy"; cat $$typed; rm -f $$typed; exit $$status

check-config: $(VENV)/.installed
	$(BIN)/flexus-bot check --online

upgrade: $(VENV)/.installed
	$(BIN)/flexus-bot db upgrade

backup: $(VENV)/.installed
	$(BIN)/flexus-bot db backup

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "make: $(PYTHON) is Python $$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); FLEXUS needs 3.11+: install it and run e.g. 'make PYTHON=python3.11 run'" >&2; exit 2; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "make: $(PYTHON) cannot make virtual environments: install python3-venv (sudo apt install python3-venv)" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml requirements.lock | $(VENV)/bin/python
	$(PIP) install --require-hashes -r requirements.lock
	$(PIP) install --no-deps -e .
	$(PIP) check
	touch $@

$(VENV)/.installed-dev: pyproject.toml requirements-dev.lock | $(VENV)/bin/python
	$(PIP) install --require-hashes -r requirements-dev.lock
	$(PIP) install --no-deps -e .
	$(PIP) check
	touch $@ $(VENV)/.installed

# Refresh both lock files from pyproject.toml. Needs only pip-tools: the locks being remade may
# not match pyproject.toml yet, so the locked install cannot be a prerequisite.
lock: | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links --extra dev -o requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
