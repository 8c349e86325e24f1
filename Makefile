# Everything a fresh clone needs: only python3 (>= 3.11), git and make.
#   make install   the board only, as a kitchen display installs it
#   make install-web  + serving it to station tablets' browsers
#   make demo      + the kitchen server: a whole kitchen on this machine
#   make test      + test, lint and type tools: lint, types, the whole suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BOARD := $(VENV)/.installed-board
WEB := $(VENV)/.installed-web
SERVER := $(VENV)/.installed-server
DEV := $(VENV)/.installed-dev

.PHONY: test lint typecheck layers pytest demo serve clean install install-web lock

install: $(BOARD)

install-web: $(WEB)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(BOARD): $(VENV)/bin/python pyproject.toml requirements.lock
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

$(WEB): $(BOARD) requirements-web.lock
	$(PY) -m pip install --quiet -r requirements-web.lock
	@touch $@

$(SERVER): $(BOARD) requirements-server.lock
	$(PY) -m pip install --quiet -r requirements-server.lock
	@touch $@

$(DEV): $(SERVER) requirements-dev.lock
	$(PY) -m pip install --quiet -r requirements-dev.lock
	@touch $@

lint: $(DEV)
	$(VENV)/bin/ruff check caterking_display caterking_server caterking_schema tests bench tools
	$(VENV)/bin/ruff format --check caterking_display caterking_server caterking_schema tests bench tools

typecheck: $(DEV)
	$(VENV)/bin/mypy caterking_display caterking_server caterking_schema

layers: $(DEV)
	$(VENV)/bin/lint-imports

pytest: $(DEV)
	$(VENV)/bin/pytest -q -n 4 --dist loadgroup -rs --durations=10

test: lint typecheck layers pytest

demo: $(SERVER)
	$(VENV)/bin/caterking-server demo

serve: $(SERVER)
	$(VENV)/bin/caterking-server serve --seed demo

lock: $(DEV)
	$(PY) tools/lock.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
