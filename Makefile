# IOC — one command to run the demo city, one to run the whole test suite.
# Both set up everything they need from nothing: the virtual environment, the Python packages
# (pinned in requirements*.txt) and, for the tests, Chromium + chromedriver (apt, as root).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-tools coverage test-unit test-integration test-browser setup system-deps screenshots geodata bench soak clean help

help:
	@echo "make demo   - install and run the whole demo city (Ctrl-C stops it)"
	@echo "make test   - install and run the whole test suite (unit, integration, resilience, browser; parallel)"
	@echo "make test-tools - the tests of the bench and soak harnesses (CI runs them after make test)"
	@echo "make coverage - the test suite with line and branch coverage of ioc, layouts, callbacks, simulators"
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

# pytest.ini runs the product suite (tests/unit, integration, resilience, browser) in parallel
# workers (pytest-xdist) and prints the 25 slowest tests.
test: $(STAMP) system-deps
	$(PY) -m pytest

# The bench and soak harnesses' own tests: one after the other (each runs servers at full speed).
test-tools: $(STAMP) system-deps
	$(PY) -m pytest -n 0 tests/tools

COVERAGE := --cov=ioc --cov=layouts --cov=callbacks --cov=simulators --cov-branch --cov-report=term

coverage: $(STAMP) system-deps
	$(PY) -m pytest $(COVERAGE) $(ARGS)

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
	rm -rf $(VENV) var .pytest_cache .coverage .coverage.*
