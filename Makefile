# Two entry points (see README):
#   make book   -- set up .venv, execute every notebook with papermill, build the Jupyter Book
#   make test   -- set up .venv, run the test suite
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

.PHONY: all book test notebooks env clean clean-book bench
all: test book

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e '.[all]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ccl_lib)" >/dev/null
	touch $@

env: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

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

notebooks: $(EXECUTED)

book: notebooks
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . --all --warningiserror --keep-going --quiet
	@echo "Book built: $(abspath _build/html/index.html)"

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean-book:
	rm -rf _build $(GEN)

clean: clean-book
	rm -rf $(VENV)
