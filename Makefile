# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SAMPLE := data/sample/.complete

.PHONY: install demo test bench sample lint clean browser train-gpu study study-gpu

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,train,eval]'
	touch $(STAMP)

sample: $(SAMPLE)

$(SAMPLE): $(STAMP) mixer/samples/corpus.py mixer/samples/doctest_problems.py mixer/samples/generated_problems.py
	$(BIN)/mixer sample-corpus data/sample
	touch $(SAMPLE)

demo: $(STAMP) $(SAMPLE)
	$(BIN)/mixer build recipes/demo.yaml
	$(BIN)/mixer inspect shards/demo --n 1 --max-chars 300
	$(BIN)/mixer inspect shards/demo --rejected --n 1 --max-chars 200
	$(BIN)/mixer verify shards/demo
	$(BIN)/mixer report shards/demo
	# a fresh run each time: a run left from other shards (a changed recipe or corpus) cannot be resumed
	rm -rf runs/demo
	$(BIN)/mixer train recipes/demo.yaml --phase pretrain --out runs/demo
	$(BIN)/mixer train recipes/demo.yaml --phase cooldown --out runs/demo --init-from runs/demo/pretrain/final

# The 125m, then the 470m preset at seq_len 2048 in bf16 for a fixed number of steps on a GPU (tokens/s, MFU,
# loader share); at 45% MFU on an H100 the steps take about 1 and 8 minutes, plus compilation.
train-gpu: $(STAMP) $(SAMPLE)
	$(BIN)/mixer build recipes/train-gpu.yaml
	$(BIN)/python -m bench.train --recipe recipes/train-gpu.yaml --model 125m --steps 60 --warmup 10 --repeats 1 --device cuda
	$(BIN)/python -m bench.train --recipe recipes/train-gpu.yaml --model 470m --steps 150 --warmup 20 --repeats 1 --device cuda

# The paper's five mixtures over the sample corpus: build once, blend each, train each mixture's phases (tiny
# model, CPU), evaluate (validation bpb, HumanEval, a local cloze task) and compare: runs/paper-sample/report.html
study: $(STAMP) $(SAMPLE)
	$(BIN)/mixer study recipes/paper/sample-study.yaml

# The same study at 125m on one GPU (recipes/paper/sample-study-gpu.yaml)
study-gpu: $(STAMP) $(SAMPLE)
	$(BIN)/mixer study recipes/paper/sample-study-gpu.yaml

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# The report's rendering test drives a real headless Chromium (Debian's package); install it if missing.
browser:
	@command -v chromium >/dev/null || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  { echo "error: the tests need Debian's chromium: apt-get install chromium (as root)"; exit 1; }

bench: $(STAMP) $(SAMPLE)
	$(BIN)/python -m bench.run

lint: $(STAMP)
	$(BIN)/ruff check mixer tests bench

clean:
	rm -rf shards/demo runs/demo shards/paper-sample-corpus runs/paper-sample data/sample bench-out
