# fashionsite: `make run` starts the whole stack, `make test` runs the test suite.
# Both create .venv and install what is missing first; nothing else needs installing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Let Python and pytest cache compiled modules (__pycache__/, ignored by git) even where the shell
# sets PYTHONDONTWRITEBYTECODE: without the cache every run compiles and assertion-rewrites some 350
# test and plugin modules again, a third of the test collection's time.
export PYTHONDONTWRITEBYTECODE :=

.PHONY: run test test-fast lint bench install system-deps

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "Installing fashionsite and its dependencies into $(VENV) (first time: about 5 minutes, most of it"
	@echo "PyTorch and open_clip; later runs skip this until pyproject.toml changes) ..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --progress-bar on -e '.[dev]'
	@echo "Installed."
	@touch $@

system-deps:
	@scripts/install-system-deps.sh

run: install
	$(BIN)/python manage.py up

test: install system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The fast lane: unit and thin database tests only, no Celery worker, no browser, no slow
# simulations, training runs or migration replay, no end-to-end `integration` tests, in two
# pytest-xdist workers (each its own test database, Redis database and media folder; see
# tests/conftest.py). xdist hands out at most 4 tests at a time (--maxschedchunk), so the two
# workers end together instead of one running its last queued batch alone. README gives its
# measured times (the target is under a minute on 2 cores). `make test` runs everything and is
# what CI runs.
test-fast: install
	$(BIN)/python -m pytest -q -n 2 --maxschedchunk=4 -m "not worker and not browser and not slow and not integration"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Screenshots of every page at phone (390×844) and desktop (1366×900) size into docs/screenshots/
# (the committed set a reviewer looks at); a plain test run writes them to var/screenshots/ instead.
.PHONY: screenshots
screenshots: install system-deps
	FASHIONSITE_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q -p no:randomly tests/browser/test_screenshots.py
