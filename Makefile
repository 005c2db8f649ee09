# The two commands a newcomer runs on a fresh machine: `make report` and `make test`.
# Both create .venv (once; it is reused while pyproject.toml is unchanged) and install
# the project, its test tools, the PostgreSQL driver (the `postgres` extra) and the offline
# copy of MovieLens 100k. `make test` also installs the page checkers (Nu HTML Checker,
# axe-core) from npm into .cache/npm; the browser itself is Debian's chromium
# (`.ci/run` installs it in CI).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.reportgen-installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check --quiet

# Page checkers from npm, pinned; Java runs vnu.jar, Chromium runs axe-core.
NPM_DIR     := .cache/npm
NPM_STAMP   := $(NPM_DIR)/.installed
NPM_TOOLS   := vnu-jar@26.9.27 axe-core@4.14.1

.PHONY: report test lint install page-tools clean

report: $(STAMP)
	$(BIN)/reportgen build --output output

# Two workers (one per core), a test file per worker at a time, so a module's fixtures are built once.
test: $(STAMP) page-tools lint
	$(BIN)/python -m pytest -n auto --dist loadfile

# ruff (pinned in the test extra): the linter and the formatter, as checks.
lint: $(STAMP)
	$(BIN)/ruff check reportgen tests benchmarks docs
	$(BIN)/ruff format --check reportgen tests benchmarks docs

install: $(STAMP)

# MovieLens 100k for offline use: recbole 1.2.1's wheel carries it as plain files.
# --no-deps: it is a data carrier only and is never imported (see ARCHITECTURE.md, data/sources.py).
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --editable '.[test,postgres]'
	$(PIP) install --no-deps recbole==1.2.1
	touch $@

# Without npm (or the registry) the page checks skip on a developer's machine and
# fail under CI=true, each with one line saying what is missing.
page-tools: $(NPM_STAMP)

$(NPM_STAMP): Makefile
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --prefix $(NPM_DIR) --no-audit --no-fund --save-exact --loglevel=error $(NPM_TOOLS) && touch $@; \
	else \
	  echo "npm not found: the page checks need vnu-jar and axe-core (install Node.js and npm, then run make test)"; \
	fi

# Everything a run writes into $(OUTPUT) (reports, runs/, latest, the lock), and build leftovers.
OUTPUT ?= output
clean:
	find $(OUTPUT) -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf .pytest_cache build dist *.egg-info
