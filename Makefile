# Two entry points that work on a fresh machine with Python 3.11+ and make:
#   make test   set up .venv and run the whole suite (TensorFlow backend, then the core under JAX)
#   make demo   set up .venv and run the main job on the bundled sample photos
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Apache Beam pins older protobuf/pillow/pyarrow than the main environment, so its tests get their own.
VENV_BEAM := .venv-beam
STAMP_BEAM := $(VENV_BEAM)/.installed

.PHONY: test test-tf test-jax test-beam demo notebooks benchmarks clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) setup.py
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

test: $(STAMP)
	$(MAKE) --no-print-directory test-tf
	$(MAKE) --no-print-directory test-jax
	$(MAKE) --no-print-directory test-beam

test-tf: $(STAMP)
	KERAS_BACKEND=tensorflow $(PY) -m pytest -n 2 tests

test-jax: $(STAMP)
	KERAS_BACKEND=jax $(PY) -m pytest -n 2 -m core tests

$(STAMP_BEAM): setup.py
	$(PYTHON) -m venv $(VENV_BEAM)
	$(VENV_BEAM)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_BEAM)/bin/python -m pip install --quiet -e ".[beam]" pytest
	touch $(STAMP_BEAM)

test-beam: $(STAMP_BEAM)
	KERAS_BACKEND=tensorflow $(VENV_BEAM)/bin/python -m pytest tests/data_pipeline/test_beam.py

demo: $(STAMP)
	KERAS_BACKEND=tensorflow $(PY) -m colorization demo --out outputs/demo

# Regenerates each notebooks/*.ipynb from its jupytext source, executed in SMOKE mode.
notebooks: $(STAMP)
	cd notebooks && for f in *.py; do SMOKE=1 KERAS_BACKEND=tensorflow ../$(PY) -m jupytext --to ipynb --execute "$$f" || exit 1; done

benchmarks: $(STAMP)
	$(PY) -m pip install --quiet -e ".[benchmarks]"
	$(PY) benchmarks/color.py
	$(PY) benchmarks/pipeline.py

clean:
	rm -rf $(VENV) $(VENV_BEAM) outputs .pytest_cache
