# One command to set up and run each job; every target builds the local venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# Production: `make install` puts the program, and only its runtime dependencies at the
# versions and hashes of requirements.lock, in a venv of its own at PREFIX (no test tools).
PREFIX ?= /opt/steadfast
DIST := build/dist
# Build tools (build, pip-tools) in a throwaway venv, apart from both the others.
TOOLS := build/tools

.PHONY: venv demo test lint bench clean wheel install lock lock-upgrade

$(BIN)/steadfast: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/steadfast

venv: $(BIN)/steadfast

demo: venv
	$(BIN)/steadfast demo

test: venv
	$(BIN)/python -m pytest -q -n 2

lint: venv
	$(BIN)/ruff check app bot cli journal process scheduler storage telegram_emulator web tests bench
	$(BIN)/mypy

# Benchmarks print figures beside baselines measured in the same run; they never fail on a
# slow machine. Quick modes here; run a script without flags for its full figures.
bench: venv
	$(BIN)/python bench/checkin.py --quick
	$(BIN)/python bench/fanout.py --clients 2000
	$(BIN)/python bench/tick.py --clients 2000
	$(BIN)/python bench/start.py --quick
	$(BIN)/python bench/report_bench.py
	$(BIN)/python bench/workspace_page.py --runs 3
	$(BIN)/python bench/faults.py
	$(BIN)/python bench/instances.py --quick
	$(BIN)/python bench/export.py

$(TOOLS)/bin/pip-compile:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet build pip-tools

# The wheel is built from the sdist in a fresh folder, so nothing left in build/lib by an
# earlier build (a moved or deleted module) reaches it.
wheel: $(TOOLS)/bin/pip-compile
	rm -rf $(DIST)
	$(TOOLS)/bin/python -m build --quiet --outdir $(DIST) .

install: wheel
	$(PYTHON) -m venv $(PREFIX)
	$(PREFIX)/bin/pip install --quiet --require-hashes -r requirements.lock
	$(PREFIX)/bin/pip install --quiet --no-deps --force-reinstall $(DIST)/steadfast-*.whl
	@echo "installed: $(PREFIX)/bin/steadfast"

# requirements.lock from pyproject.toml's dependencies: `lock` keeps the pinned versions and
# follows pyproject's changes; `lock-upgrade` moves every pin to the newest release allowed.
LOCK := CUSTOM_COMPILE_COMMAND="make lock" $(TOOLS)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml

lock: $(TOOLS)/bin/pip-compile
	$(LOCK)

lock-upgrade: $(TOOLS)/bin/pip-compile
	$(LOCK) --upgrade

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
