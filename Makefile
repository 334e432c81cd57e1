# The two commands a newcomer needs: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint typecheck check bench clean

run: $(STAMP)
	$(BIN)/consent-service demo --host 127.0.0.1 --port 8000

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## test: install what the tests need (Python packages, Debian's Chromium) and run them all
test: $(STAMP)
	./scripts/ensure-test-deps
	$(BIN)/ruff check consent_service tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check consent_service tests benchmarks
	$(BIN)/ruff format --check consent_service tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/consent_throughput.py

clean:
	rm -rf $(VENV) var build *.egg-info
