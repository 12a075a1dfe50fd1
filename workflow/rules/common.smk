# Shared names and helpers. The config was checked (endorm.configcheck) and its defaults filled in (the schema) by
# the Snakefile, so rules read config keys directly: workflow/schemas/config.schema.yaml is the one place a default
# lives.
import re

from snakemake.exceptions import WorkflowError

from endorm.methods import JUDGE_METHODS, LIKELIHOOD_METHODS  # torch-free: parsed by every job
from endorm.tokenview import comparison_names  # torch-free


def expand_data_root(value, root):
    """``{data_root}`` in every string of the config replaced by the ``data_root`` key (config/rehearsal.yaml)."""
    if isinstance(value, str):
        return value.replace("{data_root}", root)
    if isinstance(value, dict):
        return {k: expand_data_root(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_data_root(v, root) for v in value]
    return value


if config.get("data_root"):
    for _key in [k for k in config if k != "data_root"]:
        config[_key] = expand_data_root(config[_key], str(config["data_root"]))

RUN = config["run"]
OUT = f"results/{RUN}"
MODEL = config["reward_model"]
COMPUTE = config["compute"]


def model_spec(key):
    """A `models` entry as prepare_model takes it: `random.tokenizer_from` replaced by the packaged model's entry."""
    spec = dict(config["models"][key])
    random = dict(spec.get("random") or {})
    source = random.pop("tokenizer_from", None)
    if source:
        random["tokenizer_gguf"] = config["models"][source]
    if random:
        spec["random"] = random
    return spec


def section(name):
    """A config section that is present and not switched off (absent sections are off)."""
    return name in config and config[name].get("enabled", True)


def subsection(parent, name):
    """A sub-section of a switched-on section that is present and not switched off (absent is off)."""
    return section(parent) and isinstance(config[parent].get(name), dict) and config[parent][name]["enabled"]


def rmbench_data_summary():
    """How Table 1 names its data: `embedded` with the rows of each constructed set when every entry is packaged
    data (the embedded default's sets), else the entries' source kinds."""
    entries = config["rmbench"]["data"]
    if all(e["source"] == "package" for e in entries):
        return {"source": "embedded", "embedded": {e["name"]: e.get("n") for e in entries}}
    return {"source": "+".join(dict.fromkeys(e["source"] for e in entries))}


def control_temperatures():
    """{wildcard: temperature} of Table 3's sampled controls: rl.trainer.temperature (the reference) and the lower
    ones."""
    if not (section("rl") and subsection("math_eval", "controls")):
        return {}
    temps = [config["rl"]["trainer"]["temperature"], *config["math_eval"]["controls"]["temperatures"]]
    return {f"{float(t):g}": float(t) for t in temps}


def math_benchmarks():
    """{task: source spec} of the configured math benchmarks, in config order (names are unique: configcheck)."""
    return {b["name"]: dict(b) for b in config["math_eval"]["benchmarks"]} if section("math_eval") else {}


wildcard_constraints:
    model="|".join(map(re.escape, config["models"])),
    policy="|".join(map(re.escape, config["models"])),
    # the preference suites scored by the same rules: RM-Bench (Table 1) and Multifaceted (Figure 1)
    suite="rmbench|multifaceted",
    method="|".join(map(re.escape, LIKELIHOOD_METHODS + JUDGE_METHODS)),
    judge="|".join(map(re.escape, JUDGE_METHODS)),
    variant="base|rl",
    # a math benchmark of Table 3: an lm-eval task in workflow/lm_eval_tasks
    task="|".join(map(re.escape, math_benchmarks())) or "none",
    # a sampling temperature of Table 3's controls, as written by control_temperatures()
    temperature="|".join(map(re.escape, control_temperatures())) or "none",


def gpu_request(needed, why, remedy):
    """A job's `gpu` resource: `needed` GPUs, refused when the run was given fewer (`--resources gpu=N`).

    Snakemake lowers a job's request to the global limit without a word (the 7B RL job would start on one GPU under
    `--resources gpu=1`). This stops the plan instead, naming the rule, what it needs and why. Snakemake evaluates it
    when a dry run lists the job; `onstart` below evaluates it before a real run starts any job. With no `gpu` limit
    (the SLURM profile: each job asks SLURM for its own GPUs) there is nothing to compare.
    """
    if not needed:
        return 0

    def gpu(wildcards, rulename):
        given = workflow.global_resources.get("gpu").value
        if given is not None and given < needed:
            raise WorkflowError(
                f"rule {rulename} needs {needed} GPU{'s' if needed > 1 else ''} but this run was given gpu={given} "
                f"(--resources gpu={given}); Snakemake would quietly run it on {given}. Why it needs them: {why}. "
                f"{remedy}")
        return needed

    return gpu


# Evaluate every planned job's resources before the first job starts: without this, Snakemake evaluates a job's
# resources only when the job becomes ready, so gpu_request would refuse the RL job hours into the run.
onstart:
    for job in workflow.dag.needrun_jobs():
        job.resources


def gpu_resources():
    """Generic resources of a model-running job: a GPU at paper scale, none on the embedded default."""
    mb = COMPUTE["gpu_mem_mb"]
    why = f"compute.gpu_mem_mb is {mb}, so its model runs on a GPU"
    remedy = "Pass --resources gpu=N with the N GPUs of this machine, or set compute.gpu_mem_mb: 0 to run on the CPU."
    return dict(gpu=gpu_request(1 if mb else 0, why, remedy), mem_mb=mb or 8000)


def score_params(suite, methods=()):
    """Options of a scoring job; only its own methods' row caps, so changing one cap reruns one job."""
    caps = config[suite].get("max_rows_per_domain", {})  # dsp has none
    return dict(max_rows_per_domain={m: caps[m] for m in methods if m in caps}, compute=COMPUTE,
                reward=config["reward"], format=config["format"], judge=config["judge"])


# Sources that download: the Hugging Face Hub and pinned files on GitHub.
REMOTE_SOURCES = ("hub", "github")


def prefetch_outputs():
    """rule prefetch: the output of every step that downloads (a model, a data set), so that no later job needs the
    network. The sections' conditions are the Snakefile's (which rule files are included)."""
    outs = [f"results/models/{m}" for m, spec in config["models"].items() if spec["source"] in REMOTE_SOURCES]
    if section("rmbench") and any(e["source"] in REMOTE_SOURCES for e in config["rmbench"]["data"]):
        outs.append(f"{OUT}/rmbench/preferences.jsonl")
    for name, rows in (("dsp", "dsp/dsp.json"), ("multifaceted", "multifaceted/preferences.jsonl")):
        if section(name) and config[name]["data"]["source"] in REMOTE_SOURCES:
            outs.append(f"{OUT}/{rows}")
    if section("rl") and config["rl"]["data"]["source"] in REMOTE_SOURCES:
        outs.append(f"{OUT}/rl/{config['rl']['policy']}/prompts.jsonl")
    if section("rl") and section("math_eval"):
        outs += [f"{OUT}/math/data/{name}.jsonl" for name, spec in math_benchmarks().items()
                 if spec["source"] in REMOTE_SOURCES]
    return outs


def all_outputs():
    """rule all: what the config switches on."""
    outs = [f"{OUT}/provenance.md"]
    if section("rmbench"):
        outs += [f"{OUT}/rmbench/{MODEL}/table1.{ext}" for ext in ("csv", "md", "png")]
    if section("dsp"):
        outs += [f"{OUT}/dsp/{MODEL}/table2.{ext}" for ext in ("csv", "md", "png")]
    if section("multifaceted"):
        outs += [f"{OUT}/multifaceted/{MODEL}/figure1.{ext}" for ext in ("csv", "md", "png")]
    if section("rl"):
        policy = config["rl"]["policy"]
        outs.append(f"{OUT}/rl/{policy}/training_curves.png")
        if subsection("rl", "sharpening"):
            outs += [f"{OUT}/rl/{policy}/sharpening.{ext}" for ext in ("csv", "md", "png")]
        if section("math_eval"):
            outs += [f"{OUT}/math/{policy}/{name}" for name in ("table3.csv", "table3.md", "table3.png",
                                                                 "examples.md")]
    if section("rmbench") and section("analysis"):
        base = f"{OUT}/rmbench/{MODEL}/analysis"
        t = config["analysis"]["tokens"]
        outs += [f"{base}/{name}" for name in ("ablations.csv", "ablations.md", "ablations.png", "length.csv",
                                               "length.md", "length.png", "tokens.html")]
        outs += [f"{base}/tokens/{name}.png" for name in comparison_names(t["top"], t["bottom"], t["random"])]
    if section("theory"):
        outs += [f"{OUT}/theory/theorem2.{ext}" for ext in ("csv", "md", "png")]
    if config["scoring_speed"]["enabled"]:
        outs.append(f"{OUT}/scoring_speed/{MODEL}.json")
    return outs
