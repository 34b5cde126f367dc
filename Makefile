# Two commands do all set-up on a fresh clone: `make dev` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Develop on the Lambda runtime's Python (3.13) where the machine has it; fall back to python3.
PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13 2>/dev/null) $(shell command -v python3))
PYTHON_BIN_DIR := $(patsubst %/,%,$(dir $(PYTHON)))
# `sam build` looks up the runtime's python on PATH.
export PATH := $(CURDIR)/.venv/bin:$(PYTHON_BIN_DIR):$(PATH)
export UV_PYTHON_DOWNLOADS := never
# This machine sets PYTHONDONTWRITEBYTECODE, so nothing would ever be cached and every test process
# and `make dev` would recompile moto/botocore/samtranslator from source (~12 s each). Let Python cache
# what it actually imports instead (compiling the whole venv at install costs a minute up front).
unexport PYTHONDONTWRITEBYTECODE
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

TOOLS := .tools
UV := $(TOOLS)/uv/bin/uv
SAM := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov
UV_VERSION := 0.13.8
PYTEST_ARGS ?= -n 2
# Debian's Chromium and its matching ChromeDriver drive the console's browser tests (tests/e2e/console).
CHROMEDRIVER := /usr/bin/chromedriver
BROWSER_PACKAGES := chromium chromium-driver fonts-dejavu-core

.PHONY: help install dev test unit fleet screenshots lint fmt statelint sam-validate checkov sam-build deploy layer-requirements clean

help:
	@echo "make dev    run the whole bridge locally (moto + Runway emulator), no AWS account or Runway key"
	@echo "make test   install everything and run every test, lint and template check"
	@echo "make unit   the fast tier: logic on in-memory fakes (tests/unit), seconds, no moto or emulator"
	@echo "make lint   ruff + mypy"
	@echo "make fleet  the 130-job fleet run (fairness, nothing lost, no double create)"
	@echo "make screenshots  the console's browser test, writing docs/console/*.png (README, Console)"
	@echo "make deploy build and deploy to your AWS account (guided the first time; README, Deploy to AWS)"

$(UV):
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: $(UV) pyproject.toml uv.lock Makefile
	$(UV) sync --locked --python $(PYTHON)
	@touch $@

$(SAM): $(UV) tools/sam.txt
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(TOOLS)/sam
	$(UV) pip install --quiet --python $(TOOLS)/sam/bin/python -r tools/sam.txt
	@touch $@

$(CHECKOV): $(UV) tools/checkov.txt
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(TOOLS)/checkov
	$(UV) pip install --quiet --python $(TOOLS)/checkov/bin/python -r tools/checkov.txt
	@touch $@

# A fresh clone gets the browser from the distribution (the driver package pins the same version).
$(CHROMEDRIVER):
	@if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; \
	else echo "install $(BROWSER_PACKAGES) (Debian packages) as root, then run make again" >&2; exit 1; fi; \
	for attempt in 1 2 3; do \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$(BROWSER_PACKAGES) && break; \
		[ $$attempt = 3 ] && exit 1; echo "apt-get failed; trying again in $$((attempt * 10)) s" >&2; \
		sleep $$((attempt * 10)); \
	done

install: .venv/.synced $(SAM) $(CHECKOV) $(CHROMEDRIVER)

# The layer ships the runtime dependencies pinned by the lock; regenerate after changing them.
layer-requirements: $(UV)
	$(UV) export --quiet --frozen --no-dev --no-emit-project --no-hashes --no-header \
		--no-annotate -o layers/bridge/requirements.txt

dev: .venv/.synced
	.venv/bin/runway-bridge dev $(ARGS)

lint: .venv/.synced
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports
	@# Every function's handler is `app.py`: check each on its own so the module names never clash.
	@for fn in functions/*/; do echo "mypy $$fn"; .venv/bin/mypy --no-incremental $${fn}app.py || exit 1; done

fmt: .venv/.synced
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

# Amazon States Language checks of every state machine definition (offline).
statelint: .venv/.synced
	.venv/bin/statelint statemachine/*.asl.json

sam-validate: $(SAM)
	$(SAM) validate --lint --template template.yaml

# Then compile the built code to bytecode for the runtime's Python: Lambda's /opt and /var/task are
# read-only, so a layer shipped without it makes every cold start compile boto3, botocore, pydantic
# and Powertools again (bench/cold_start.py). Hash-based .pyc (unchecked) stay valid whatever
# timestamps the deployment zip keeps; -f rewrites them all, so none can outlive a changed source.
sam-build: $(SAM)
	$(SAM) build --template template.yaml --build-dir .aws-sam/build --cached --parallel
	@# Bytecode for the Lambda runtime (3.13; with another interpreter the .pyc are merely unused).
	$(PYTHON) -m compileall -f -q -j 2 --invalidation-mode unchecked-hash .aws-sam/build

# To the AWS account of your credentials. The first time (no samconfig.toml) `sam deploy --guided` asks
# for the stack name, region and parameters and saves the answers in samconfig.toml; after that a
# plain `sam deploy` uses them. SAM_DEPLOY_ARGS adds options (e.g. --parameter-overrides K=V).
SAM_DEPLOY_ARGS ?=
deploy: .venv/.synced sam-build
	@if [ -f samconfig.toml ]; then \
		$(SAM) deploy --template-file .aws-sam/build/template.yaml $(SAM_DEPLOY_ARGS); \
	else \
		$(SAM) deploy --guided --template-file .aws-sam/build/template.yaml --capabilities CAPABILITY_IAM $(SAM_DEPLOY_ARGS); \
	fi

# Security checks of the template; every skipped check is answered in .checkov.yaml.
checkov: $(CHECKOV)
	$(CHECKOV) --config-file .checkov.yaml -f template.yaml

test: install lint statelint sam-validate checkov sam-build
	.venv/bin/pytest $(PYTEST_ARGS)

# The 130-job fleet run alone (about 7 minutes; make test runs it too); see README, Fleet.
fleet: .venv/.synced
	.venv/bin/pytest -n 0 -m fleet tests/e2e/fleet

# The console's browser test alone, also writing its screenshots into docs/console/ (README, Console).
screenshots: .venv/.synced $(CHROMEDRIVER)
	RUNWAY_BRIDGE_SCREENSHOTS=docs .venv/bin/pytest -n 0 -m browser tests/e2e/console

# The fast tier alone: tests/unit runs the logic on the in-memory fakes of tests/unit/fakes (no moto,
# no emulator, no local stack). One process: starting xdist workers costs more than these tests take.
unit: .venv/.synced
	.venv/bin/pytest -n 0 tests/unit

clean:
	rm -rf .venv $(TOOLS) .aws-sam .pytest_cache .mypy_cache .ruff_cache
