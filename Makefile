# Every target sets up .venv/ from requirements.lock when it is missing or stale.
SHELL := /bin/bash
PYTHON_BOOT ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL ?=
OUT ?=
CONFIG ?=
JOBS ?=

.PHONY: setup convert test test-slow lint support-table conformance clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON_BOOT) >/dev/null || { echo "error: $(PYTHON_BOOT) not found (Python 3.11 is required)"; exit 2; }
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# make convert                       -> converts the built-in example (the seed CNN)
# make convert MODEL=<source> [OUT=<dir>] [CONFIG=<yaml>]
convert: $(STAMP)
	$(PY) -m pipeline convert $(if $(MODEL),"$(MODEL)",example:seed_cnn) $(if $(OUT),--out "$(OUT)") $(if $(CONFIG),--config "$(CONFIG)")

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(PY) -m ruff check pipeline custom_ops tests
	$(PY) -m ruff format --check pipeline custom_ops tests

support-table: $(STAMP)
	$(PY) -m pipeline support-table --write docs/SUPPORT.md

# ONNX operator conformance of the import stage (onnx's node test cases that ONNX Runtime passes);
# make conformance ARGS=--baseline   -> also plain onnx2torch, side by side
conformance: $(STAMP)
	$(PY) -m pipeline.conformance $(ARGS)

clean:
	rm -rf out .pytest_cache .ruff_cache
