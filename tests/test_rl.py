"""RL on the endogenous reward: the TRL reward callable is the engine's score; GRPO and RLOO steps run on CPU."""

from __future__ import annotations

import csv
import json
import types

import pytest
import torch

from endorm.api import EndogenousReward
from endorm.errors import EndormError
from endorm.rl import reward as rl
from endorm.rl import train as rltrain
from endorm.rl import EndogenousRewardFunction, repeated_ngram_fraction
from endorm.rl.train import RLSpec, train

PROMPTS = ["What is two plus two?", "Rate the response on a scale of 1 to 10."]
COMPLETIONS = ["Four. The answer is 4.", "7 because step two is bold.", "Yes", "No No No No"]


@pytest.fixture(scope="module")
def reward_pair(tiny):
    model, tok = tiny
    api = EndogenousReward(model, tok)
    fn = EndogenousRewardFunction(api.scorer, api.reward)
    return api, fn


def test_callable_equals_engine_score_text(reward_pair):
    api, fn = reward_pair
    for p in PROMPTS:
        for c in COMPLETIONS:
            assert fn([p], [c]) == [api.score(p, c)]  # one pair: the same engine pass, bit for bit


def test_callable_equals_engine_score_chat_and_ids(reward_pair):
    """TRL's conversational format: message lists and the completion's token ids (as the policy generated them)."""
    api, fn = reward_pair
    scorer = api.scorer
    prompts = [[{"role": "user", "content": p}] for p in PROMPTS for _ in COMPLETIONS]
    texts = [c for _ in PROMPTS for c in COMPLETIONS]
    completions = [[{"role": "assistant", "content": c}] for c in texts]
    ids = [scorer.encoder.encode_response(c) for c in texts]  # ends with the end-of-turn token, as a finished turn does
    pad = scorer.tokenizer.pad_token_id
    padded = [i + [pad, pad] for i in ids]  # anything after the first end-of-sequence token is not the completion
    expected = [api.score(p, c) for p in PROMPTS for c in COMPLETIONS]
    for got in (fn(prompts, completions, completion_ids=ids), fn(prompts, completions, completion_ids=padded)):
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-5)
    one = fn(prompts[:1], completions[:1], completion_ids=ids[:1])
    assert one == [expected[0]]


def test_callable_scores_truncated_completion_as_generated(reward_pair):
    """A completion cut at max_completion_length has no end-of-turn token: it is scored without one."""
    api, fn = reward_pair
    scorer = api.scorer
    ids = scorer.tokenizer("Four. The answer is 4.", add_special_tokens=False)["input_ids"]
    got = fn([[{"role": "user", "content": PROMPTS[0]}]], ["Four. The answer is 4."], completion_ids=[ids])
    stats = scorer.token_stats_ids([(scorer.encoder.encode_prompt(PROMPTS[0]), ids)])[0]
    assert got == [pytest.approx(sum(stats.rewards("zero")), abs=1e-6)]
    assert got != [api.score(PROMPTS[0], "Four. The answer is 4.")]  # with the end of turn it differs


def test_callable_rejects_mismatched_lengths(reward_pair):
    _, fn = reward_pair
    with pytest.raises(EndormError, match="2 prompts but 1 completions"):
        fn(PROMPTS, ["x"])


def test_repeated_ngram_fraction():
    assert repeated_ngram_fraction([1, 2, 3, 4, 5, 6]) == 0.0
    assert repeated_ngram_fraction([1, 2, 3, 4] * 3) == pytest.approx(1 - 4 / 9)
    assert repeated_ngram_fraction([1, 2]) == 0.0


def test_spec_checks_options():
    with pytest.raises(EndormError, match="rl.on_nonfinite must be one of"):
        RLSpec(policy="a", reward_model="a", prompts="p", output_dir="o", log_table="l", samples="s",
               on_nonfinite="ignore")


def test_trainer_fields_pass_to_trl_as_written(tmp_path):
    """rl.trainer reaches TRL's GRPOConfig as written, over endorm's few settings and TRL's defaults; TRL checks the
    fields and the batch arithmetic (with the process count) and what it refuses is an EndormError."""
    def spec(**trainer):
        return RLSpec(policy="a", reward_model="a", prompts="p", output_dir=str(tmp_path / "ckpt"), log_table="l",
                      samples="s", device="cpu", trainer=trainer)

    args = rltrain.trainer_config(spec(max_steps=3, seed=5))
    assert (args.max_steps, args.seed, args.data_seed) == (3, 5, 5)
    assert (args.num_generations, args.beta, args.learning_rate) == (8, 0.0, 1e-6)  # TRL's defaults
    assert (args.gradient_checkpointing, args.logging_steps, args.save_strategy, args.report_to, args.use_cpu,
            args.bf16, args.reward_weights) == (False, 1, "no", [], True, False, [1.0, 0.0])
    assert args.output_dir == str(tmp_path / "ckpt.trainer")
    args = rltrain.trainer_config(spec(gradient_checkpointing=True, logging_steps=5, loss_type="grpo"))
    assert (args.gradient_checkpointing, args.logging_steps, args.loss_type, args.data_seed) == (True, 5, "grpo", None)
    two_gpus = spec(per_device_train_batch_size=2, num_generations=4)  # a group of 4 needs 2 processes: a valid spec
    with pytest.raises(EndormError, match=r"rl.trainer: TRL's GRPOConfig refuses it: generation_batch_size \(2\) "
                                          r"must be divisible by num_generations \(4\)"):
        rltrain.trainer_config(two_gpus)  # in one process TRL refuses it
    with pytest.raises(EndormError, match="rl.trainer: TRL's GRPOConfig refuses it: .*'max_step'"):
        rltrain.trainer_config(spec(max_step=3))


def tiny_spec(tmp_path, tiny_dir, steps: int = 2, **kw) -> RLSpec:
    """An RL run of the tiny model on four arithmetic prompts (two per step), on CPU."""
    prompts = tmp_path / "prompts.jsonl"
    rows = [{"id": f"q{i}", "prompt": [{"role": "user", "content": f"What is {i} plus {i}?"}], "answer": str(2 * i)}
            for i in range(4)]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    trainer = dict(max_steps=steps, learning_rate=1e-2, per_device_train_batch_size=4, num_generations=2,
                   max_completion_length=8, beta=0.01, temperature=1.0, seed=0)
    return RLSpec(policy=str(tiny_dir), reward_model=str(tiny_dir), prompts=str(prompts),
                  output_dir=str(tmp_path / "ckpt"), log_table=str(tmp_path / "log.csv"),
                  samples=str(tmp_path / "samples.jsonl"), trainer=trainer, **{"device": "cpu", "threads": 1} | kw)


@pytest.mark.parametrize("algorithm", ["grpo", "rloo"])
def test_two_rl_steps_on_cpu(tmp_path, tiny_dir, monkeypatch, algorithm):
    """Two steps train and write the checkpoint and logs. With the reward model as the reference model, one forward
    pass gives TRL's reference log-probabilities (at the sampling temperature) and the reward: they equal TRL's own
    reference computation, and every reward of the run came from that pass."""
    diffs = []
    shared = rltrain.sharing_reference_forward

    def checking(trainer_cls, reward_fn):
        class Checked(shared(trainer_cls, reward_fn)):
            def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, *args,
                                                   **kw):
                got = super()._get_per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep,
                                                                 *args, **kw)
                if model is self.ref_model:
                    want = trainer_cls._get_per_token_logps_and_entropies(self, model, input_ids, attention_mask,
                                                                          logits_to_keep, *args, **kw)
                    mask = attention_mask[:, -logits_to_keep:].bool()
                    diffs.append(float((got[0] - want[0])[mask].abs().max()))
                return got

        return Checked

    monkeypatch.setattr(rltrain, "sharing_reference_forward", checking)
    spec = tiny_spec(tmp_path, tiny_dir, algorithm=algorithm)
    spec.trainer["temperature"] = 0.7  # TRL's reference log-probabilities are at the sampling temperature
    summary = train(spec)
    assert summary["steps"] == 2
    assert summary["reward_model_is_reference_model"] is True
    assert len(diffs) == 2 and max(diffs) < 1e-5
    assert summary["rewards_from_reference_forward"]["completions"] == \
        summary["rewards_from_reference_forward"]["rewarded"] == 8
    ckpt = tmp_path / "ckpt"
    assert (ckpt / "config.json").is_file() and (ckpt / "endorm_rl.json").is_file()
    assert not (tmp_path / "ckpt.tmp").exists()
    from endorm.io import umask  # the checkpoint is readable as any other output (transformers writes weights 0600)

    assert oct(ckpt.stat().st_mode & 0o777) == oct(0o777 & ~umask())
    assert {oct(p.stat().st_mode & 0o777) for p in ckpt.iterdir()} == {oct(0o666 & ~umask())}
    with open(tmp_path / "log.csv") as f:
        table = list(csv.DictReader(f))
    assert [int(float(r["step"])) for r in table] == [1, 2]
    assert summary["nonfinite"] == {"on_nonfinite": "stop", "skipped_steps": 0, "events": []}
    assert [r["nonfinite/skipped_total"] for r in table] == ["0", "0"]
    for col in ("rewards/endorm/mean", "rewards/accuracy/mean", "completions/mean_length", "kl",
                "monitor/repetition"):
        assert col in table[0], f"{col} not logged: {sorted(table[0])}"
        assert all(r[col] != "" for r in table)
    # The policy moved; the frozen reward model (the same folder) did not.
    from transformers import AutoModelForCausalLM

    before = AutoModelForCausalLM.from_pretrained(tiny_dir).state_dict()
    after = AutoModelForCausalLM.from_pretrained(ckpt).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    samples = [json.loads(line) for line in open(tmp_path / "samples.jsonl")]
    assert samples and all(isinstance(s["reward"], float) for s in samples)
    assert sorted({s["step"] for s in samples}) == [1, 2]  # the optimizer step each reward trained
    # GRPO's completions come from endorm's continuous batching (TRL's rollout_func); RLOO's from TRL's generate
    assert summary["rollouts"]["generation"].startswith("endorm" if algorithm == "grpo" else "TRL")


def test_endorm_rollouts_are_seeded_and_equal_trl_settings(tmp_path, tiny_dir):
    """Two GRPO runs with endorm's rollouts and the same seed sample the same completions and log the same steps;
    TRL's own generation (rollouts: trl) trains too, on its own samples."""
    runs = []
    for k, rollouts in enumerate(["endorm", "endorm", "trl"]):
        out = tmp_path / str(k)
        out.mkdir()
        summary = train(tiny_spec(out, tiny_dir, rollouts=rollouts))
        runs.append(([json.loads(line)["completion"] for line in open(out / "samples.jsonl")], summary))
    assert runs[0][0] == runs[1][0] and runs[0][1]["rollouts"]["generated_tokens"] > 0
    assert runs[2][1]["rollouts"] == {"generation": "TRL (transformers generate)"} and runs[2][1]["steps"] == 2
    with pytest.raises(EndormError, match="needs rl.algorithm grpo"):
        tiny_spec(tmp_path, tiny_dir, algorithm="rloo", rollouts="endorm")


def test_bfloat16_rollouts_sample_from_a_synced_copy(tmp_path, tiny_dir):
    """rl.rollout_dtype: the rollout samples from a copy of the policy in that dtype whose weights follow the policy's
    (copied before every rollout), the policy itself untouched; a run with it trains and records the dtype."""
    from transformers import AutoModelForCausalLM

    policy = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    inner = policy.forward  # as the trainer's accelerate leaves it: a wrapper on the instance around the policy's forward
    policy.forward = types.MethodType(lambda self, *args, **kwargs: inner(*args, **kwargs), policy)
    assert rl.ContinuousRollout(0).sampler(policy) is policy
    assert rl.ContinuousRollout(0, dtype="float32").sampler(policy) is policy
    rollout = rl.ContinuousRollout(0, dtype="bfloat16")
    copy = rollout.sampler(policy)
    assert copy is not policy and all(p.dtype == torch.bfloat16 for p in copy.parameters())
    assert all(p.dtype == torch.float32 for p in policy.parameters())
    with torch.no_grad():  # an optimizer step moves the policy: the next rollout samples from the moved weights
        for p in policy.parameters():
            p.add_(0.5)
    assert rollout.sampler(policy) is copy
    for mine, theirs in zip(copy.parameters(), policy.parameters(), strict=True):
        assert torch.equal(mine, theirs.to(torch.bfloat16))
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():  # and it computes with them (its own forward, not the policy's)
        assert copy(ids).logits.dtype == torch.bfloat16 and policy(ids).logits.dtype == torch.float32
    summary = train(tiny_spec(tmp_path, tiny_dir, rollout_dtype="bfloat16"))
    assert summary["steps"] == 2 and summary["rollouts"]["dtype"] == "bfloat16"
    assert summary["rollouts"]["generated_tokens"] > 0
    with pytest.raises(EndormError, match="rollout_dtype must be one of"):
        tiny_spec(tmp_path, tiny_dir, rollout_dtype="int8")
    with pytest.raises(EndormError, match="applies to endorm's rollouts"):
        rltrain.rollout_function(tiny_spec(tmp_path, tiny_dir, rollouts="trl", rollout_dtype="bfloat16"), 0)


# ----- non-finite loss, gradient or reward --------------------------------------------------------------------
def nan_policy(monkeypatch, where: str, at: int) -> None:
    """The policy the run loads returns NaN at its `at`-th training pass: in the forward (the final norm's output,
    so the loss and every gradient) or only in the backward (the output projection's gradient)."""
    real = rltrain.load_policy
    count = [0]

    def load(spec):
        model = real(spec)
        if where == "forward":
            def hook(module, args, out):
                if torch.is_grad_enabled():  # not generation, not the reference log-probs
                    count[0] += 1
                    return out * float("nan") if count[0] == at else out
            model.model.norm.register_forward_hook(hook)
        else:
            def grad_hook(grad):
                count[0] += 1
                return grad * float("nan") if count[0] == at else grad
            model.lm_head.weight.register_hook(grad_hook)
        return model

    monkeypatch.setattr(rltrain, "load_policy", load)


def nan_reward(monkeypatch, at: int) -> None:
    """The endogenous reward of the `at`-th completion scored is NaN (4 completions per step)."""
    real = rl.endogenous_score
    count = [0]

    def score(stats, options):
        count[0] += 1
        return float("nan") if count[0] == at else real(stats, options)

    monkeypatch.setattr(rl, "endogenous_score", score)


def test_nonfinite_loss_stops_the_run_naming_the_step(tmp_path, tiny_dir, monkeypatch):
    nan_policy(monkeypatch, "forward", at=2)
    with pytest.raises(EndormError, match=r"RL step 2: non-finite loss, gradient: loss nan; gradient norm nan "
                                          r"\(non-finite in 21 of 21 parameter gradients"):
        train(tiny_spec(tmp_path, tiny_dir, steps=3))
    assert not (tmp_path / "ckpt").exists() and not (tmp_path / "log.csv").exists()


def test_nonfinite_reward_is_refused_naming_the_step(tmp_path, tiny_dir, monkeypatch):
    nan_reward(monkeypatch, at=6)  # step 2, second completion
    with pytest.raises(EndormError, match=r"RL step 2: non-finite endogenous reward nan for completion 1 of 4 "
                                          r"in reward call 1 .*rl.on_nonfinite: stop"):
        train(tiny_spec(tmp_path, tiny_dir, steps=3))
    assert not (tmp_path / "ckpt").exists()


class WeightsAtStep2:
    """Records the policy's weights before and after optimizer step 2, and after step 3."""

    def __init__(self):
        from transformers import TrainerCallback

        outer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, model=None, **kw):
                if state.global_step == 1:
                    outer.before = {n: p.detach().clone() for n, p in model.named_parameters()}

            def on_step_end(self, args, state, control, model=None, **kw):
                if state.global_step in (2, 3):
                    setattr(outer, f"after{state.global_step}",
                            {n: p.detach().clone() for n, p in model.named_parameters()})

        self.callback = Callback()


@pytest.mark.parametrize("inject", ["gradient", "reward"])
def test_nonfinite_step_is_skipped_and_counted(tmp_path, tiny_dir, monkeypatch, inject):
    if inject == "gradient":  # the loss stays finite; only the output projection's gradient is NaN
        nan_policy(monkeypatch, "backward", at=2)
    else:
        nan_reward(monkeypatch, at=5)  # step 2, first completion (the one kept in the samples)
    weights = WeightsAtStep2()
    summary = train(tiny_spec(tmp_path, tiny_dir, steps=3, on_nonfinite="skip"), callbacks=[weights.callback])
    assert summary["steps"] == 3
    info = summary["nonfinite"]
    assert info["on_nonfinite"] == "skip" and info["skipped_steps"] == 1
    assert [(e["step"], e["quantities"]) for e in info["events"]] == [(2, [inject])]
    # Step 2 left every weight as it was (finite); step 3 trained again.
    assert all(torch.equal(weights.before[n], p) for n, p in weights.after2.items())
    assert all(torch.isfinite(p).all() for p in weights.after2.values())
    assert any(not torch.equal(weights.after2[n], p) for n, p in weights.after3.items())
    with open(tmp_path / "log.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["nonfinite/skipped"] for r in table] == ["0", "1", "0"]
    assert [r["nonfinite/skipped_total"] for r in table] == ["0", "1", "1"]
    saved = json.loads((tmp_path / "ckpt" / "endorm_rl.json").read_text())
    assert saved["nonfinite"]["skipped_steps"] == 1
    if inject == "reward":  # refused, not handed to TRL as a number
        assert any(s["step"] == 2 and s["reward"] is None for s in map(json.loads, open(tmp_path / "samples.jsonl")))


def test_accelerate_config_of_paper_scale_loads():
    """The multi-GPU RL job's accelerate config parses as accelerate reads it (FSDP, bf16, one node)."""
    from accelerate.commands.config.config_args import load_config_from_file

    from conftest import ROOT

    cfg = load_config_from_file(str(ROOT / "workflow/accelerate/fsdp.yaml"))
    assert str(cfg.distributed_type).endswith("FSDP") and cfg.mixed_precision == "bf16" and cfg.num_machines == 1


@pytest.mark.slow  # two processes under torch.distributed
def test_fsdp_output_projection_gradient_equals_single_process(tmp_path):
    """Two CPU processes (gloo) shard a tiny Llama as workflow/accelerate/fsdp.yaml makes accelerate shard the policy;
    TRL's fused LM head reads `lm_head.weight` without calling `lm_head`, so the FSDP unit holding the output
    projection ([final norm, lm_head], tied: with the input embedding) never sees lm_head's forward; torch < 2.13
    warns that it "did not run forward before backward". Every gradient, the output projection's included, equals a
    single process's on the whole batch, untied (as Qwen2.5-7B) and tied (as SmolLM2), in fp32 and in the YAML's bf16
    (tests/fsdp_lm_head_grad.py)."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    out = tmp_path / "fsdp.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           str(ROOT / "tests/fsdp_lm_head_grad.py"), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["env"]["FSDP_VERSION"] == "2" and result["env"]["FSDP_AUTO_WRAP_POLICY"] == "TRANSFORMER_BASED_WRAP"
    assert set(result["runs"]) == {"untied-fp32", "untied-bf16", "tied-fp32", "tied-bf16"}
    for key, run in result["runs"].items():
        tied = key.startswith("tied")
        assert run["lm_head_forward_calls"] == 0  # the fused head never calls the module
        unit = ["model.norm", "model.embed_tokens", "lm_head"] if tied else ["model.norm", "lm_head"]
        assert run["head_unit"] == unit  # accelerate's "tail" unit
        tol = 1e-5 if key.endswith("fp32") else 5e-2  # bf16: parameters and gradient reduction in bf16
        for step in run["steps"]:
            head = step["model.embed_tokens.weight" if tied else "lm_head.weight"]  # tied: one parameter, both uses
            assert head < tol, (key, head)
            assert max(step.values()) < tol, (key, max(step, key=step.get), max(step.values()))


def test_math_lighteval_adapter_and_prompt_filter(tiny):
    from endorm.data.mathdata import filter_long_prompts, math_lighteval_rows

    _, tok = tiny
    rows = [{"problem": "What is $1+1$?", "solution": "Add: $1+1=\\boxed{2}$.", "level": "Level 1",
             "type": "Algebra"},
            {"problem": "Long " * 400, "solution": "So \\boxed{\\frac{1}{2}}.", "level": "Level 5", "type": "Algebra"}]
    out = math_lighteval_rows(rows, "fixture", "Put the answer in \\boxed{}.")
    assert [r["answer"] for r in out] == ["2", "\\frac{1}{2}"]
    assert out[0]["prompt"].endswith("Put the answer in \\boxed{}.")
    for r in out:
        r["prompt"] = [{"role": "user", "content": r["prompt"]}]
    kept, dropped = filter_long_prompts(out, tok, 200)
    assert len(kept) == 1 and dropped == 1 and kept[0]["answer"] == "2"
    with pytest.raises(EndormError, match="fixture: row 0: field 'solution' has no"):
        math_lighteval_rows([{"problem": "x", "solution": "no box"}], "fixture", "")


def test_rollouts_stop_at_the_chat_templates_end_of_turn(tiny_dir):
    """A base model's EOS (Qwen2.5-Math-7B: <|endoftext|>) is not its chat template's end of turn (<|im_end|>):
    rollouts must stop at both, or the reward scores text written after the turn."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from endorm.core.encoding import PromptFormat
    from endorm.rl.train import stop_on_end_of_turn

    tok = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    tok.eos_token = "<s>"  # a base-model-like tokenizer whose EOS is not the template's end of turn
    model.generation_config.eos_token_id = tok.convert_tokens_to_ids("<s>")
    stops = stop_on_end_of_turn(model, tok, PromptFormat())
    im_end, bos = tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<s>")
    assert model.generation_config.eos_token_id == [bos, im_end] and stops == sorted({bos, im_end})
    assert stop_on_end_of_turn(model, tok, PromptFormat()) == stops  # idempotent


def test_policy_weights_stay_float32_under_bf16_compute(tiny_dir, tmp_path):
    spec = RLSpec(policy=str(tiny_dir), reward_model=str(tiny_dir), prompts="x", output_dir=str(tmp_path / "c"),
                  log_table="l", samples="s", dtype="bfloat16")
    assert next(rltrain.load_policy(spec).parameters()).dtype == torch.float32  # master weights (default)
    spec.master_dtype = "bfloat16"
    assert next(rltrain.load_policy(spec).parameters()).dtype == torch.bfloat16
