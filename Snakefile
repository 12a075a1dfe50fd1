# endorm: the endogenous reward of "Generalist Reward Models: Found Inside Large Language Models" (arXiv 2506.23235).
# `snakemake --cores all` runs the embedded default (config/config.yaml); `--configfile config/paper.yaml` the paper.
import os

from snakemake.utils import min_version, validate

from endorm.configcheck import check_config, check_config_files

min_version("9.0")

# The config files as written, before they are merged: a key written twice (YAML keeps only the last) or a file
# that is not YAML is named with its line.
check_config_files(
    [
        os.path.join(workflow.basedir, "config/config.yaml"),
        *(workflow.overwrite_configfiles or []),
    ]
)


configfile: os.path.join(workflow.basedir, "config/config.yaml")


# The checkout that the conda environments' post-deploy scripts install endorm from (`--sdm conda`,
# workflow/envs/post-deploy.sh): Snakemake runs them in its own working directory, which may be elsewhere.
os.environ.update(ENDORM_SOURCE=workflow.basedir)


# Every problem of the config at once, with key paths and the nearest valid key (endorm.configcheck); then Snakemake
# fills in the schema's defaults, the one place they live.
check_config(
    config,
    os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"),
    os.path.join(workflow.basedir, "workflow/lm_eval_tasks"),
)
validate(config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"))


report: "workflow/report/workflow.rst"


# One rule file per stage; the config decides which stages are in the DAG (an absent section is off).
include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/scoring.smk"
include: "workflow/rules/speed.smk"
include: "workflow/rules/report.smk"


if section("rmbench"):

    include: "workflow/rules/table1.smk"


if any(section(s) and config[s]["data"]["source"] == "constructed" for s in ("dsp", "multifaceted")):

    include: "workflow/rules/constructed.smk"


if section("dsp"):

    include: "workflow/rules/table2.smk"


if section("multifaceted"):

    include: "workflow/rules/figure1.smk"


if section("rl"):

    include: "workflow/rules/rl.smk"


if section("rl") and section("math_eval"):

    include: "workflow/rules/table3.smk"


if section("rmbench") and section("analysis"):

    include: "workflow/rules/analysis.smk"


if section("theory"):

    include: "workflow/rules/theory.smk"


rule all:
    default_target: True
    input:
        all_outputs(),


# Every model and data set the config downloads (Hub, GitHub), fetched on a machine with network before the compute
# jobs, which then need none: `snakemake --configfile config/paper.yaml --cores 4 prefetch` (docs/cluster.md).
rule prefetch:
    input:
        prefetch_outputs(),
