# Every target bootstraps what it needs: a virtualenv in .venv (and, for Docker tests, an engine).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help venv demo test test-fast check lint typecheck zipapp install bench fuzz clean

help:
	@echo "make demo       run prepare/cook/build on the bundled example workspace"
	@echo "make test       run every test (unit, real cargo, real Docker)"
	@echo "make check      ruff + mypy --strict + the tests"
	@echo "make zipapp     build dist/cargo-chefpy (reproducible shiv zipapp)"
	@echo "make install    put it at \$${CARGO_HOME:-\$$HOME/.cargo}/bin/cargo-chefpy"
	@echo "make bench      measure cache effectiveness and tool overhead (BENCHMARKS.md)"
	@echo "make fuzz       the long hypothesis run (10 000 examples)"

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed; installing python3-venv"; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); \
	  else echo "error: install python3-venv (sudo apt-get install python3-venv)"; exit 1; fi; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m integration.demo

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q tests

lint: $(STAMP)
	$(VENV)/bin/ruff check cargo_chefpy tests integration
	$(VENV)/bin/ruff format --check cargo_chefpy tests integration

typecheck: $(STAMP)
	$(VENV)/bin/mypy

check: lint typecheck test

dist/cargo-chefpy: $(STAMP) pyproject.toml integration/support/zipapp.py $(wildcard cargo_chefpy/*.py)
	$(PY) -m integration.support.zipapp
	$@ --version

zipapp: dist/cargo-chefpy

install: dist/cargo-chefpy
	@dest="$${CARGO_HOME:-$$HOME/.cargo}/bin"; mkdir -p "$$dest"; \
	  install -m 0755 dist/cargo-chefpy "$$dest/cargo-chefpy.tmp" && mv "$$dest/cargo-chefpy.tmp" "$$dest/cargo-chefpy"; \
	  echo "installed $$dest/cargo-chefpy"; cargo chefpy --version

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(PY) -m integration.bench

fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q tests/test_fuzz.py

clean:
	rm -rf $(VENV) dist build demo-out .pytest_cache .mypy_cache .ruff_cache
