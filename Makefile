# ketasim: the two commands in the README do all set-up on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint browser-deps demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# the main job: the web app on http://127.0.0.1:8765/ (research and education only)
run: $(STAMP)
	$(BIN)/ketasim app

demo: $(STAMP)
	MPLBACKEND=Agg $(BIN)/ketasim demo --out-dir out

# Debian's chromium for the browser tests (never a browser download from elsewhere)
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium; fi; }

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: $(STAMP) browser-deps lint
	MPLBACKEND=Agg $(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/population.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
