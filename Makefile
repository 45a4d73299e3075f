# keraskit: every command a contributor needs. `make test` and `make demo` set up
# everything themselves on a machine that has only Python 3 and make.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of PyTorch is enough for the tests. Override for another build, e.g.
# make test TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
BACKENDS := jax tensorflow torch
FASHION_MNIST := /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz

.PHONY: test lint demo notebooks exercises data clean site course chromium bench

# The environment: rebuilt when pyproject.toml or this file changes.
$(BIN)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[test,course,site,jax,tensorflow-cpu,torch]"
	touch $@

# Real Fashion-MNIST from Debian's package where we can install it (as root);
# elsewhere the demo falls back to synthetic data and says so.
data:
	@if [ ! -f $(FASHION_MNIST) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's dataset-fashion-mnist"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
		|| echo "Could not install dataset-fashion-mnist; continuing without it"; \
	fi

lint: $(BIN)/.installed
	$(BIN)/ruff check keraskit tests tools docs/plugins bench

# The whole suite once per backend, each in its own process; fails if any fails.
# The website's browser test runs once, outside the backend loop: it reads stored outputs.
test: $(BIN)/.installed data chromium lint
	@status=0; for backend in $(BACKENDS); do \
		echo "=== tests on $$backend ==="; \
		KERAS_BACKEND=$$backend $(BIN)/python -m pytest -q -p no:cacheprovider --durations=10 \
			--ignore=tests/test_site.py || status=1; \
	done; \
	echo "=== the course website in headless Chromium ==="; \
	KERAS_BACKEND=jax $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_site.py || status=1; \
	exit $$status

# The benchmarks against peers (not tests; see bench/README.md). On a CPU each script
# shrinks to smoke settings and says so.
bench: $(BIN)/.installed data
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/attention.py
	$(BIN)/python bench/vit_throughput.py
	KERAS_BACKEND=jax $(BIN)/python bench/time_to_accuracy.py

# Execute every lesson at full size and store its outputs (with a hash of its code).
notebooks: $(BIN)/.installed data
	$(BIN)/python tools/notebooks.py run

# Student notebooks from solutions/ (solutions stubbed out); a test fails when they drift.
exercises: $(BIN)/.installed
	$(BIN)/python tools/exercises.py generate

# Headless Chromium for the website's browser test (tests/test_site.py), from Debian.
chromium:
	@if [ ! -x /usr/bin/chromedriver ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium and chromium-driver"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

# The course website in site/: lesson pages rendered from the notebooks' stored outputs.
site: $(BIN)/.installed
	$(BIN)/python tools/site.py
	$(BIN)/python -m mkdocs build --strict

# Everything from a fresh clone: environment, website, served at http://127.0.0.1:8000.
course: site
	@echo "The course: http://127.0.0.1:8000 (Ctrl-C to stop)"
	$(BIN)/python -m http.server 8000 --bind 127.0.0.1 --directory site

demo: $(BIN)/.installed data
	KERAS_BACKEND=$${KERAS_BACKEND:-jax} $(BIN)/python -m keraskit.course.demo

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache site docs/course docs/exercises
