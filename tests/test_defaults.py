"""One place per default: the library's defaults (endorm.defaults and the option classes built on them) are what the
command line and the workflow's schema give when a value is left out."""

import copy
import inspect

import pytest
import yaml
from snakemake.utils import validate

from conftest import ROOT
from endorm import defaults
from endorm.analysis.ablations import ablation_variants
from endorm.methods.baselines import generate
from endorm.cli import build_parser
from endorm.core.encoding import PromptFormat
from endorm.core.engine import Scorer
from endorm.benchmarks.lmeval import evaluate, write_task_configs
from endorm.data.mathdata import as_prompt, build_prompt, math_lighteval_rows
from endorm.options import format_from_args, prompt_format, score_options
from endorm.core.reward import RewardOptions, aggregate
from endorm.methods.scoring import ScoreOptions

SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
CONFIG = yaml.safe_load((ROOT / "config/config.yaml").read_text())


def filled(**sections) -> dict:
    """The embedded default's config with ``sections`` replaced, after the schema filled in its defaults."""
    config = copy.deepcopy(CONFIG)
    config.update(sections)
    validate(config, str(SCHEMA))
    return config


def default(params, name):
    return params[name].default


def test_schema_defaults_are_the_librarys():
    config = filled(reward={}, format={}, judge={}, compute={})
    assert RewardOptions(**config["reward"]) == RewardOptions()
    assert prompt_format(config["format"]) == PromptFormat()
    assert score_options(config) == ScoreOptions()  # judge.max_new_tokens, compute.batch_tokens, judge prompts
    assert config["compute"]["batch_tokens"] == defaults.DEFAULT_BATCH_TOKENS
    assert config["reward"]["gamma"] == defaults.DEFAULT_GAMMA == 0.93  # RMGAP's value: not to drift by accident
    config = filled(analysis={"ablations": {}}, math_eval={k: v for k, v in CONFIG["math_eval"].items()
                                                            if k not in ("batch_size", "instruction")})
    assert config["analysis"]["ablations"]["gamma"] == default(inspect.signature(ablation_variants).parameters, "gamma")
    assert config["math_eval"]["batch_size"] == default(inspect.signature(evaluate).parameters, "batch_size")
    # null instruction: the library appends its default one (no script fills it in)
    assert config["math_eval"]["instruction"] is None and config["rl"]["instruction"] is None
    assert build_prompt("P", None) == "P\n" + defaults.DEFAULT_INSTRUCTION and build_prompt("P", "") == "P"


@pytest.mark.parametrize("command", ["score", "serve"])
def test_command_line_defaults_are_the_librarys(command):
    argv = [command, "--model", "m"] + (["--input", "i", "--output", "o"] if command == "score" else [])
    args = build_parser().parse_args(argv)
    assert RewardOptions(args.alpha, args.terminal, args.aggregation, args.gamma) == RewardOptions()
    assert format_from_args(args) == PromptFormat()
    assert args.batch_tokens == ScoreOptions().max_batch_tokens == defaults.DEFAULT_BATCH_TOKENS
    assert args.dtype == filled(compute={})["compute"]["dtype"]
    if command == "score":
        assert args.max_new_tokens == ScoreOptions().max_new_tokens == defaults.DEFAULT_JUDGE_MAX_NEW_TOKENS


def test_library_functions_share_the_option_classes_defaults():
    params = lambda f: inspect.signature(f).parameters  # noqa: E731
    assert default(params(aggregate), "gamma") == RewardOptions().gamma
    assert default(params(aggregate), "aggregation") == RewardOptions().aggregation
    assert default(params(generate), "max_new_tokens") == ScoreOptions().max_new_tokens
    assert default(params(generate), "max_batch_tokens") == ScoreOptions().max_batch_tokens
    for method in (Scorer.token_stats, Scorer.token_stats_ids):
        assert default(params(method), "alpha") == RewardOptions().alpha
    for f in (evaluate, write_task_configs, build_prompt):
        assert default(params(f), "instruction") is None
    # the RL prompts: None is build_prompt's default instruction
    assert as_prompt({"id": 0, "problem": "1+1?", "answer": "2"}, None)["prompt"] == build_prompt("1+1?")
    assert "instruction" in params(math_lighteval_rows)
