# One command to set up and run each job; every target builds the local venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv demo test lint bench clean

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

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
