# make demo: set up, start the local A2I service, run a human loop end to end, print where the output is.
# make test: set up and run the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the project's metadata changed: `make test` twice installs once.
$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[local,dev]'
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/python scripts/demo.py

test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy airflow_a2i
	$(BIN)/python -m pytest --durations=15

# make bench: the benchmarks against a local service (a few minutes; not part of make test).
bench: $(INSTALLED)
	$(BIN)/python benchmarks/run.py

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy airflow_a2i

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
