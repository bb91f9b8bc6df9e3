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
ENGINE ?=
ADDRESS ?=
# make reports any failure as its own code 2: the last line names the pipeline's code and meaning
EXIT_LINE = $(PY) -m pipeline.exitcodes $$?

.PHONY: setup convert batch zoo bench-batch test test-slow lint support-table conformance clean bench-speed bench-memory bench-convert train-demo

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
	$(PY) -m pipeline convert $(if $(MODEL),"$(MODEL)",example:seed_cnn) $(if $(OUT),--out "$(OUT)") $(if $(CONFIG),--config "$(CONFIG)"); $(EXIT_LINE)

# make batch CONFIG=<yaml> [OUT=<dir>] [JOBS=<n>] [FORCE=1] [ENGINE=ray [ADDRESS=<ray address>]]   (default OUT: out/<yaml name>)
BATCH_ARGS = $(if $(OUT),--out "$(OUT)") $(if $(JOBS),--jobs $(JOBS)) $(if $(FORCE),--force) \
	$(if $(ENGINE),--engine $(ENGINE)) $(if $(ADDRESS),--address "$(ADDRESS)")
batch: $(STAMP)
	@test -n "$(CONFIG)" || { echo "usage: make batch CONFIG=<yaml> [OUT=<dir>] [JOBS=<n>] [FORCE=1] [ENGINE=ray [ADDRESS=<addr>]]"; exit 2; }
	$(PY) -m pipeline batch "$(CONFIG)" $(BATCH_ARGS); $(EXIT_LINE)

# the keras.applications zoo, out/zoo by default
zoo: $(STAMP)
	$(PY) -m pipeline batch configs/zoo.yaml $(BATCH_ARGS); $(EXIT_LINE)

# wall time of one batch at JOBS=1 and JOBS=2, REPEAT runs each: make bench-batch [CONFIG=configs/zoo.yaml] [REPEAT=1];
# ENGINE=ray: the local engine, a 2-node local Ray cluster and a batch's own Ray instance side by side
bench-batch: $(STAMP)
ifeq ($(ENGINE),ray)
	$(PY) scripts/bench_ray.py $(if $(CONFIG),"$(CONFIG)") $(if $(OUT),--out "$(OUT)") $(if $(JOBS),--jobs $(JOBS))
else
	$(PY) scripts/bench_batch.py $(if $(CONFIG),"$(CONFIG)") $(if $(OUT),--out "$(OUT)") --repeat $(or $(REPEAT),2)
endif

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(PY) -m ruff check pipeline custom_ops tests scripts
	$(PY) -m ruff format --check pipeline custom_ops tests scripts

support-table: $(STAMP)
	$(PY) -m pipeline support-table --write docs/SUPPORT.md

# ONNX operator conformance of the import stage (onnx's node test cases that ONNX Runtime passes);
# make conformance ARGS=--baseline   -> also plain onnx2torch, side by side
conformance: $(STAMP)
	$(PY) -m pipeline.conformance $(ARGS)

clean:
	rm -rf out .pytest_cache .ruff_cache

# Speed of converted models vs the same architecture hand-written in torchvision, and ONNX Runtime
bench-speed: $(STAMP)
	$(PY) scripts/bench_speed.py

# conversion seconds of ResNet50 and MobileNetV2, end to end and per stage, vs plain tf2onnx + onnx2torch
bench-convert: $(STAMP)
	$(PY) scripts/bench_convert.py $(ARGS)

# peak memory per process against weight bytes: VGG16 and a ~3 GB model (each process capped at 8 GB)
bench-memory: $(STAMP)
	$(PY) scripts/bench_memory.py

# fine-tune a converted model in a plain PyTorch loop beside Keras's fit: make train-demo [OUT=<dir>] [STEPS=<n>]
train-demo: $(STAMP)
	$(PY) scripts/train_demo.py $(if $(OUT),--out "$(OUT)") $(if $(STEPS),--steps $(STEPS))
