# The two commands of the quick start: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test browser install install-dev sample model lint clean

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

# The console's browser tests need Debian's Chromium and a CJK font (readable Chinese screenshots): installed
# with apt-get when missing (as root, or through sudo), so that `make test` alone passes on a fresh machine.
browser:
	@if command -v apt-get >/dev/null 2>&1 && { [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi wqy; }; then \
	  echo "installing chromium and fonts-wqy-microhei for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  ($$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null) \
	    || echo "chromium could not be installed: the browser tests will fail"; \
	fi

# Sets everything up with the dev extra (and the browser tests' Chromium) and runs the whole suite.
test: $(DEV_STAMP) browser
	$(BIN)/python -m pytest -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) smematch.db* mlflow.db* mlartifacts data/sample models/*.joblib models/*.json
