# keraskit: every command a contributor needs. `make test` and `make demo` set up
# everything themselves on a machine that has only Python 3 and make.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of PyTorch is enough for the tests. Override for another build, e.g.
# make test TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
BACKENDS := jax tensorflow torch
# Everything `make test` needs: the three backends, the course, the grader, the site, the tools.
# TensorFlow is the full package, not tensorflow-cpu: keras-hub (a test reference) requires it,
# and the two would install the same files twice.
EXTRAS := test,course,grading,site,jax,tensorflow,torch,dev
# The oldest Keras and NumPy that pyproject.toml claims (keras>=3.8, numpy>=1.26): `make test`
# runs the library's tests on them too, in an environment with only the library's dependencies.
# JAX from Keras 3.8's time: later JAX (0.10) removed jax.spmd_mode, which Keras 3.8 calls, and
# 0.4.30's XLA counts FLOPs differently from the one test_vit_flops_agree_with_xla_cost_analysis
# compares with.
OLDEST := .venv-oldest
OLDEST_KERAS ?= keras==3.8.0
OLDEST_DEPS := "$(OLDEST_KERAS)" numpy==1.26.4 jax==0.5.0 jaxlib==0.5.0 pytest pytest-xdist scipy
# Need TensorFlow and PyTorch, or transformers and keras-hub (the pretrained loaders' references),
# which the library-only environment does not have.
OLDEST_DESELECT := --deselect tests/test_serialization.py::test_models_saved_here_load_under_every_other_backend \
	--ignore=tests/test_pretrained.py
PYTEST := python -m pytest -q -p no:cacheprovider
# The library's tests on both cores (pytest-xdist): each test is one process's work, so one
# worker leaves the second core idle.
PARALLEL := -n 2
# The library's tests and doctests: `course` marks the course's (tests/conftest.py says which).
LIBRARY_TESTS := -m "not course" --ignore=keraskit/course
RUFF_PATHS := keraskit tests tools docs/plugins bench
FASHION_MNIST := /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz

.PHONY: test check lint build release oldest demo notebooks exercises data clean site course chromium bubblewrap bench

# The environment: rebuilt when pyproject.toml, this file or the version (keraskit/__init__.py,
# which the editable install's metadata copies) changes.
$(BIN)/.installed: pyproject.toml Makefile keraskit/__init__.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

# Keras at its oldest supported version, the library only (no course extras), on JAX.
$(OLDEST)/bin/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST)/bin/python -m pip install --quiet $(OLDEST_DEPS)
	$(OLDEST)/bin/python -m pip install --quiet --no-deps -e .
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
	$(BIN)/ruff check $(RUFF_PATHS)
	$(BIN)/ruff format --check $(RUFF_PATHS)

# The inner loop, about 2.5 minutes: lint, format, and the library's unit tests and doctests on
# JAX; the tests marked `slow` (training to an accuracy, several processes) wait for `make test`.
check: lint
	KERAS_BACKEND=jax $(BIN)/$(PYTEST) $(PARALLEL) --durations=5 -m "not course and not slow" \
		--ignore=keraskit/course

# The library's tests at the oldest Keras it claims to support.
oldest: $(OLDEST)/bin/.installed
	KERAS_BACKEND=jax $(OLDEST)/bin/$(PYTEST) $(PARALLEL) $(LIBRARY_TESTS) $(OLDEST_DESELECT)

# The sdist and the wheel in dist/, checked as PyPI would (tests/test_packaging.py installs
# this wheel into a fresh venv).
build: $(BIN)/.installed
	rm -rf dist
	$(BIN)/python -m build --outdir dist
	$(BIN)/twine check --strict dist/*

# Everything but the upload: `make release` builds, checks and prints what it would upload
# and the checklist; the upload is the last line of it, run by hand.
VERSION = $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' keraskit/__init__.py)
release: build
	@echo
	@echo "Would upload to PyPI (nothing was uploaded):"
	@for file in dist/*; do printf "  %-45s %10s bytes\n" "$$file" "$$(wc -c < $$file)"; done
	@echo
	@echo "Release checklist for keraskit $(VERSION):"
	@echo "  [ ] the version is bumped in keraskit/__init__.py, the only place it is written"
	@echo "  [ ] CHANGELOG.md has the section '## [$(VERSION)] - YYYY-MM-DD', dated today"
	@echo "  [ ] CITATION.cff has version $(VERSION) and today's date-released"
	@echo "  [ ] make test is green on a fresh clone"
	@echo "  [ ] tag it: git tag v$(VERSION) && git push origin v$(VERSION)"
	@echo "  [ ] upload: $(BIN)/twine upload dist/*"

# The built wheel is a prerequisite: tests/test_packaging.py installs it (in the jax pass).
# Two pytest workers per backend: the notebook and grading tests wait on kernels, so the
# two cores stay busy. The library's tests at the oldest Keras run last, in their own venv.
test: $(BIN)/.installed data chromium bubblewrap lint build $(OLDEST)/bin/.installed
	@status=0; for backend in $(BACKENDS); do \
		echo "=== tests on $$backend ==="; \
		KERAS_BACKEND=$$backend $(BIN)/$(PYTEST) $(PARALLEL) --durations=10 \
			--ignore=tests/test_site.py || status=1; \
	done; \
	echo "=== the course website in headless Chromium ==="; \
	KERAS_BACKEND=jax $(BIN)/$(PYTEST) tests/test_site.py || status=1; \
	echo "=== the library's tests at $(OLDEST_KERAS) on jax ==="; \
	KERAS_BACKEND=jax $(OLDEST)/bin/$(PYTEST) $(PARALLEL) $(LIBRARY_TESTS) $(OLDEST_DESELECT) || status=1; \
	exit $$status

# The benchmarks against peers (not tests; see bench/README.md). On a CPU each script
# shrinks to smoke settings and says so.
bench: $(BIN)/.installed data
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/attention.py
	$(BIN)/python bench/vit_throughput.py
	KERAS_BACKEND=jax $(BIN)/python bench/time_to_accuracy.py
	$(BIN)/python bench/cpu_training.py
	$(BIN)/python bench/cpu_training.py --model conv-stem
	$(BIN)/python bench/cpu_step_profile.py
	$(BIN)/python bench/jax_step_profile.py
	$(BIN)/python bench/pretrained_agreement.py

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

# bubblewrap, the sandbox `keraskit grade` runs each learner's notebook in (tests/test_grading*.py), from Debian.
bubblewrap:
	@if ! command -v bwrap >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's bubblewrap"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
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
	rm -rf $(VENV) $(OLDEST) build dist *.egg-info .pytest_cache .ruff_cache site docs/course docs/exercises docs/api
