"""The run's configuration and software versions, for the report (issue: every output records how it was made)."""
import platform
import sys

import yaml

from endorm.data.sources import package_version
from endorm.io import write_text
from endorm.logs import redirect_to

PACKAGES = ("endorm", "torch", "transformers", "tokenizers", "datasets", "accelerate", "trl", "lm_eval",
            "math-verify", "snakemake", "snakemake-executor-plugin-slurm", "matplotlib", "gguf", "numpy")

with redirect_to(snakemake.log[0]):
    versions = {name: package_version(name) or "not installed" for name in PACKAGES}
    lines = ["# Provenance of this run", "", f"* Python {sys.version.split()[0]} on {platform.platform()}",
             f"* Processor: {platform.processor() or platform.machine()}", "", "## Software", "",
             "| package | version |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in versions.items()]
    lines += ["", "## Configuration (after defaults and --configfile overrides)", "", "```yaml",
              yaml.safe_dump(dict(snakemake.config), sort_keys=False, allow_unicode=True, width=110).rstrip(), "```",
              ""]
    write_text(snakemake.output[0], "\n".join(lines))
