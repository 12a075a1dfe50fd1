"""Best-of-N by the base model's own endogenous reward (Table 3's controls): every sample of the sampled run at
rl.trainer.temperature is scored by the frozen reward model through the engine; best-of-N keeps the highest reward
among the first N samples of each problem (endorm.rl.controls). Writes the per-task accuracies and the scored samples."""
import time

from endorm.data.assets import model_provenance
from endorm.rl.controls import best_of_n, score_generations
from endorm.core.engine import Scorer
from endorm.io import read_json, read_jsonl, write_json, write_jsonl
from endorm.logs import redirect_to
from endorm.options import load_for_job, prompt_format
from endorm.core.reward import RewardOptions

p = snakemake.params
with redirect_to(snakemake.log[0]):
    records = read_jsonl(snakemake.input.samples)
    run = read_json(snakemake.input.run)
    model, tok = load_for_job(snakemake.input.reward_model, p.compute, snakemake.threads)
    reward = RewardOptions(**p.reward)
    scorer = Scorer(model, tok, prompt_format(p.format), max_batch_tokens=p.compute["batch_tokens"])
    t0 = time.perf_counter()
    rewards = score_generations(scorer, records, reward)
    seconds = time.perf_counter() - t0
    for r in records:  # generated tokens, as the reward model's tokenizer reads the text
        r["tokens"] = len(tok(r["generation"], add_special_tokens=False)["input_ids"])
    result = best_of_n(records, rewards, [int(n) for n in p.best_of])
    write_jsonl(snakemake.output.scored, [{**r, "reward": x} for r, x in zip(records, rewards)])
    write_json(snakemake.output.summary, {
        "best_of": {str(n): tasks for n, tasks in result["best_of"].items()}, "selected": result["selected"],
        "mean_tokens": {str(k): v for k, v in result.get("mean_tokens", {}).items()},
        "sampling": run["options"].get("sampling"), "max_gen_toks": run["options"]["max_gen_toks"],
        "reward": p.reward, "format": p.format, "reward_model": model_provenance(snakemake.input.reward_model),
        "samples": len(records), "scoring_seconds": round(seconds, 2),
        "rule": "highest endogenous reward among the first N samples of a problem; ties to the lowest sample index; "
                "each generation scored as a response (its text, then the end-of-turn token when format.score_eot)"})
    for n, tasks in result["best_of"].items():
        print(f"best-of-{n}: " + ", ".join(f"{t} {v['accuracy']:.3f} (n={v['n']})" for t, v in tasks.items())
              + f"; mean tokens of the chosen {result['mean_tokens'][n]:.1f} (all samples "
              f"{result['mean_tokens']['all']:.1f})")
