"""Training on the endogenous reward (Table 3): TRL's GRPO or RLOO trainer from a JSON spec, with a guard.

* :func:`train` runs TRL's ``GRPOTrainer`` (or ``RLOOTrainer``) with :class:`endorm.rl.EndogenousRewardFunction` (the
  frozen initial model's reward) and :class:`endorm.rl.AnswerAccuracy` (monitoring, weight 0.0);
  ``python -m endorm.rl.train SPEC`` is the entry point that the workflow's ``train_rl`` (and ``accelerate launch`` on
  several GPUs) starts.
* :class:`~endorm.rl.guard.NonFiniteGuard` (guard.py) watches every optimizer step: a non-finite loss, gradient
  (norm) or endogenous reward stops the run with an :class:`EndormError` naming the step, the quantity and its value
  (``on_nonfinite: stop``), or drops that step's update and counts it (``skip``). TRL would otherwise train through
  it: it turns NaN rewards into 0 and the Trainer logs the running mean in place of a NaN loss.

PPO, which the paper reports, is no longer in TRL (removed in 2026); GRPO with a KL penalty to the initial model is
the closest TRL trainer: same policy-gradient family, a group-relative baseline instead of a learned critic.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from ..defaults import DEFAULT_BATCH_TOKENS
from ..core.encoding import PromptFormat
from ..errors import EndormError
from ..io import apply_umask, read_jsonl, write_json, write_jsonl, write_text
from ..core.reward import RewardOptions
from .guard import NonFiniteGuard, guarded
from .reward import ON_NONFINITE, AnswerAccuracy, ContinuousRollout, EndogenousRewardFunction

log = logging.getLogger(__name__)

ALGORITHMS = ("grpo", "rloo")
ROLLOUTS = ("auto", "endorm", "trl")
ROLLOUT_DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class RLSpec:
    """Everything one RL run needs; written as JSON by the workflow and read by ``python -m endorm.rl.train``.

    ``trainer`` holds TRL's own settings: fields of ``GRPOConfig`` (``algorithm`` grpo) or ``RLOOConfig`` (rloo)
    under TRL's names, passed to TRL as written (:func:`trainer_config`). The other fields are endorm's."""

    policy: str                      # model folder of the initial policy
    reward_model: str                # model folder of the frozen reward model (the paper: the same model)
    prompts: str                     # JSONL: {"id", "prompt": [chat messages], "answer"}
    output_dir: str                  # checkpoint folder (model + tokenizer + endorm_rl.json)
    log_table: str                   # CSV, one row per optimizer step
    samples: str                     # JSONL of sampled completions with their rewards
    algorithm: str = "grpo"
    trainer: dict = field(default_factory=dict)  # GRPOConfig / RLOOConfig fields, TRL's names, passed as written
    dtype: str = "float32"            # compute dtype (bf16 autocast on a GPU) and the frozen reward model's
    master_dtype: str = "float32"     # the trained weights; float32 keeps small updates (lr 1e-6) that bf16 rounds away
    device: str | None = None
    threads: int | None = None
    batch_tokens: int = DEFAULT_BATCH_TOKENS
    on_nonfinite: str = "stop"       # a non-finite loss, gradient or reward: stop (EndormError) or skip the step
    rollouts: str = "auto"           # endorm (continuous batching, one process, GRPO) | trl (TRL's generate) | auto
    rollout_dtype: str | None = None  # endorm's rollouts sample from a copy of the policy in this dtype (None: itself)
    reward: dict = field(default_factory=dict)   # RewardOptions fields
    format: dict = field(default_factory=dict)   # PromptFormat fields for text prompts

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise EndormError(f"rl.algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        if self.on_nonfinite not in ON_NONFINITE:
            raise EndormError(f"rl.on_nonfinite must be one of {ON_NONFINITE}, got {self.on_nonfinite!r}")
        if self.rollouts not in ROLLOUTS:
            raise EndormError(f"rl.rollouts must be one of {ROLLOUTS}, got {self.rollouts!r}")
        if self.rollouts == "endorm" and self.algorithm != "grpo":
            raise EndormError("rl.rollouts endorm needs rl.algorithm grpo (TRL's RLOO trainer takes no rollout "
                              "function): use rl.rollouts auto or trl")
        if self.rollout_dtype not in (None, *ROLLOUT_DTYPES):
            raise EndormError(f"rl.rollout_dtype must be one of {ROLLOUT_DTYPES} or null, got {self.rollout_dtype!r}")

    @classmethod
    def from_config(cls, rl: dict, compute: dict, *, reward: dict, fmt: dict, threads: int | None = None,
                    **paths: str) -> "RLSpec":
        """The spec of the workflow's ``rl`` section (its defaults filled in by the schema), with ``compute``'s
        device, dtype and token budget, the ``reward`` and ``format`` sections; ``paths``: policy, reward_model,
        prompts, output_dir, log_table, samples."""
        return cls(**paths, algorithm=rl["algorithm"], trainer=dict(rl["trainer"]),
                   dtype=rl["dtype"] or compute["dtype"], master_dtype=rl["master_dtype"], device=compute["device"],
                   threads=threads, batch_tokens=compute["batch_tokens"], on_nonfinite=rl["on_nonfinite"],
                   rollouts=rl["rollouts"], rollout_dtype=rl.get("rollout_dtype"), reward=dict(reward),
                   format=dict(fmt))


def _device(spec: RLSpec) -> str | None:
    if spec.device not in (None, "", "auto"):
        return spec.device
    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return "cpu"


def endorm_trainer_defaults(spec: RLSpec) -> dict[str, Any]:
    """The TRL fields endorm sets where ``spec.trainer`` is silent (it wins where it names them)."""
    on_cpu = _device(spec) == "cpu"
    return dict(
        # TRL's own output folder; nothing is saved there (the checkpoint is written once, by train)
        output_dir=str(Path(spec.output_dir).with_name(Path(spec.output_dir).name + ".trainer")),
        save_strategy="no", report_to=[],
        logging_steps=1,  # every optimizer step is a row of the log table
        reward_weights=[1.0, 0.0],  # the endogenous reward trains; answer accuracy is only monitored
        use_cpu=on_cpu, bf16=(spec.dtype == "bfloat16" and not on_cpu),  # the compute dtype follows rl.dtype
        disable_tqdm=False,  # the progress bar in the job's log
        # TRL turns gradient checkpointing on by default: it saves memory at 7B and costs a forward pass per step
        gradient_checkpointing=False,
    )


def trainer_config(spec: RLSpec):
    """The TRL config of the run (GRPOConfig or RLOOConfig): ``spec.trainer`` as written, over the few fields endorm
    sets (:func:`endorm_trainer_defaults`) and TRL's defaults; ``data_seed`` follows ``seed`` unless given. TRL checks
    the fields and values, its batch arithmetic (with the process count) included; what it refuses is an
    :class:`EndormError`."""
    from trl import GRPOConfig, RLOOConfig

    cls = GRPOConfig if spec.algorithm == "grpo" else RLOOConfig
    kw = {**endorm_trainer_defaults(spec), **spec.trainer}
    kw.setdefault("data_seed", kw.get("seed"))
    try:
        return cls(**kw)
    except (ValueError, TypeError) as exc:
        raise EndormError(f"rl.trainer: TRL's {cls.__name__} refuses it: {exc}") from None


def load_prompts(path: str | os.PathLike) -> list[dict]:
    rows = read_jsonl(path)
    for i, row in enumerate(rows):
        for key in ("prompt", "answer"):
            if key not in row:
                raise EndormError(f"{path}: row {i}: field {key!r} is missing (expected chat messages and an answer)")
        if not isinstance(row["prompt"], list) or not all(isinstance(m, dict) and "content" in m
                                                          for m in row["prompt"]):
            raise EndormError(f"{path}: row {i}: field 'prompt' must be a list of chat messages")
    if not rows:
        raise EndormError(f"{path}: no prompts")
    return rows


def log_rows(history: list[dict], events: Sequence[dict] = ()) -> list[dict]:
    """TRL's log history as one row per optimizer step (the final summary entry dropped), with the steps the
    :class:`NonFiniteGuard` skipped (``events``): ``nonfinite/skipped`` (1 on a skipped step) and its running total.
    A skipped step's non-finite loss is written as it was (the Trainer logs the mean of earlier steps instead)."""
    rows = [dict(h) for h in history if "step" in h and "train_runtime" not in h]
    by_step = {e["step"]: e for e in events}
    total = 0
    for r in rows:
        event = by_step.get(r["step"])
        total += event is not None
        r["nonfinite/skipped"], r["nonfinite/skipped_total"] = int(event is not None), total
        if event is not None and event.get("loss") is not None:
            r["loss"] = float(event["loss"])
    return rows


def write_log_table(rows: list[dict], path: str | os.PathLike) -> None:
    keys: list[str] = ["step"]
    for r in rows:
        keys += [k for k in r if k not in keys]
    lines = [",".join(keys)]
    for r in rows:
        lines.append(",".join("" if r.get(k) is None else repr(float(r[k])) if isinstance(r.get(k), float)
                              else str(r[k]) for k in keys))
    write_text(path, "\n".join(lines) + "\n")


def load_policy(spec: RLSpec):
    """The initial policy, trainable, its weights in ``master_dtype`` (compute follows ``dtype``: autocast); a checkpoint
    with missing or unexpected weights is refused
    (the reward model, by default the same weights, also gets :func:`endorm.core.loading.load_model`'s causality check)."""
    from transformers import AutoModelForCausalLM

    from ..core.loading import check_loading_info, resolve_dtype

    try:
        model, info = AutoModelForCausalLM.from_pretrained(spec.policy, dtype=resolve_dtype(spec.master_dtype),
                                                           output_loading_info=True)
    except (OSError, ValueError) as exc:
        raise EndormError(f"policy {spec.policy}: cannot load it ({' '.join(str(exc).split())})") from None
    check_loading_info(info, model, f"policy {spec.policy}")
    return model


def stop_on_end_of_turn(policy, tokenizer, fmt: PromptFormat) -> list[int]:
    """Rollouts stop at the chat template's end-of-turn token too (TRL stops at the tokenizer's EOS and the policy's
    ``generation_config.eos_token_id``: for a base model such as Qwen2.5-Math-7B both are ``<|endoftext|>`` while its
    template ends a turn with ``<|im_end|>``, so a rollout would run past its turn and the reward would score the
    text after it). Returns the stop token ids."""
    import dataclasses

    from ..core.encoding import PromptEncoder

    ids = policy.generation_config.eos_token_id
    ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
    if fmt.chat_template and getattr(tokenizer, "chat_template", None):
        eot = PromptEncoder(tokenizer, dataclasses.replace(fmt, score_eot=True)).eot_id
        if eot is not None and eot not in ids:
            ids.append(eot)
            log.info("rollouts also stop at the chat template's end of turn (token id %d)", eot)
    policy.generation_config.eos_token_id = ids
    return sorted({*ids, *([tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else [])})


def rollout_function(spec: RLSpec, seed: int):
    """endorm's rollouts (:class:`endorm.rl.ContinuousRollout`) where they apply: GRPO (TRL's ``rollout_func``) in one
    process; None for TRL's own generation (``rollouts: trl``, RLOO, or several processes under ``auto``)."""
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    if spec.rollouts == "trl" or (spec.rollouts == "auto" and (spec.algorithm != "grpo" or processes > 1)):
        if spec.rollout_dtype is not None:
            raise EndormError(f"rl.rollout_dtype applies to endorm's rollouts (GRPO, one process), and this run uses "
                              f"TRL's ({spec.algorithm}, {processes} process(es)): leave it null")
        return None
    if processes > 1:
        raise EndormError(f"rl.rollouts endorm runs in one process ({processes} were started): use rl.rollouts trl "
                          "or auto with several GPUs")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is marked experimental in TRL 1.16
    return ContinuousRollout(seed, dtype=spec.rollout_dtype)


def share_frozen_model(reward_fn: EndogenousRewardFunction, trainer, spec: RLSpec) -> bool:
    """In the paper's setting the frozen reward model and TRL's reference model (for the KL penalty) are both the
    initial policy: when they are the same folder in the same dtype, in one process, the reward scores with the
    reference model's weights and its own copy is freed (one model less in memory: 2.5 GB for a 0.6B model in
    float32). Returns whether it did."""
    ref = getattr(trainer, "ref_model", None)
    if ref is None or spec.reward_model != spec.policy or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return False
    ref = trainer.accelerator.unwrap_model(ref)
    own = reward_fn.scorer.model
    if next(ref.parameters()).dtype != next(own.parameters()).dtype or next(ref.parameters()).device != \
            next(own.parameters()).device:
        return False
    ref.requires_grad_(False)
    reward_fn.scorer.use_model(ref)
    reward_fn.shares_reference = True
    del own
    import gc

    gc.collect()
    log.info("the frozen reward model is TRL's reference model (the same weights): one copy in memory")
    return True


def sharing_reference_forward(trainer_cls, reward_fn: EndogenousRewardFunction):
    """The trainer class whose reference log-probabilities (for the KL penalty) come from the reward's forward pass
    when the frozen reward model is the reference model (:func:`share_frozen_model`): one forward of the frozen
    model per completion serves both, instead of one for TRL's reference and one for the reward.
    :meth:`EndogenousRewardFunction.reference_logps` computes both; anything else (the policy, entropies,
    multimodal inputs, a sequence the engine would truncate) goes to TRL's own computation."""

    class SharedReferenceForward(trainer_cls):
        def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep,
                                               batch_size=None, compute_entropy=False, compute_aux_loss=False,
                                               **kwargs):
            if (reward_fn.shares_reference and model is self.ref_model and not compute_entropy
                    and not compute_aux_loss and all(v is None for v in kwargs.values())):
                logps = reward_fn.reference_logps(input_ids, attention_mask, logits_to_keep, self.temperature)
                if logps is not None:
                    return logps, None, None
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss, **kwargs)

    SharedReferenceForward.__name__ = SharedReferenceForward.__qualname__ = trainer_cls.__name__
    return SharedReferenceForward


def _rollout_summary(rollout) -> dict:
    if rollout is None:
        return {"generation": "TRL (transformers generate)"}
    tokens = sum(s["generated_tokens"] for s in rollout.stats)
    seconds = sum(s["seconds"] for s in rollout.stats)
    return {"generation": "endorm.core.generation.generate_many (continuous batching, per-completion seeds)",
            "dtype": rollout.dtype or "the policy's", "generated_tokens": tokens, "seconds": round(seconds, 2),
            "generated_tokens_per_s": round(tokens / seconds, 2) if seconds else None}


def train(spec: RLSpec, callbacks: Sequence[Any] = ()) -> dict:
    """Runs RL; writes the checkpoint, the per-step table and the sampled completions. Returns the run's summary.

    ``callbacks``: further ``transformers.TrainerCallback`` objects for the trainer."""
    from datasets import Dataset
    from transformers import AutoTokenizer, set_seed
    from trl import GRPOTrainer, RLOOTrainer

    if spec.threads:
        torch.set_num_threads(spec.threads)
    args = trainer_config(spec)  # TRL's checks before any model loads
    set_seed(args.seed)
    device = _device(spec)
    reward_fn = EndogenousRewardFunction.from_pretrained(
        spec.reward_model, spec.dtype, device, reward=RewardOptions(**spec.reward), fmt=PromptFormat(**spec.format),
        on_nonfinite=spec.on_nonfinite, max_batch_tokens=spec.batch_tokens)
    rows = load_prompts(spec.prompts)
    dataset = Dataset.from_list([{"prompt": r["prompt"], "answer": str(r["answer"])} for r in rows])
    tok = AutoTokenizer.from_pretrained(spec.policy)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    policy = load_policy(spec)
    stops = stop_on_end_of_turn(policy, tok, PromptFormat(**spec.format))
    base = GRPOTrainer if spec.algorithm == "grpo" else RLOOTrainer
    guard = NonFiniteGuard(spec.on_nonfinite, reward_fn)
    cls, guard_callback = guarded(base, guard)
    cls = sharing_reference_forward(cls, reward_fn)
    rollout = rollout_function(spec, args.seed)
    trainer = cls(model=policy, reward_funcs=[reward_fn, AnswerAccuracy()], args=args, train_dataset=dataset,
                  processing_class=tok, callbacks=[guard_callback, *callbacks],
                  **({"rollout_func": rollout} if rollout else {}))
    shared = share_frozen_model(reward_fn, trainer, spec)
    t0 = time.time()
    trainer.train()
    seconds = time.time() - t0
    rows_out = log_rows(trainer.state.log_history, guard.events)
    out = Path(spec.output_dir)
    tmp = out.with_name(out.name + ".tmp")
    trainer.save_model(str(tmp))  # every process takes part (FSDP gathers the weights); the main one writes
    summary = {"spec": asdict(spec), "steps": trainer.state.global_step, "seconds": seconds,
               "trainer": base.__name__, "prompts": len(rows), "generation_stop_token_ids": stops,
               "rollouts": _rollout_summary(rollout), "reward_model_is_reference_model": shared,
               "rewards_from_reference_forward": dict(reward_fn.shared),
               "nonfinite": {"on_nonfinite": spec.on_nonfinite, "skipped_steps": len(guard.events),
                             "events": guard.events},
               "trainer_config": {k: v for k, v in args.to_dict().items() if isinstance(v, (int, float, str, bool))}}
    if trainer.accelerator.is_main_process:
        import shutil

        from ..data.assets import model_provenance

        tok.save_pretrained(str(tmp))
        summary["software"] = _versions()
        summary["policy_provenance"] = model_provenance(spec.policy)
        write_json(tmp / "endorm_rl.json", summary)
        write_log_table(rows_out, spec.log_table)
        write_jsonl(spec.samples, reward_fn.samples)
        apply_umask(tmp)  # transformers writes the weights 0600
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
        trainer_dir = Path(args.output_dir)  # TRL's own output folder: nothing is saved there (save_strategy "no")
        if trainer_dir.is_dir() and not any(trainer_dir.iterdir()):
            trainer_dir.rmdir()
    return summary


def _versions() -> dict:
    from ..data.assets import package_version

    versions = {name: package_version(name) for name in ("torch", "transformers", "trl", "accelerate", "datasets")}
    return {"python": sys.version.split()[0], **{k: v for k, v in versions.items() if v is not None}}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m endorm.rl.train SPEC.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO)
    try:
        train(RLSpec(**json.loads(Path(argv[0]).read_text())))
    except EndormError as exc:
        print(f"endorm: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
