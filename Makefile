# Two entry points (see README):
#   make book   -- set up .venv, execute every notebook with papermill, build the Jupyter Book
#   make test   -- set up .venv, run the test suite
#   make lint   -- ruff (lint + format check) and mypy, configured in pyproject.toml
#   make check-book -- open every page of the built book (and of the student edition and the slides,
#                  where built) in headless Chromium, network off (.ci/check_pages.py): untypeset math,
#                  broken or squeezed images, overflowing content and tables, warnings/tracebacks
#                  in outputs, network resources
#   make notebooks -- write each chapter's paired notebook twin notebooks/NAME.ipynb (jupytext.toml)
#   make executed  -- execute every chapter with papermill into book/generated/ (what `make book` uses)
#   make book-student -- the same book without the exercises' solutions, into _build/student/html
#   make slides    -- reveal.js slides of the course's meetings (book/slides/*.yml) into _build/slides
#   make ledger-verify -- check the evidence ledger (results/ledger) and recompute a random sample of it
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
# The evidence ledger's records (ccl_lib.experiments.ledger): chapters read their runs from it.
LEDGER    := $(wildcard results/ledger/*.json)
PAPERMILL_ARGS ?=

# MathJax 3 is served from the built site, so formulas typeset offline: npm's `mathjax`
# package (its tarball checked against the registry's SHA-256), unpacked into a git-ignored
# folder that _config.yml lists in html_static_path (-> _build/html/_static/mathjax/).
MATHJAX_VERSION := 3.2.2
MATHJAX_SHA256  := 1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
MATHJAX_DIR     := .cache/mathjax
MATHJAX_STAMP   := $(MATHJAX_DIR)/static/mathjax/.version-$(MATHJAX_VERSION)

# reveal.js for the slides, the same way: npm's tarball checked against its SHA-256, unpacked into .cache/.
REVEAL_VERSION := 5.2.1
REVEAL_SHA256  := 359b575dd51bbda32f89b2fd4c7dc46ad7389a805572158916c29252f7a27333
REVEAL_DIR     := .cache/revealjs
REVEAL_STAMP   := $(REVEAL_DIR)/reveal.js/.version-$(REVEAL_VERSION)
SLIDE_PLANS    := $(sort $(wildcard book/slides/*.yml))
# The chapters the plans take sections from (their `chapter:` lines): only these are executed for the slides.
SLIDE_CHAPTERS := $(sort $(shell sed -n 's/^[ -]*chapter:[ ]*\([0-9A-Za-z_]*\).*/\1/p' $(SLIDE_PLANS)))

.PHONY: all book book-student test lint notebooks executed env clean clean-book bench mathjax revealjs slides check-book ledger-verify
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

$(REVEAL_STAMP):
	@command -v npm >/dev/null || { echo "npm is needed to fetch reveal.js (apt-get install npm)"; exit 1; }
	rm -rf $(REVEAL_DIR) && mkdir -p $(REVEAL_DIR)
	cd $(REVEAL_DIR) && npm pack --silent reveal.js@$(REVEAL_VERSION) >/dev/null
	echo "$(REVEAL_SHA256)  $(REVEAL_DIR)/reveal.js-$(REVEAL_VERSION).tgz" | sha256sum -c --quiet -
	tar -xzf $(REVEAL_DIR)/reveal.js-$(REVEAL_VERSION).tgz -C $(REVEAL_DIR)
	mv $(REVEAL_DIR)/package $(REVEAL_DIR)/reveal.js
	touch $@

revealjs: $(REVEAL_STAMP)

# The chapters' notebook twins (jupytext.toml pairs notebooks/NAME.py with notebooks/NAME.ipynb): written
# when missing, and an edit on either side is carried to the other (the newer file wins).
notebooks: $(STAMP)
	$(BIN)/jupytext --sync $(NOTEBOOKS)

# Each notebook: py:percent source -> .ipynb (jupytext, rewritten only when its content changed, so that
# `jupytext --sync` touching a source does not rerun it) -> executed copy under book/generated (papermill).
# Make's timestamps are the execution cache: a notebook reruns only when it or the library changed.
$(GEN)/.src/%.ipynb: notebooks/%.py $(STAMP)
	@mkdir -p $(GEN)/.src
	@$(BIN)/jupytext --quiet --to ipynb -o $@.tmp.ipynb $< && \
	  if cmp -s $@.tmp.ipynb $@; then rm $@.tmp.ipynb; else mv $@.tmp.ipynb $@; fi

.SECONDARY: $(patsubst notebooks/%.py,$(GEN)/.src/%.ipynb,$(NOTEBOOKS))

$(GEN)/%.ipynb: $(GEN)/.src/%.ipynb $(LIB) $(LEDGER) $(STAMP)
	@mkdir -p $(GEN) $(GEN)/.times
	@start=$$(date +%s); cd notebooks && ../$(BIN)/papermill --kernel python3 --no-progress-bar \
	  ../$(GEN)/.src/$*.ipynb ../$(GEN)/.$*.tmp.ipynb $(PAPERMILL_ARGS) \
	  && secs=$$(( $$(date +%s) - start )) && echo "$$secs" > ../$(GEN)/.times/$*.txt \
	  && echo "executed $* in $$secs s"
	mv $(GEN)/.$*.tmp.ipynb $@

# No progress bar or widget reaches an executed notebook.
$(EXECUTED): export TQDM_DISABLE = 1

# The scorecard page reads the rows the chapters recorded: it executes after every chapter.
$(GEN)/99_scorecard.ipynb: $(filter-out $(GEN)/99_scorecard.ipynb,$(EXECUTED))

executed: $(EXECUTED)

# The quick-start page includes the measured wall time of each executed notebook.
$(GEN)/chapter_times.md: $(EXECUTED)
	@{ echo "| notebook | wall time (s) |"; echo "| --- | ---: |"; \
	  for f in $(GEN)/.times/*.txt; do echo "| $$(basename $$f .txt) | $$(cat $$f) |"; done; \
	  echo "| **total** | $$(cat $(GEN)/.times/*.txt | awk '{s+=$$1} END {print s}') |"; } > $@.tmp && mv $@.tmp $@

# Pages written from the library and its configs: every chapter's parameters (ccl_lib.parameters),
# and the quick-start's settings (sizes, data sets, Python version) and measured times.
BOOK_PAGES := book/parameters.md $(GEN)/quickstart_facts.md $(GEN)/ledger_holdings.md

book/parameters.md: tools/parameters_page.py $(NOTEBOOKS) $(LIB) $(STAMP)
	$(BIN)/python tools/parameters_page.py -o $@

$(GEN)/quickstart_facts.md: tools/docs_facts.py pyproject.toml Makefile $(LIB) $(STAMP)
	@mkdir -p $(GEN)
	$(BIN)/python tools/docs_facts.py -o $@

# What the evidence ledger holds (book/evidence.md includes it).
$(GEN)/ledger_holdings.md: tools/ledger_page.py $(LEDGER) $(LIB) $(STAMP)
	@mkdir -p $(GEN)
	$(BIN)/python tools/ledger_page.py -o $@

book: executed $(GEN)/chapter_times.md $(BOOK_PAGES) $(MATHJAX_STAMP)
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . --all --warningiserror --keep-going --quiet
	@echo "Book built: $(abspath _build/html/index.html)"

# The student edition: the same executed chapters, every {solution} left out (sphinx-exercise's
# hide_solutions), built into its own folder; `make book` stays the full edition.
book-student: executed $(GEN)/chapter_times.md $(BOOK_PAGES) $(MATHJAX_STAMP)
	rm -rf _build/student && mkdir -p _build/student
	$(BIN)/python tools/student_config.py _config.yml > _build/student/_config.yml
	$(BIN)/jupyter-book build . --all --warningiserror --keep-going --quiet \
	  --config _build/student/_config.yml --path-output _build/student
	mv _build/student/_build/html _build/student/html && rm -rf _build/student/_build
	@echo "Student edition built: $(abspath _build/student/html/index.html)"

# Slides of the course's meetings from the executed chapters (tools/slides.py, one plan per meeting).
slides: $(SLIDE_PLANS) $(REVEAL_STAMP) $(MATHJAX_STAMP) $(patsubst %,$(GEN)/%.ipynb,$(SLIDE_CHAPTERS))
	rm -rf _build/slides _build/slides.tmp
	$(BIN)/python tools/slides.py $(SLIDE_PLANS) -o _build/slides.tmp --reveal $(REVEAL_DIR)/reveal.js
	mv _build/slides.tmp _build/slides
	@echo "Slides built: $(abspath _build/slides/index.html)"

# _build/html, and the student edition and the slides where they were built.
check-book: $(STAMP)
	$(BIN)/python .ci/check_pages.py

# Check every record of the evidence ledger and recompute a random sample (seeded by the commit),
# within a time budget; the scorecard page reports what this build recomputed.  Fails on a refused
# record or a disagreement.
LEDGER_SAMPLE ?= 3
LEDGER_BUDGET ?= 300
ledger-verify: $(STAMP)
	@mkdir -p .cache
	$(BIN)/python -m ccl_lib ledger verify --sample $(LEDGER_SAMPLE) --budget-s $(LEDGER_BUDGET) \
	  --report .cache/ledger-verify.json

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean-book:
	rm -rf _build $(GEN)

clean: clean-book
	rm -rf $(VENV)
