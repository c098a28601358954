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
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check bot journal scheduler storage telegram_emulator tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
