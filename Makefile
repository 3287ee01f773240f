# The MNIST workbook: `make lab` to learn, `make test` to check everything.
# Every target sets up what it needs first and does nothing twice.

SHELL := /bin/bash
VENV ?= .venv
PYTHON_CANDIDATES := python3.11 python3.12 python3.10 python3
# The first candidate whose version MXNet 1.9.1 supports; PYTHON=... overrides.
PYTHON ?= $(shell for candidate in $(PYTHON_CANDIDATES); do \
	$$candidate -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' \
	2>/dev/null && { echo $$candidate; break; }; done)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8888
PYTEST_ARGS ?=
BENCHMARKS := data_loading training_speed drawing scaling

.PHONY: help lab test unit workbook models bench app clean setup data dot check-python

help:
	@echo "make lab       set up, then open JupyterLab on notebooks/"
	@echo "make test      set up, then run the whole test suite"
	@echo "make unit      set up, then run the tests that need no notebook or browser"
	@echo "make workbook  execute every notebook into build/ and summarise them"
	@echo "make models    retrain the pretrained checkpoints in models/"
	@echo "make bench     print the speed and memory figures"
	@echo "make app       serve the drawing pad alone with Voila"
	@echo "make clean     remove build/ (keeps .venv and data/)"

setup: $(STAMP) data dot

check-python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "No supported Python found (tried: $(PYTHON_CANDIDATES))."; \
	  echo "MXNet 1.9.1 runs on Python 3.10, 3.11 or 3.12: install one and run"; \
	  echo "  make $(firstword $(MAKECMDGOALS) lab) PYTHON=/path/to/python3.11"; \
	  exit 1; fi
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else \
	  "Python %d.%d is not supported: MXNet 1.9.1 needs numpy < 2, which has wheels for " \
	  "Python 3.10-3.12 only. Run make with PYTHON=python3.11 (or 3.10, 3.12)." % v)'

$(STAMP): requirements.txt pyproject.toml | check-python
	@echo "Setting up $(VENV) with $(PYTHON)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m helpers.environment
	$(BIN)/python -c 'import mxnet; print("MXNet", mxnet.__version__, "imports cleanly")'
	@touch $@

data: $(STAMP)
	@$(BIN)/python -m helpers.data

dot:
	@if ! command -v dot >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz; \
	  else \
	    echo "Graphviz's dot program is missing; network graphs will show as text."; \
	    echo "Install it with: sudo apt-get install graphviz   (macOS: brew install graphviz)"; \
	  fi; fi

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks --port=$(PORT)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: $(STAMP) data
	$(BIN)/python -m pytest -m "not e2e and not slow" --ignore=notebooks $(PYTEST_ARGS)

workbook: setup
	$(BIN)/python -m helpers.workbook

app: $(STAMP)
	$(BIN)/voila notebooks/app.ipynb --port=$(PORT) --no-browser

bench: setup
	@for name in $(BENCHMARKS); do \
	  echo "== benchmarks/$$name.py"; $(BIN)/python benchmarks/$$name.py || exit 1; done

models: setup
	$(BIN)/python -m helpers.pretrained

clean:
	rm -rf build .pytest_cache .hypothesis
