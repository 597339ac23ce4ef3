# Two commands on a fresh clone: `make demo` and `make test`. Both create the virtual
# environment on first use (python3 -m venv + pip install -e '.[dev]') and reuse it afterwards.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.irbench-installed

.PHONY: setup demo test fuzz lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
	$(PY) -m pip install --quiet -e '.[dev]' 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import irbench, pyarrow, pytest, pytrec_eval" 
	$(PY) -m compileall -q irbench  # bytecode now, or every start compiles irbench if PYTHONDONTWRITEBYTECODE is set
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/irbench demo

test: $(STAMP)
	$(PY) -m pytest -q -n auto --dist loadgroup  # loadgroup: the Dask tests share one cluster

# the differential tests with a long, new random budget each time (make test replays a fixed one)
fuzz: $(STAMP)
	IRBENCH_FUZZ_EXAMPLES=$${IRBENCH_FUZZ_EXAMPLES:-3000} IRBENCH_FUZZ_RANDOM=1 \
		$(PY) -m pytest -q -n auto tests/test_differential.py -k "not mutations"

lint: $(STAMP)
	$(VENV)/bin/ruff check irbench tests bench
	$(VENV)/bin/ruff format --check irbench tests bench
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format irbench tests bench
	$(VENV)/bin/ruff check --fix irbench tests bench

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]' 2>&1 | grep -v "is ignored" || true
	$(PY) bench/bench_eval.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
