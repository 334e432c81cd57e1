# The two commands a newcomer needs: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint typecheck check bench clean

# `make widget` rebuilds the committed widget bundle (Node.js only here, never at run time).
include widget/widget.mk

run: $(STAMP)
	$(BIN)/consent-service demo --host 127.0.0.1 --port 8000

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## test: install what the tests need (Python packages, Debian's Chromium) and run them all
test: $(STAMP) widget-deps
	./scripts/ensure-test-deps
	$(BIN)/ruff check consent_service tests benchmarks
	$(BIN)/ruff format --check consent_service tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check consent_service tests benchmarks
	$(BIN)/ruff format --check consent_service tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks.consent_throughput

.PHONY: bench-instructions
## bench-instructions: instructions per consent in-process under callgrind (repeatable on a busy host)
bench-instructions: $(STAMP)
	$(BIN)/python -m benchmarks.consent_inprocess --measure instructions
	$(BIN)/python -m benchmarks.consent_inprocess --measure instructions --app bare

clean:
	rm -rf $(VENV) var build *.egg-info

.PHONY: bench-replicas
## bench-replicas: consent writes/s, one replica over SQLite against two over PostgreSQL (same run)
bench-replicas: $(STAMP)
	$(BIN)/python benchmarks/replicas_bench.py --duration 10 --concurrency 64 --rounds 3

## bench-export: a million audit rows through the HTTP export route (rows/s, server RSS)
bench-export: $(STAMP)
	$(BIN)/python benchmarks/export_bench.py --rows 1000000 --format csv

.PHONY: bench-officer
## bench-officer: the officer's tools at a million rows, as ratios against sqlite3 -csv (and psql \copy with KAKOR_BENCH_POSTGRES=URL) in the same run
bench-officer: $(STAMP)
	$(BIN)/python benchmarks/officer_bench.py --rows 1000000 --workdir var/bench $${KAKOR_BENCH_POSTGRES:+--postgres $$KAKOR_BENCH_POSTGRES}

.PHONY: bench-stats
## bench-stats: GET …/stats over a year of 10M rows from the daily rollups, the rebuild, and the old GROUP BY (docs/performance.md)
bench-stats: $(STAMP)
	$(BIN)/python benchmarks/stats_bench.py --rows 10000000 --workdir var/bench

.PHONY: fuzz soak

## fuzz: the API fuzzer and the property tests, long (FUZZ_EXAMPLES per route and mode)
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} FUZZ_RANDOM=1 PROPERTY_EXAMPLES=$${PROPERTY_EXAMPLES:-2000} \
		$(BIN)/pytest -q -p no:cacheprovider --timeout 1800 tests/reliability/test_fuzz.py tests/properties

## soak: a few minutes of mixed traffic on 127.0.0.1; latency percentiles, errors, memory over time
soak: $(STAMP)
	$(BIN)/python benchmarks/soak.py --duration $${SOAK_SECONDS:-180} --concurrency $${SOAK_CONCURRENCY:-20}
