# Two commands do all the set-up from a fresh clone: `make lab` and `make test`.
# Both are idempotent: a second run only checks what is already in place.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
KERNEL := zero-copy
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup venv jars data kernel lab test lint unit unit-fast notebooks bench layers clean-outputs clean student present

setup: venv data kernel

venv: $(STAMP)
$(STAMP): requirements.txt requirements-test.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found: install Python 3.11 (or run 'make PYTHON=/path/to/python3.11 ...')"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

jars data: $(STAMP)
	$(PY) -m helpers setup

kernel: $(VENV)/share/jupyter/kernels/$(KERNEL)/kernel.json
$(VENV)/share/jupyter/kernels/$(KERNEL)/kernel.json: $(STAMP)
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (zero-copy)" >/dev/null

lab: setup
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser notebooks/

# Lint, unit tests, then every notebook under nbval, at the small CI scale.
test: setup lint
	LAB_SCALE=ci $(PY) -m pytest -p no:cacheprovider tests notebooks --nbval-lax --nbval-cell-timeout=900

# ruff over helpers/, tests/ and the notebooks (settings in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check helpers tests notebooks

# The pure tests only (no JVM; seconds): the inner loop. SPARK_HOME points nowhere, so a test that
# starts Spark without the `spark` marker fails here instead of slowing the loop down.
unit-fast: $(STAMP)
	SPARK_HOME=/nonexistent/unit-fast LAB_SCALE=ci $(PY) -m pytest -p no:cacheprovider -q tests -m "not spark"

unit: setup
	LAB_SCALE=ci $(PY) -m pytest -p no:cacheprovider tests

notebooks: setup
	LAB_SCALE=ci $(PY) -m pytest -p no:cacheprovider notebooks --nbval-lax --nbval-cell-timeout=900

layers: $(STAMP)
	$(PY) -m helpers layers

bench: setup
	$(PY) -m helpers bench --rows 1000000 --json runs/bench.json

# Learners' copies: the notebooks without their `solution` cells, in student/ (git-ignored).
student: $(STAMP)
	$(PY) -m helpers student --out student notebooks/*.ipynb

# The presenter pack in present/ (git-ignored): every notebook executed at workshop scale, as
# .ipynb, static .html and reveal.js .slides.html, stamped with date, machine and versions;
# present/timings.json holds the measured time of each notebook.
present: setup
	$(PY) -m helpers present --out present --scale workshop notebooks/*.ipynb

# Notebooks are committed without outputs (see README, "Outputs").
clean-outputs: $(STAMP)
	$(PY) -m helpers strip-outputs notebooks/*.ipynb

clean:
	rm -rf $(VENV) .cache runs data/*.parquet data/model.*
