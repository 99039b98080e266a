# Two entry points (see README):
#   make book   -- set up .venv, execute every notebook with papermill, build the Jupyter Book
#   make test   -- set up .venv, run the test suite
#   make lint   -- ruff (lint + format check) and mypy, configured in pyproject.toml
#   make check-book -- open every page of the built book in headless Chromium, network off
#                  (.ci/check_pages.py): untypeset math, broken or squeezed images,
#                  overflowing content, warnings/tracebacks in outputs, network resources
# Set CCL_DATA_MIRROR to a folder holding the data files (CI: ../shared/data, found automatically).

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
GEN    := book/generated

ifneq ($(wildcard ../shared/data/dataset_location.tgz),)
export CCL_DATA_MIRROR ?= $(abspath ../shared/data)
endif
export CCL_PROGRESS ?= 0
# Spinning OpenMP threads cost ~4x on a busy 2-core machine; passive waiting does not.
export OMP_WAIT_POLICY ?= PASSIVE
export PYTHONHASHSEED := 0

NOTEBOOKS := $(sort $(wildcard notebooks/*.py))
EXECUTED  := $(patsubst notebooks/%.py,$(GEN)/%.ipynb,$(NOTEBOOKS))
LIB       := $(shell find ccl_lib -name '*.py' -o -name '*.json' 2>/dev/null)
PAPERMILL_ARGS ?=

# MathJax 3 is served from the built site, so formulas typeset offline: npm's `mathjax`
# package (its tarball checked against the registry's SHA-256), unpacked into a git-ignored
# folder that _config.yml lists in html_static_path (-> _build/html/_static/mathjax/).
MATHJAX_VERSION := 3.2.2
MATHJAX_SHA256  := 1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
MATHJAX_DIR     := .cache/mathjax
MATHJAX_STAMP   := $(MATHJAX_DIR)/static/mathjax/.version-$(MATHJAX_VERSION)

.PHONY: all book test lint notebooks env clean clean-book bench mathjax check-book
all: test book

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e '.[all]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ccl_lib)" >/dev/null
	touch $@

env: $(STAMP)

# Lint (ruff check, ruff format --check, mypy) first, then the suite; MathJax is fetched first so
# that the offline-typesetting test runs instead of skipping.
test: $(STAMP) $(MATHJAX_STAMP) lint
	$(BIN)/python -m pytest -q tests

# All three checks run; the target fails if any of them does.
lint: $(STAMP)
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

$(MATHJAX_STAMP):
	@command -v npm >/dev/null || { echo "npm is needed to fetch MathJax (apt-get install npm)"; exit 1; }
	rm -rf $(MATHJAX_DIR) && mkdir -p $(MATHJAX_DIR)
	cd $(MATHJAX_DIR) && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null
	echo "$(MATHJAX_SHA256)  $(MATHJAX_DIR)/mathjax-$(MATHJAX_VERSION).tgz" | sha256sum -c --quiet -
	tar -xzf $(MATHJAX_DIR)/mathjax-$(MATHJAX_VERSION).tgz -C $(MATHJAX_DIR)
	mkdir -p $(MATHJAX_DIR)/static.tmp && cp -r $(MATHJAX_DIR)/package/es5 $(MATHJAX_DIR)/static.tmp/mathjax
	rm -rf $(MATHJAX_DIR)/package && mv $(MATHJAX_DIR)/static.tmp $(MATHJAX_DIR)/static
	touch $@

mathjax: $(MATHJAX_STAMP)

# Each notebook: py:percent source -> .ipynb (jupytext) -> executed copy under book/generated (papermill).
# Make's timestamps are the execution cache: a notebook reruns only when it or the library changed.
$(GEN)/%.ipynb: notebooks/%.py $(LIB) $(STAMP)
	@mkdir -p $(GEN) $(GEN)/.src $(GEN)/.times
	$(BIN)/jupytext --quiet --to ipynb -o $(GEN)/.src/$*.ipynb $<
	@start=$$(date +%s); cd notebooks && ../$(BIN)/papermill --kernel python3 --no-progress-bar \
	  ../$(GEN)/.src/$*.ipynb ../$(GEN)/.$*.tmp.ipynb $(PAPERMILL_ARGS) \
	  && secs=$$(( $$(date +%s) - start )) && echo "$$secs" > ../$(GEN)/.times/$*.txt \
	  && echo "executed $* in $$secs s"
	mv $(GEN)/.$*.tmp.ipynb $@

# No progress bar or widget reaches an executed notebook.
$(EXECUTED): export TQDM_DISABLE = 1

# The scorecard page reads the rows the chapters recorded: it executes after every chapter.
$(GEN)/99_scorecard.ipynb: $(filter-out $(GEN)/99_scorecard.ipynb,$(EXECUTED))

notebooks: $(EXECUTED)

# The quick-start page includes the measured wall time of each executed notebook.
$(GEN)/chapter_times.md: $(EXECUTED)
	@{ echo "| notebook | wall time (s) |"; echo "| --- | ---: |"; \
	  for f in $(GEN)/.times/*.txt; do echo "| $$(basename $$f .txt) | $$(cat $$f) |"; done; \
	  echo "| **total** | $$(cat $(GEN)/.times/*.txt | awk '{s+=$$1} END {print s}') |"; } > $@.tmp && mv $@.tmp $@

book: notebooks $(GEN)/chapter_times.md $(MATHJAX_STAMP)
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . --all --warningiserror --keep-going --quiet
	@echo "Book built: $(abspath _build/html/index.html)"

check-book: $(STAMP)
	$(BIN)/python .ci/check_pages.py _build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean-book:
	rm -rf _build $(GEN)

clean: clean-book
	rm -rf $(VENV)
