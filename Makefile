# driftline — the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test unit lint bench bench-full clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## Run the embedded demo: no Kafka needed.
demo: $(STAMP)
	$(VENV)/bin/driftline demo --incidents-out out/demo-incidents.jsonl --metrics-port 0

## The whole suite: unit tests, then integration tests against a real Kafka broker and a real Prometheus.
test: $(STAMP)
	bash scripts/ensure-services.sh
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m mypy
	$(PY) -m pytest -q

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit src/driftline

$(VENV)/.bench-installed: $(STAMP) pyproject.toml
	$(PY) -m pip install -q -e '.[bench]'
	touch $@

## Quick comparison with evidently, NannyML, river, scipy (< 5 min), then engine throughput.
bench: $(VENV)/.bench-installed
	$(PY) -m benchmarks.compare --mode quick
	if [ -f benchmarks/throughput.py ]; then $(PY) benchmarks/throughput.py; fi

## The complete comparison tables (docs/benchmarks.md; about half an hour on 2 cores).
bench-full: $(VENV)/.bench-installed
	$(PY) -m benchmarks.compare --mode full

clean:
	rm -rf $(VENV) out build dist
