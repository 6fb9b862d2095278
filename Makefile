# The two commands of the quick start: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test install install-dev sample model lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

install: $(STAMP)
install-dev: $(DEV_STAMP)

data/sample/enterprises.csv: | $(STAMP)
	$(BIN)/smematch generate --out data/sample

sample: data/sample/enterprises.csv

model: sample
	$(BIN)/smematch setup

# Sets everything up (venv, sample data, store, model) and serves on 127.0.0.1:8000.
run: $(STAMP) sample model
	$(BIN)/smematch serve --host 127.0.0.1 --port 8000

# Sets everything up with the dev extra and runs the whole suite.
test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) smematch.db* mlflow.db* mlartifacts data/sample models/*.joblib models/*.json
