# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
REQUIREMENTS := requirements/base.txt requirements/ml.txt requirements/dev.txt
# Installed with --no-deps (see the file).
NODEPS := requirements/nodeps.txt
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean

# Reinstalls only when a requirements file changed.
$(STAMP): $(REQUIREMENTS) $(NODEPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(foreach r,$(REQUIREMENTS),-r $(r))
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --ignore-requires-python -r $(NODEPS)
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py serve

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

test: lint
	$(PY) -m pytest

bench: install
	$(PY) -m pytest tests/bench -m bench -s

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
