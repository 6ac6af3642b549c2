# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SAMPLE := data/sample/.complete

.PHONY: install demo test bench sample lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

sample: $(SAMPLE)

$(SAMPLE): $(STAMP) mixer/samplecorpus.py
	$(BIN)/mixer sample-corpus data/sample
	touch $(SAMPLE)

demo: $(STAMP) $(SAMPLE)
	$(BIN)/mixer build recipes/demo.yaml
	$(BIN)/mixer inspect shards/demo --n 1 --max-chars 300

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP) $(SAMPLE)
	$(BIN)/python -m bench.run

lint: $(STAMP)
	$(BIN)/ruff check mixer tests bench

clean:
	rm -rf shards/demo data/sample bench-out
