# Two commands do all the set-up from a fresh clone: `make lab` and `make test`.
# Both are idempotent: a second run only checks what is already in place.
# Two Spark lines (helpers/core/lines.py): SPARK=3.5 (default, with SynapseML) and SPARK=4 (the newest
# 4.x), each with its own venv, pins and lock. `make lab SPARK=4` / `make test SPARK=4` use the 4.x line.
# Python: 3.11 for the 3.5 line; 3.11, 3.12 or 3.13 for the 4.x line (`make test SPARK=4 PYTHON=python3.13`).
PYTHON ?= python3.11
SPARK  ?= 3.5
ifeq ($(SPARK),3.5)
  VENV   := .venv
  REQ    := requirements.txt
  LOCK   := requirements.lock
  KERNEL := zero-copy
  LABEL  := Spark 3.5
else ifeq ($(SPARK),4)
  VENV   := .venv-spark4
  REQ    := requirements-spark4.txt
  LOCK   := requirements-spark4.lock
  KERNEL := zero-copy-spark4
  LABEL  := Spark 4.x
else
  $(error unknown Spark line SPARK=$(SPARK): use SPARK=3.5 (default) or SPARK=4)
endif
# A Python other than 3.11 gets a venv of its own (.venv-spark4-py3.13), so it never replaces another.
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifneq ($(filter-out 3.11,$(PYVER)),)
  VENV := $(VENV)-py$(PYVER)
endif
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
KERNEL_JSON := share/jupyter/kernels/$(KERNEL)/kernel.json
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup venv jars data kernel lab test test-run test-both lint unit unit-fast notebooks bench layers lock clean-outputs clean student present

# Before anything is installed: a Python and a Java this line runs on, checked with the bare Python
# (helpers.core.config.preflight); otherwise one line and exit code 2.
ifneq ($(filter setup venv jars data kernel lab test test-both unit notebooks bench,$(or $(MAKECMDGOALS),setup)),)
  PREFLIGHT := $(shell if [ -n "$(PYVER)" ]; then $(PYTHON) -c 'from helpers.core.config import preflight; preflight("$(SPARK)")'; else echo "$(PYTHON) not found or does not run: install Python 3.11 (or run make PYTHON=/path/to/python3.x ...)"; fi)
  ifneq ($(PREFLIGHT),)
    $(error $(PREFLIGHT))
  endif
endif

setup: venv data kernel

# The venv installs the line's lock (every package, pinned with its hashes), then the kit itself.
venv: $(STAMP)
$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@echo '*' > $(VENV)/.gitignore
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

# The locks, regenerated from the top-level pins (the line's requirements file plus
# requirements-test.txt) by uv in a throw-away venv. One lock serves every Python of its line
# (--universal; --python-version is the lowest). tests/core/test_config.py fails when a lock and
# the pins disagree.
UV_VERSION := 0.13.9
LOCK_TOOL  := $(CURDIR)/.cache/lock-tool
lock:
	rm -rf $(LOCK_TOOL) && $(PYTHON) -m venv $(LOCK_TOOL)
	$(LOCK_TOOL)/bin/pip install -q uv==$(UV_VERSION)
	$(LOCK_TOOL)/bin/uv pip compile -q --universal --python-version 3.11 --generate-hashes \
	    --custom-compile-command "make lock" -o requirements.lock requirements.txt requirements-test.txt
	$(LOCK_TOOL)/bin/uv pip compile -q --universal --python-version 3.11 --generate-hashes \
	    --custom-compile-command "make lock" -o requirements-spark4.lock requirements-spark4.txt requirements-test.txt
	rm -rf $(LOCK_TOOL)

jars data: $(STAMP)
	$(PY) -m helpers setup

# Each line's kernel lives in its own venv and, so that one JupyterLab (`make lab`) offers both
# lines, in the 3.5 venv too; its argv is the line's own python.
kernel: $(sort $(VENV)/$(KERNEL_JSON) .venv/$(KERNEL_JSON))
$(sort $(VENV)/$(KERNEL_JSON) .venv/$(KERNEL_JSON)): $(STAMP)
	$(PY) -m ipykernel install --prefix $(CURDIR)/$(patsubst %/$(KERNEL_JSON),%,$@) --name $(KERNEL) --display-name "$(LABEL)" >/dev/null

lab: setup
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser notebooks/

# Lint, unit tests, then every notebook under nbval, at the small CI scale. The 25 slowest tests
# close the output; runs/durations<venv suffix>.txt sums every test's time per file (.ci/durations.py).
# Work that does not depend on the line runs once, on the 3.5 line: notebook 08 runs both
# lines' CLIs itself, and the browser test checks JupyterLab's Run All and a slider.
# Test JVMs run with the C1 compiler only and the serial GC (TEST_JVM): a short-lived test JVM then
# spends about a quarter less CPU compiling code it runs a few times; ci-scale timings are not results.
# Each line keeps its notebooks' run folders apart (LAB_RUNS_DIR), so both lines can run at once.
RUN_TAG := $(subst .venv,,$(VENV))
ONCE := $(if $(filter 4,$(SPARK)),--ignore=tests/ui --ignore=notebooks/08_spark_lines_on_the_wire.ipynb)
TEST_JVM := -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
test: setup lint
	@$(MAKE) --no-print-directory test-run
test-run:
	@mkdir -p runs
	JAVA_TOOL_OPTIONS="$(TEST_JVM) $$JAVA_TOOL_OPTIONS" LAB_RUNS_DIR=$(CURDIR)/runs/test$(RUN_TAG) LAB_SCALE=ci \
	    $(PY) -m pytest -p no:cacheprovider tests notebooks $(ONCE) --nbval-lax --nbval-current-env --nbval-cell-timeout=900 \
	    --durations=25 --junitxml=runs/junit$(RUN_TAG).xml -o junit_family=xunit1; rc=$$?; \
	if [ -f runs/junit$(RUN_TAG).xml ]; then $(PY) .ci/durations.py runs/junit$(RUN_TAG).xml > runs/durations$(RUN_TAG).txt && echo "per-file times: runs/durations$(RUN_TAG).txt"; fi; \
	exit $$rc

# Both lines (CI): the 3.5 line's set-up (venv, data, kernels) and lint, then its test run side by
# side with the 4.x line's set-up, lint and test run (.ci/both_lines.py: a log per line in runs/,
# shown when both end; Ctrl-C stops both).
PY4 ?= python3.13
test-both:
	@$(MAKE) --no-print-directory setup lint
	$(PYTHON) .ci/both_lines.py $(PY4)

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
	rm -rf .venv .venv-spark4 .venv-py3.* .venv-spark4-py3.* .cache runs data/*.parquet data/model.*
