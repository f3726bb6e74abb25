# The two commands: `make book` (set up, execute every chapter in the quick profile, build the
# HTML book) and `make test` (lint, unit tests, the rendered book in a browser, nbval on the
# committed pages under two CPU capabilities). See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NB ?=
PROFILE ?= quick
PARAMS ?=
# the pages' checked outputs are compared under these CPU capabilities (lib/_book/numerics.py):
# avx2 is what the committed pages were executed with, default is torch's/NumPy's portable code
# path and MKL's compatible branch: a stand-in for another machine
CAPABILITIES ?= avx2 default

export PYTHONHASHSEED := 0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export MPLBACKEND := Agg

NBVAL := -p no:cacheprovider --nbval-lax --nbval-current-env

.PHONY: env data browser notebooks html book lint test unit nbval run bench clean help

help:
	@echo "make book     set up, execute all chapters (quick profile) and build _build/html"
	@echo "make test     lint + unit tests + browser test of the built book + nbval under $(CAPABILITIES)"
	@echo "make run NB=<name> [PROFILE=quick|full] [PARAMS='k=v ...']   re-execute one chapter"
	@echo "make html     build _build/html from the committed pages (no execution)"
	@echo "make bench    run the benchmarks (writes benchmarks/results/)"

$(STAMP): requirements.txt requirements-nodeps.txt requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -c requirements.lock
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

env: $(STAMP)

data: env
	$(PY) -m lib.datasets fetch --profile quick

# Debian's Chromium and ChromeDriver for the browser test (root is available; no browser download)
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; \
	fi

notebooks: env data
	$(PY) -m lib._book.runner --all --profile quick

html: env
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "book: $(CURDIR)/_build/html/index.html"

book: notebooks html

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

unit: env
	$(PY) -m pytest tests -q -p no:cacheprovider -m "not browser"

nbval: env data
	@for cap in $(CAPABILITIES); do \
	  echo "nbval: re-executing the committed pages with BOOK_CPU_CAPABILITY=$$cap"; \
	  BOOK_CPU_CAPABILITY=$$cap $(PY) -m pytest book/*.ipynb $(NBVAL) -q; \
	done

test: env data browser lint html
	$(PY) -m pytest tests -p no:cacheprovider
	$(MAKE) --no-print-directory nbval

run: env data
	@test -n "$(NB)" || { echo "usage: make run NB=<name> [PROFILE=quick|full] [PARAMS='k=v ...']"; exit 2; }
	$(PY) -m lib._book.runner $(NB) --profile $(PROFILE) $(foreach p,$(PARAMS),-p $(p))

bench: env data
	$(PY) -m benchmarks

clean:
	rm -rf _build
