# ppio-txt2img: every task a developer or CI runs. Each target installs what it needs itself:
# a venv with the pinned Python tools (.venv) and the pinned Node tools (node_modules).
#
#   make demo    generate two images with the `ppio` command against the offline sandbox
#   make test    everything CI checks: generated/ up to date, spec lint, ruff, mypy --strict,
#                the TypeScript client compile, and pytest
#   make generate        rebuild generated/ from openapi/ (only when an input is newer)
#   make bench           benchmarks against the sandbox; writes BENCHMARKS.md and docs/bench/*.png

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
PIP_FLAGS := --quiet --disable-pip-version-check

SPEC := openapi/ppio.yaml
GEN_CONFIG := openapi/generator.yaml
GEN_TEMPLATES := $(wildcard openapi/templates/*.jinja)
GEN_INPUTS := $(SPEC) $(GEN_CONFIG) $(GEN_TEMPLATES) scripts/generate.py
GEN_OUT := generated/ppio_api
GEN_STAMP := build/.generated.stamp
PY_SOURCES := facade scripts tests

.PHONY: help install generate check-generated lint lint-spec lint-py typecheck client-ts check-ts \
        test pytest ensure-chromium demo bench bench-plots clean

help:
	@sed -n '2,10p' Makefile | sed 's/^# \{0,1\}//'

# --- set-up ------------------------------------------------------------------------------------------
$(INSTALLED): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install $(PIP_FLAGS) --upgrade pip 2>&1 | grep -v 'is ignored' || true
	@echo "installing the project and its pinned dev tools into $(VENV) ..."
	@$(PY) -m pip install $(PIP_FLAGS) -e '.[dev]' 2>&1 | grep -v 'is ignored' || true
	@$(PY) -c 'import ppio_api, ppio_txt2img, openapi_python_client, schemathesis'
	@touch $@

# Exactly the versions in package-lock.json; none of them needs an install script.
$(NODE_INSTALLED): package.json package-lock.json
	@echo "installing the pinned Node tools (npm ci) ..."
	@npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

install: $(INSTALLED) $(NODE_INSTALLED)

# --- the generated client ----------------------------------------------------------------------------
# A real file dependency: regenerates only when the spec, the generator config, a template or the
# script is newer than the last generation; scripts/generate.py writes only files whose bytes change.
$(GEN_STAMP): $(GEN_INPUTS) | $(INSTALLED)
	@$(PY) scripts/generate.py --out $(GEN_OUT)
	@mkdir -p $(@D) && touch $@

generate: $(GEN_STAMP)

# Regenerates into a temp dir and fails on any difference, missing or extra file.
check-generated: $(INSTALLED)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PY) scripts/generate.py --out "$$tmp/ppio_api" >/dev/null; \
	if ! diff -r -x __pycache__ "$$tmp/ppio_api" $(GEN_OUT) > "$$tmp/diff.txt"; then \
	  head -n 40 "$$tmp/diff.txt"; \
	  echo "generated/ is stale: it differs from what $(SPEC) generates. Run 'make generate'."; exit 1; \
	fi; \
	untracked=$$(git ls-files --others --exclude-standard -- generated 2>/dev/null || true); \
	if [ -n "$$untracked" ]; then echo "untracked files under generated/:"; echo "$$untracked"; exit 1; fi; \
	echo "generated/ matches the spec."

# --- lint and types ----------------------------------------------------------------------------------
# Node tools run from node_modules/.bin (what `npx --no-install` would run, without npm's warnings).
# Redocly: no telemetry and no update check (both go to the network), and its boxed "Node.js 20
# support is ending" notice, printed on every run under Node 20, is dropped with the blank lines.
lint-spec: $(INSTALLED) $(NODE_INSTALLED)
	@$(BIN)/openapi-spec-validator $(SPEC)
	@REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true REDOCLY_SUPPRESS_NOTIFICATIONS=true \
	  node_modules/.bin/redocly lint --config openapi/redocly.yaml --format=stylish $(SPEC) 2>&1 \
	  | sed -e '/╔/,/╚/d' -e '/^ *$$/d'

lint-py: $(INSTALLED)
	@$(BIN)/ruff check $(PY_SOURCES)
	@$(BIN)/ruff format --check $(PY_SOURCES)

typecheck: $(INSTALLED)
	@$(BIN)/mypy --strict generated/ppio_api
	@$(BIN)/mypy --strict facade/ppio_txt2img

lint: lint-spec lint-py typecheck

# --- another language from the same spec ----------------------------------------------------------
# Defaults do not make a property required (they would in request bodies); written to stdout, which
# is the tool's only quiet mode.
client-ts: $(NODE_INSTALLED)
	@mkdir -p build/ts
	@node_modules/.bin/openapi-typescript $(SPEC) --default-non-nullable=false > build/ts/schema.d.ts.tmp
	@mv build/ts/schema.d.ts.tmp build/ts/schema.d.ts
	@echo "TypeScript client types written to build/ts/schema.d.ts"

check-ts: client-ts
	@node_modules/.bin/tsc --strict -p clients/ts/tsconfig.json
	@echo "TypeScript client compiles with tsc --strict."

# --- tests -------------------------------------------------------------------------------------------
# The gallery's browser test opens the page in headless Chromium: installed here when missing, and
# required (PPIO_REQUIRE_CHROMIUM=1: a missing browser fails the test instead of skipping it).
ensure-chromium:
	@scripts/ensure_chromium.sh

pytest: $(INSTALLED) ensure-chromium
	@PPIO_REQUIRE_CHROMIUM=1 $(BIN)/pytest -q

test: check-generated lint check-ts pytest

# --- the main job and benchmarks -----------------------------------------------------------------------
demo: $(INSTALLED) $(GEN_STAMP)
	@$(PY) scripts/demo.py

bench: $(INSTALLED) $(GEN_STAMP)
	@$(PY) scripts/bench.py --write BENCHMARKS.md

# Redraw docs/bench/*.png from the results the last `make bench` saved (build/bench-results.json).
bench-plots: $(INSTALLED)
	@$(PY) scripts/_bench_plots.py build/bench-results.json docs/bench

clean:
	rm -rf build out .mypy_cache .ruff_cache .pytest_cache .hypothesis
