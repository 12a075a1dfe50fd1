"""Library options from the workflow's config sections (plain dicts whose defaults the schema filled in) and from
the command line's parsed arguments (shared by ``endorm score`` and friends, ``endorm serve`` and ``endorm
bench-serve``, so the server never imports the command line)."""

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


# ----- from the command line's arguments (endorm.cli.args adds them) -------------------------------------------
def format_from_args(args) -> PromptFormat:
    """The prompt format of ``--no-chat-template``, ``--system-prompt``, ``--no-score-eot``, ``--eot-token``,
    ``--max-length``, ``--overflow`` (:func:`endorm.cli.args.add_format_args`)."""
    return PromptFormat(chat_template=not args.no_chat_template, system_prompt=getattr(args, "system_prompt", None),
                        score_eot=not args.no_score_eot, eot_token=args.eot_token, max_length=args.max_length,
                        overflow=args.overflow)


def _quiet_libraries() -> None:
    """--quiet: transformers' and the Hub's own progress bars (weight loading, downloads) and warnings off too."""
    import transformers
    from huggingface_hub.utils import disable_progress_bars

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    disable_progress_bars()


def load_from_args(args):
    """Model and tokenizer of ``--model``, ``--dtype``, ``--device``, ``--threads`` (and ``--quiet``)."""
    import torch

    from .core.loading import load_model

    if getattr(args, "quiet", False):
        _quiet_libraries()
    if args.threads:
        torch.set_num_threads(args.threads)
    return load_model(args.model, args.dtype, args.device)
