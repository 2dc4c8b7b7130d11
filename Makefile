# Two entry points that work on a fresh machine with Python 3.11+ and make:
#   make test   set up .venv and run every test pass (ruff; TensorFlow; the core under JAX and PyTorch; Beam),
#               all of them even when one fails, then name the passes that failed
#   make demo   set up .venv with only what the demo needs and run it on the bundled sample photos
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The runtime install (what the demo needs) and the test extras are separate steps, so that
# `make demo` on a fresh machine does not pull PyTorch, JAX and the notebook tooling.
STAMP_RUNTIME := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed
# Apache Beam pins older protobuf/pillow/pyarrow than the main environment, so its tests get their own.
VENV_BEAM := .venv-beam
STAMP_BEAM := $(VENV_BEAM)/.installed
# The slowest tests of each pass are listed, so that a slow test is seen before it slows CI.
PYTEST_ARGS ?= --durations=15
TEST_PASSES := lint tf jax torch beam

.PHONY: test $(addprefix test-,$(TEST_PASSES)) demo notebooks results-table benchmarks clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP_RUNTIME): $(PY) setup.py
	@echo "Installing colorization and its runtime dependencies into $(VENV)/:"
	@echo "  TensorFlow, Keras, TensorFlow Datasets, scikit-image, scikit-learn, matplotlib, Pillow, TensorBoard"
	@echo "  (about 2 GB; a few minutes on a fresh machine)"
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --progress-bar off -e . | grep -E '^(Collecting|Successfully installed)' || true
	@# pip's exit status is lost in the pipe above: check that the packages are there (without
	@# importing TensorFlow, whose start-up lines would fill the screen).
	$(PY) -c "import importlib.util as u, sys; missing = [m for m in ('tensorflow', 'keras', 'skimage', 'colorization', 'data_pipeline') if u.find_spec(m) is None]; sys.exit(f'not installed: {missing}' if missing else 0)"
	touch $(STAMP_RUNTIME)

$(STAMP): $(STAMP_RUNTIME)
	@echo "Installing the test extras into $(VENV)/: pytest, JAX (CPU), PyTorch, jupytext and the notebook kernel"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# Runs every pass even when one fails, prints each pass's wall time, and fails at the end
# naming the passes that failed.
test: $(STAMP)
	@failed=""; summary=""; \
	for pass in $(TEST_PASSES); do \
		start=$$(date +%s); \
		if $(MAKE) --no-print-directory test-$$pass; then status=passed; else status=FAILED; failed="$$failed $$pass"; fi; \
		summary="$$summary\n  test-$$pass: $$status in $$(( $$(date +%s) - start )) s"; \
	done; \
	printf "\nmake test:$$summary\n"; \
	if [ -n "$$failed" ]; then echo "make test: FAILED passes:$$failed"; exit 1; fi; \
	echo "make test: all passes passed"

# ruff: lint rules and formatting (ruff.toml); `ruff format .` fixes the formatting.
test-lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-tf: $(STAMP)
	KERAS_BACKEND=tensorflow $(PY) -m pytest -n 2 $(PYTEST_ARGS) tests

test-jax: $(STAMP)
	KERAS_BACKEND=jax $(PY) -m pytest -n 2 -m core $(PYTEST_ARGS) tests

test-torch: $(STAMP)
	KERAS_BACKEND=torch $(PY) -m pytest -n 2 -m core $(PYTEST_ARGS) tests

$(STAMP_BEAM): setup.py
	$(PYTHON) -m venv $(VENV_BEAM)
	$(VENV_BEAM)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_BEAM)/bin/python -m pip install --quiet -e ".[beam]" pytest
	touch $(STAMP_BEAM)

test-beam: $(STAMP_BEAM)
	KERAS_BACKEND=tensorflow $(VENV_BEAM)/bin/python -m pytest $(PYTEST_ARGS) tests/data_pipeline/test_beam.py

demo: $(STAMP_RUNTIME)
	KERAS_BACKEND=tensorflow $(PY) -m colorization_apps demo --out outputs/demo

# Regenerates the committed notebooks: each notebooks/*.ipynb executed in MODE=cpu on the photos of
# ../shared/photos/imagenet-800, with its notebooks/results/<name>.json. One at a time (each uses every
# core for up to 30 minutes); `make notebooks NOTEBOOKS=03_compact_cnn_overfitting` runs one.
NOTEBOOKS ?= $(basename $(notdir $(wildcard notebooks/*.py)))
notebooks: $(STAMP)
	$(PY) -m pip install --quiet -e ".[notebooks]"
	cd notebooks && for name in $(NOTEBOOKS); do \
		echo "make notebooks: $$name (MODE=cpu)"; \
		MODE=cpu NOTEBOOK_RESULTS_DIR=results KERAS_BACKEND=tensorflow \
			../$(PY) -m jupytext --to ipynb --execute "$$name.py" || exit 1; \
	done
	$(MAKE) results-table

# README's "What we reproduced" table, from notebooks/results/*.json.
results-table: $(STAMP_RUNTIME)
	PYTHONPATH=notebooks $(PY) -c "from notebook_support import evidence; evidence.update_readme('README.md', 'notebooks/results')"

benchmarks: $(STAMP)
	$(PY) -m pip install --quiet -e ".[benchmarks]"
	$(PY) benchmarks/pipeline.py
	$(PY) benchmarks/inference.py

clean:
	rm -rf $(VENV) $(VENV_BEAM) outputs .pytest_cache
