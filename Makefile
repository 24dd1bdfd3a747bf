# Two commands do all the set-up from a fresh clone: `make lab` and `make test`.
# Both are idempotent: a second run only checks what is already in place.
# Two Spark lines (helpers/core/lines.py): SPARK=3.5 (default, with SynapseML) and SPARK=4 (the newest
# 4.x), each with its own venv and pins. `make lab SPARK=4` / `make test SPARK=4` use the 4.x line.
PYTHON ?= python3.11
SPARK  ?= 3.5
ifeq ($(SPARK),3.5)
  VENV   := .venv
  REQ    := requirements.txt
  KERNEL := zero-copy
  LABEL  := Spark 3.5
else ifeq ($(SPARK),4)
  VENV   := .venv-spark4
  REQ    := requirements-spark4.txt
  KERNEL := zero-copy-spark4
  LABEL  := Spark 4.x
else
  $(error unknown Spark line SPARK=$(SPARK): use SPARK=3.5 (default) or SPARK=4)
endif
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
KERNEL_JSON := share/jupyter/kernels/$(KERNEL)/kernel.json
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup venv jars data kernel lab test lint unit unit-fast notebooks bench layers clean-outputs clean student present

# Before anything is installed: Python 3.11 and a Java this line runs on (4.x: 17+), checked with the
# bare Python (helpers.core.config.preflight); otherwise one line and exit code 2.
ifneq ($(filter setup venv jars data kernel lab test unit notebooks bench,$(or $(MAKECMDGOALS),setup)),)
  PREFLIGHT := $(shell if command -v $(PYTHON) >/dev/null; then $(PYTHON) -c 'from helpers.core.config import preflight; preflight("$(SPARK)")'; else echo "$(PYTHON) not found: install Python 3.11 (or run make PYTHON=/path/to/python3.11 ...)"; fi)
  ifneq ($(PREFLIGHT),)
    $(error $(PREFLIGHT))
  endif
endif

setup: venv data kernel

venv: $(STAMP)
$(STAMP): $(REQ) requirements-test.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r $(REQ) -r requirements-test.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

jars data: $(STAMP)
	$(PY) -m helpers setup

# Each line's kernel lives in its own venv and, so that one JupyterLab (`make lab`) offers both
# lines, in the 3.5 venv too; its argv is the line's own python.
kernel: $(sort $(VENV)/$(KERNEL_JSON) .venv/$(KERNEL_JSON))
$(sort $(VENV)/$(KERNEL_JSON) .venv/$(KERNEL_JSON)): $(STAMP)
	$(PY) -m ipykernel install --prefix $(CURDIR)/$(patsubst %/$(KERNEL_JSON),%,$@) --name $(KERNEL) --display-name "$(LABEL)" >/dev/null

lab: setup
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser notebooks/

# Lint, unit tests, then every notebook under nbval, at the small CI scale.
test: setup lint
	LAB_SCALE=ci $(PY) -m pytest -p no:cacheprovider tests notebooks --nbval-lax --nbval-current-env --nbval-cell-timeout=900

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
	LAB_SCALE=ci $(PY) -m pytest -p no:cacheprovider notebooks --nbval-lax --nbval-current-env --nbval-cell-timeout=900

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
	rm -rf .venv .venv-spark4 .cache runs data/*.parquet data/model.*
