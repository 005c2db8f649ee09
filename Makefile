# The two commands a newcomer runs on a fresh machine: `make report` and `make test`.
# Both create .venv (once; it is reused while pyproject.toml is unchanged) and install
# the project, its test tools and the offline copy of MovieLens 100k.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.reportgen-installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check --quiet

.PHONY: report test install clean

report: $(STAMP)
	$(BIN)/reportgen build --output output

test: $(STAMP)
	$(BIN)/python -m pytest

install: $(STAMP)

# MovieLens 100k for offline use: recbole 1.2.1's wheel carries it as plain files.
# --no-deps: it is a data carrier only and is never imported (see DESIGN.md).
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --editable '.[test]'
	$(PIP) install --no-deps recbole==1.2.1
	touch $@

clean:
	rm -rf output/report.html output/report.json .pytest_cache build dist *.egg-info
