"""Per-stage wall time, peak memory and token throughput of a finished workflow run.

Reads Snakemake's ``benchmarks/<rule>/<job>.tsv`` files (wall seconds, peak RSS, CPU seconds, mean load of every
job that has a ``benchmark:`` directive) and the stages' own outputs for token counts, and writes a JSON and a
Markdown table::

    python -m endorm.analysis.stagestats --run rehearsal --out docs/rehearsal/cpu-2layers [--workdir .]

Token counts per stage: scoring jobs: prompt + response tokens of every scored sequence (as ``endorm score`` records
them; a prompt shared by several responses counts once per response); judges: prompt tokens and generated tokens;
``score_dsp``: the DSP rows re-tokenized with the model's tokenizer; ``train_rl``: TRL's ``num_tokens`` (prompts and
completions) over the training time, and the rollouts' generated tokens and seconds; ``evaluate_math`` and
``sample_math``: the tokens and seconds endorm's generator recorded (older runs: the generations re-tokenized);
``generate_conditioned_responses``: the responses re-tokenized; ``measure_sharpening``: the completions' tokens.
tokens/s divides by the job's wall time (model loading included); "generating" divides by the seconds spent
generating only.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
from pathlib import Path

from ..io import read_json, write_json, write_text


def _tsv(path: Path) -> dict:
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    r = rows[-1]
    num = (lambda k: float(r[k]) if r.get(k) not in (None, "", "NA", "-") else None)
    return {"wall_s": num("s"), "max_rss_mb": num("max_rss"), "cpu_s": num("cpu_time"), "mean_load": num("mean_load")}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _tokenizer(work: Path, model: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(work / "results/models" / model))


def _scoring_tokens(work: Path, run: str, bench: str, model: str, method: str) -> dict:
    meta = read_json(work / f"results/{run}/{bench}/{model}/scores/{method}.jsonl.meta.json")
    info = meta["run"]
    out = {"rows": meta["rows"], "seconds_in_scorer": info.get("seconds")}
    for key in ("tokens", "prompt_tokens", "new_tokens", "responses", "judgements"):
        if key in info:
            out[key] = info[key]
    return out


def _dsp_tokens(work: Path, run: str, model: str) -> dict:
    scores = read_json(work / f"results/{run}/dsp/{model}/scores.json")
    rows = {r["id"]: r for r in read_json(work / f"results/{run}/dsp/dsp.json")}
    tok = _tokenizer(work, model)
    prompt = response = 0
    for system in scores["system_prompts"].values():
        for i in scores["ids"]:
            msgs = [{"role": "system", "content": system}, {"role": "user", "content": rows[i]["query"]}]
            p = len(tok.apply_chat_template(msgs, tokenize=True, add_generation_prompt=True, return_dict=True)[
                "input_ids"])
            for text in rows[i]["responses"].values():
                prompt += p
                response += len(tok(text, add_special_tokens=False)["input_ids"]) + 1  # + the end-of-turn token
    return {"rows": len(scores["ids"]), "prompt_tokens": prompt, "tokens": response,
            "seconds_in_scorer": scores["provenance"].get("seconds")}


def _constructed_tokens(work: Path, run: str) -> dict:
    rows = _jsonl(work / f"results/{run}/constructed/conditioned_responses.jsonl")
    gen = rows[0]["constructed"]["generator"] if rows else None
    tok = _tokenizer(work, gen)
    texts = [t for r in rows for t in (r.get("responses") or {}).values()]
    return {"responses": len(texts),
            "new_tokens": sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)}


def _generation(summary: dict) -> dict:
    """Token counts and seconds that endorm's generator recorded (evaluation, sampling, rollouts)."""
    gen = summary.get("generation") or {}
    out = {}
    if gen.get("generated_tokens") is not None:
        out.update(new_tokens=gen["generated_tokens"], prompt_tokens=gen.get("prompt_tokens"),
                   seconds_generating=gen.get("seconds"))
        if gen.get("seconds"):
            out["new_tokens_per_s_generating"] = gen["generated_tokens"] / gen["seconds"]
    return out


def _rl_tokens(work: Path, run: str, policy: str) -> dict:
    with open(work / f"results/{run}/rl/{policy}/train_log.csv") as f:
        log = list(csv.DictReader(f))
    summary = read_json(work / f"results/{run}/rl/{policy}/checkpoint/endorm_rl.json")
    out = {"steps": summary["steps"], "seconds_in_trainer": summary["seconds"]}
    if log and log[-1].get("num_tokens"):
        out["tokens"] = int(float(log[-1]["num_tokens"]))
    lengths = [float(r["completions/mean_length"]) for r in log if r.get("completions/mean_length")]
    if lengths:
        out["completion_mean_length"] = sum(lengths) / len(lengths)
    ro = summary.get("rollouts") or {}
    if ro.get("generated_tokens"):
        out.update(new_tokens=ro["generated_tokens"], seconds_generating=ro["seconds"],
                   new_tokens_per_s_generating=ro["generated_tokens"] / ro["seconds"] if ro["seconds"] else None)
    return out


def _eval_tokens(work: Path, run: str, policy: str, variant: str) -> dict:
    folder = f"results/{run}/math/{policy}/{variant}"
    samples = _jsonl(work / folder / "samples.jsonl")
    summary = read_json(work / folder / "summary.json")
    if summary.get("generation"):
        return {"problems": len({(s["task"], s["id"]) for s in samples}), "generations": len(samples),
                **_generation(summary), "seconds_in_lm_eval": summary.get("wall_s")}
    tok = _tokenizer(work, policy)
    new = sum(len(tok(s.get("generation", ""), add_special_tokens=False)["input_ids"]) for s in samples)
    prompt = sum(len(tok(s.get("prompt", ""), add_special_tokens=False)["input_ids"]) for s in samples)
    return {"problems": len(samples), "prompt_tokens": prompt, "new_tokens": new,
            "seconds_in_lm_eval": summary.get("wall_s")}


def _tokens(work: Path, run: str, rule: str, job: str) -> dict:
    """Token counts of one job, from its outputs (``job`` is the benchmark file's stem)."""
    rest = job[len(run) + 1:] if job.startswith(run + "-") else job
    try:
        if rule == "score_likelihood":
            bench, model = rest.split("-", 1)
            return _scoring_tokens(work, run, bench, model, "endorm")
        if rule == "score_judge":
            bench, rest2 = rest.split("-", 1)
            for judge in ("generative-verifier", "genrm-pointwise", "genrm-pairwise"):
                if rest2.endswith("-" + judge):
                    return _scoring_tokens(work, run, bench, rest2[: -len(judge) - 1], judge)
        if rule == "score_dsp":
            return _dsp_tokens(work, run, rest)
        if rule == "train_rl":
            return _rl_tokens(work, run, rest)
        if rule == "evaluate_math":
            policy, variant = rest.rsplit("-", 1)
            return _eval_tokens(work, run, policy, variant)
        if rule == "sample_math":
            policy, temperature = rest.rsplit("-t", 1)
            return _eval_tokens(work, run, policy, f"controls/base-t{temperature}")
        if rule == "generate_conditioned_responses":
            return _constructed_tokens(work, run)
        if rule == "measure_sharpening":
            res = read_json(work / f"results/{run}/rl/{rest}/sharpening.json")
            return {"completions": sum(c["completions"] for c in res["conditions"]),
                    "new_tokens": sum(c["tokens"] for c in res["conditions"])}
    except (OSError, KeyError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {}


def collect(work: str | os.PathLike, run: str) -> list[dict]:
    work = Path(work)
    stages = []
    for path in sorted((work / "benchmarks").glob("*/*.tsv")):
        rule, job = path.parent.name, path.stem
        if not (job.startswith(run + "-") or job == run or rule == "prepare_model"):
            continue
        entry = {"rule": rule, "job": job, **_tsv(path), **_tokens(work, run, rule, job)}
        tokens = sum(entry.get(k) or 0 for k in ("tokens", "prompt_tokens", "new_tokens"))
        if tokens and entry["wall_s"]:
            entry["tokens_per_s"] = tokens / entry["wall_s"]
        if entry.get("new_tokens") and entry["wall_s"]:
            entry["new_tokens_per_s"] = entry["new_tokens"] / entry["wall_s"]
        stages.append(entry)
    return stages


def _fmt(v, digits=0):
    if v is None:
        return ""
    return f"{v:,.{digits}f}"


def markdown(stages: list[dict], title: str, command: str, notes: list[str]) -> str:
    lines = [f"# {title}", "", f"Command: `{command}`", ""] + [f"* {n}" for n in notes] + [
        "", "| stage (rule) | job | wall s | peak RSS MiB | CPU s | tokens | tokens/s | generated tokens | "
        "generated tokens/s (wall) | generated tokens/s (generating) |",
        "|---|---|---|---|---|---|---|---|---|---|"]
    for s in stages:
        tokens = sum(s.get(k) or 0 for k in ("tokens", "prompt_tokens", "new_tokens"))
        lines.append(f"| {s['rule']} | {s['job']} | {_fmt(s['wall_s'], 1)} | {_fmt(s['max_rss_mb'])} | "
                     f"{_fmt(s['cpu_s'], 1)} | {_fmt(tokens) if tokens else ''} | {_fmt(s.get('tokens_per_s'), 1)} | "
                     f"{_fmt(s.get('new_tokens'))} | {_fmt(s.get('new_tokens_per_s'), 1)} | "
                     f"{_fmt(s.get('new_tokens_per_s_generating'), 1)} |")
    total = sum(s["wall_s"] or 0 for s in stages)
    lines += ["", f"Sum of the benchmarked jobs' wall times: {total / 60:.1f} min.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m endorm.analysis.stagestats", description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="the config's `run` (results/<run>/)")
    ap.add_argument("--out", required=True, help="output prefix: writes PREFIX.json and PREFIX.md")
    ap.add_argument("--workdir", default=".", help="the workflow's working directory")
    ap.add_argument("--title", default="Per-stage measurements")
    ap.add_argument("--command", default="", help="the command that produced the run (recorded)")
    ap.add_argument("--note", action="append", default=[], help="a line for the Markdown file (repeatable)")
    args = ap.parse_args(argv)
    stages = collect(args.workdir, args.run)
    write(stages, args.out, args.title, args.command, args.note, args.run)
    print(f"{len(stages)} stages -> {args.out}.json, {args.out}.md")
    return 0


def write(stages: list[dict], prefix: str, title: str, command: str, notes: list[str], run: str | None = None) -> None:
    """PREFIX.json (the stages, the machine) and PREFIX.md (the table)."""
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "processor": platform.processor()}
    write_json(prefix + ".json", {"run": run, "command": command, "notes": notes, "machine": machine,
                                  "stages": stages})
    write_text(prefix + ".md", markdown(stages, title, command, notes))


if __name__ == "__main__":
    raise SystemExit(main())
