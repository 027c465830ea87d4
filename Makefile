# The verbs people look for. Every target creates/updates .venv first, so a fresh clone needs only
# Python 3.11+, git and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint protos protos-check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP) protos-check
	$(BIN)/dncgate serve

# `make test`'s second pass: the gateway, registry, recorder and complaint suites again with the
# suite-wide Redis a local Redis Cluster (3 primaries + 3 replicas; DNCGATE_TEST_REDIS_CLUSTER, see
# tests/conftest.py). The command-line tests are left out there: their Redis side is the RPCs'.
CLUSTER_SUITES := tests/integration/test_redis_mode.py \
	tests/e2e/test_check.py tests/e2e/test_call_events.py tests/e2e/test_org_list.py tests/e2e/test_caps.py \
	tests/e2e/test_policy_rules.py tests/e2e/test_receipts.py \
	tests/e2e/test_compensation.py tests/e2e/test_compensation_lifecycle.py \
	tests/integration/test_gateway_store.py tests/integration/test_check_batch.py \
	tests/integration/test_check_script.py tests/integration/test_caps.py tests/integration/test_org_list.py \
	tests/integration/test_org_modes.py tests/integration/test_registry_service.py tests/integration/test_sync.py \
	tests/integration/test_catch_up.py tests/integration/test_recorder.py tests/integration/test_stream_search.py \
	tests/integration/test_compensation_store.py
CLUSTER_DESELECT := not command_line and not the_cli

test: $(STAMP) protos-check
	$(BIN)/python -m pytest -q
	DNCGATE_TEST_REDIS_CLUSTER=1 $(BIN)/python -m pytest -q $(CLUSTER_SUITES) -k '$(CLUSTER_DESELECT)'

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

protos: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

protos-check: $(STAMP)
	$(BIN)/python scripts/gen_protos.py --check

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .dncgate
