# Everything a fresh clone needs: only python3 (>= 3.11), git and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck pytest demo serve clean install

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check caterking_display tests bench
	$(VENV)/bin/ruff format --check caterking_display tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy caterking_display

pytest: $(STAMP)
	$(VENV)/bin/pytest -q -n 2 --dist loadgroup -rs

test: lint typecheck pytest

demo: $(STAMP)
	$(VENV)/bin/caterking-display demo

serve: $(STAMP)
	$(VENV)/bin/caterking-display serve --seed demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
