"""Library options from the workflow's config sections (plain dicts whose defaults the schema filled in)."""

from __future__ import annotations

from .core.encoding import PromptFormat
from .core.reward import RewardOptions
from .methods.scoring import ScoreOptions


def prompt_format(fmt: dict) -> PromptFormat:
    """``format:`` of the config: its keys are :class:`PromptFormat`'s fields."""
    return PromptFormat(**fmt)


def score_options(opts: dict, progress: bool = True) -> ScoreOptions:
    """``opts`` = the {reward, format, judge, compute} sections of the config."""
    out = ScoreOptions(reward=RewardOptions(**opts["reward"]), fmt=prompt_format(opts["format"]),
                       max_new_tokens=opts["judge"]["max_new_tokens"],
                       max_batch_tokens=opts["compute"]["batch_tokens"], progress=progress)
    out.judge_prompts.update(opts["judge"]["prompts"])
    return out


def load_for_job(path: str, compute: dict, threads: int):
    """Model and tokenizer for a workflow job, with its dtype, device and threads."""
    import torch

    from .gpus import claim
    from .core.loading import load_model

    torch.set_num_threads(threads)
    if compute["device"] in ("auto", "cuda"):
        claim(1)
    return load_model(path, compute["dtype"], None if compute["device"] == "auto" else compute["device"])
