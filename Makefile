# anchormix: two commands for a new user, `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
# Where pip looks for torch besides PyPI: empty uses what pip is configured with; on a fresh machine,
# TORCH_INDEX=https://download.pytorch.org/whl/cpu takes the CPU build (see README, "Install").
TORCH_INDEX ?=
PY := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/var/dagster_home
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GX_ANALYTICS_ENABLED := false

.PHONY: demo test ui install dagster-home browser validate bench clean run fast-embedder

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch is pinned in pyproject.toml; TORCH_INDEX (e.g. PyTorch's CPU index) is where pip finds its wheel.
	$(PY) -m pip install -q -e '.[dev]' $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	touch $@

install: $(VENV)/.installed

dagster-home:
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

demo: install dagster-home
	$(PY) -m pipelines.demo

test: install browser
	$(PY) -m pytest

ui: install dagster-home
	$(VENV)/bin/dagster dev -m pipelines.definitions -h 127.0.0.1 -p 3000

# The static fast embedder ([embedding] backend = "static"), distilled offline from the bundled MiniLM.
fast-embedder: install
	$(PY) -m anchormix.fast_embed build --out var/models/fast-embedder

# One drop through the Dagster instance (the UI shows the run): make run DROP=2026-11-24
run: install dagster-home
	@test -n "$(DROP)" || { echo "usage: make run DROP=YYYY-MM-DD (a folder under the inbox)"; exit 2; }
	$(VENV)/bin/dagster job execute -m pipelines.definitions -j nightly --tags '{"dagster/partition": "$(DROP)"}'
	$(VENV)/bin/anchormix summary $(DROP)

validate: install dagster-home
	$(VENV)/bin/dagster definitions validate -m pipelines.definitions

bench: install
	$(PY) bench/detector_outfox.py
	$(PY) bench/embed_dedup_bench.py

# The browser test drives Debian's Chromium through Playwright (no browser download).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium missing: sudo apt-get install chromium chromium-driver (the browser test will skip)"; fi; \
	fi

clean:
	rm -rf var
