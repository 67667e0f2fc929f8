# make demo: set up what the demo needs ('.[local,report]'), start the local A2I service, run a human loop end to end,
#            print where the output and the review report are.
# make test: set up what the tests need too ('.[local,report,dev]': pytest, playwright, awscli, mypy, ...) and run
#            the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# One stamp per install, each newer than pyproject.toml once done: `make demo` installs the demo's packages only
# (not the 1 GB of test tools), and `make test` after it installs only the rest.
INSTALLED_LOCAL := $(VENV)/.installed-local
INSTALLED_DEV := $(VENV)/.installed-dev

.PHONY: demo test test-fast test-compat lint bench bench-scale clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the project's metadata changed: `make test` twice installs once.
$(INSTALLED_LOCAL): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[local,report]'
	touch $(INSTALLED_LOCAL)

# pip skips what the demo's install already put there; '.[local,report,dev]' includes the demo's packages, so both
# stamps.
$(INSTALLED_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[local,report,dev]'
	touch $(INSTALLED_DEV) $(INSTALLED_LOCAL)

demo: $(INSTALLED_LOCAL)
	$(BIN)/python scripts/demo.py

# make test-fast: the pure tier only (no local service, no Airflow database, no browser), in about a minute.
test-fast: $(INSTALLED_DEV)
	$(BIN)/python -m pytest -m pure --durations=10

test: $(INSTALLED_DEV) chromium
	$(BIN)/ruff check .
	$(BIN)/mypy airflow_a2i
	$(BIN)/python -m pytest --durations=15

# make test-compat: one venv per supported Airflow line (compat/matrix.txt), each holding only Airflow under its
# constraints, the Amazon provider and the airflow-a2i wheel (cached in .compat/ like .venv); then what differs
# between lines runs there (tests/compat/), the local service running from .venv.
COMPAT_LINES ?= $(shell awk '!/^#/ && NF {print $$1}' compat/matrix.txt)

test-compat: $(INSTALLED_DEV)
	@for line in $(COMPAT_LINES); do compat/build-venv $$line || exit 1; done
	A2I_COMPAT_LINES="$(COMPAT_LINES)" $(BIN)/python -m pytest tests/compat --durations=10

# The portal's browser tests drive Debian's chromium (through Playwright, never its own browser download):
# installed here when missing and apt is usable as root; otherwise those tests skip and say how to enable
# them (under CI=true they fail instead).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make: installing chromium for the browser tests (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
	      || echo "make: could not install chromium; the browser tests will skip (or fail under CI=true)"; \
	  else \
	    echo "make: no /usr/bin/chromium and no root apt-get: the browser tests will skip (apt-get install chromium)"; \
	  fi; \
	fi

# make bench: the benchmarks against a local service (a few minutes; not part of make test).
bench: $(INSTALLED_DEV)
	$(BIN)/python benchmarks/run.py

# make bench-scale: one batch of 1,000, 10,000 and 100,000 loops (start, wait, events, results; about half an hour).
bench-scale: $(INSTALLED_DEV)
	$(BIN)/python benchmarks/run.py --only scale --scale-sizes 1000 10000 100000

lint: $(INSTALLED_DEV)
	$(BIN)/ruff check .
	$(BIN)/mypy airflow_a2i

clean:
	rm -rf $(VENV) .compat .demo .pytest_cache .mypy_cache .ruff_cache
