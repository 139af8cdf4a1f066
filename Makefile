# IOC — one command to run the demo city, one to run the whole test suite.
# Both set up everything they need from nothing: the virtual environment, the Python packages
# (pinned in requirements*.txt) and, for the tests, Chromium + chromedriver (apt, as root).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-unit test-integration test-browser setup system-deps screenshots geodata bench soak clean help

help:
	@echo "make demo   - install and run the whole demo city (Ctrl-C stops it)"
	@echo "make test   - install and run the whole test suite (unit, integration, browser)"
	@echo "make setup  - only create .venv and install the pinned packages"
	@echo "make screenshots - refresh the README screenshots in docs/ from a live demo city"
	@echo "make bench  - run the performance harness (own Redis + broker); results in docs/perf.md (ARGS=\"--quick\")"
	@echo "make soak   - 30-min soak at 5,000 msg/s with random faults (broker/Redis restarts, worker kills); report in docs/soak.md (ARGS=\"--minutes 10\")"

$(STAMP): requirements.txt requirements-dev.txt
	@test -x "$(PY)" || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

setup: $(STAMP)

system-deps:
	@bash scripts/ensure-system-deps.sh

demo: $(STAMP)
	$(PY) -m ioc demo $(ARGS)

test: $(STAMP) system-deps
	$(PY) -m pytest

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-integration: $(STAMP)
	$(PY) -m pytest tests/integration

test-browser: $(STAMP) system-deps
	$(PY) -m pytest tests/browser

screenshots: $(STAMP) system-deps
	$(PY) -m scripts.screenshots $(ARGS)

bench: $(STAMP) system-deps
	$(PY) -m bench $(ARGS)

soak: $(STAMP)
	$(PY) -m scripts.soak $(ARGS)

geodata:
	@echo "see geodata/README.md: the build uses its own venv (cnmaps is build-only)"

clean:
	rm -rf $(VENV) var .pytest_cache
