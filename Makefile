# The two commands: `make book` (set up, execute every chapter in the quick profile, build
# the HTML book) and `make test` (unit tests, notebook/source sync, nbval). See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NB ?=
PROFILE ?= quick
PARAMS ?=

export PYTHONHASHSEED := 0
export OMP_NUM_THREADS := 2
export MKL_NUM_THREADS := 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export MPLBACKEND := Agg

.PHONY: env data notebooks book test unit run bench clean help

help:
	@echo "make book     set up, execute all chapters (quick profile) and build _build/html"
	@echo "make test     unit tests + notebook/source sync + nbval on book/*.ipynb"
	@echo "make run NB=<name> [PROFILE=quick|full] [PARAMS='k=v ...']   re-execute one chapter"
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

notebooks: env data
	$(PY) -m lib._book.runner --all --profile quick

book: notebooks
	$(VENV)/bin/jupyter-book build . -W --keep-going
	@echo "book: $(CURDIR)/_build/html/index.html"

test: env data
	$(PY) -m pytest tests book/*.ipynb --nbval-lax --nbval-current-env -p no:cacheprovider

unit: env
	$(PY) -m pytest tests -q

run: env data
	@test -n "$(NB)" || { echo "usage: make run NB=<name> [PROFILE=quick|full] [PARAMS='k=v ...']"; exit 2; }
	$(PY) -m lib._book.runner $(NB) --profile $(PROFILE) $(foreach p,$(PARAMS),-p $(p))

bench: env data
	$(PY) -m benchmarks

clean:
	rm -rf _build
