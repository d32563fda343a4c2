# driftline — the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# the optional native decoder (native/, Rust): built where a Rust toolchain is found, else skipped
NATIVE := $(VENV)/.native
NATIVE_SRC := native/Cargo.toml native/Cargo.lock native/pyproject.toml $(wildcard native/src/*.rs)

.PHONY: demo test unit lint bench bench-full clean native wheel

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

$(NATIVE): $(STAMP) $(NATIVE_SRC)
	bash scripts/build-native.sh $(PY)
	touch $@

venv: $(NATIVE)

## The native decoder alone (rebuilt when native/ changes); `driftline --version` names the decoder.
native: $(NATIVE)

## Wheels in dist/: driftline (pure Python) and the native decoder (manylinux, built with zig).
wheel: $(STAMP)
	$(PY) -m pip wheel -q --no-deps -w dist .
	bash scripts/build-native.sh --wheel $(PY) dist

## Run the embedded demo: no Kafka needed.
demo: $(NATIVE)
	$(VENV)/bin/driftline demo --incidents-out out/demo-incidents.jsonl --metrics-port 0

## The whole suite: unit tests, then integration tests against a real Kafka broker and a real Prometheus.
## The suite runs on the native decoder where it was built; the differential test holds both to one contract.
test: $(NATIVE)
	bash scripts/ensure-services.sh
	bash scripts/build-native.sh --test
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m mypy
	$(PY) -m pytest -q

unit: $(NATIVE)
	$(PY) -m pytest -q tests/unit src/driftline

$(VENV)/.bench-installed: $(NATIVE) pyproject.toml
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
	rm -rf $(VENV) out build dist native/target
