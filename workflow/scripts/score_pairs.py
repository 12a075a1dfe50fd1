"""Thin adapter: the workflow's scoring jobs call the `endorm score` command-line contract."""
import json
import tempfile

from endorm.cli import main
from endorm.logs import redirect_to

p = snakemake.params.opts
with redirect_to(snakemake.log[0]):
    fmt, rw, judge, comp = p["format"], p["reward"], p["judge"], p["compute"]
    methods = snakemake.params.methods
    outputs = snakemake.output.scores if isinstance(snakemake.output.scores, list) else [snakemake.output.scores]
    argv = ["score", "--model", snakemake.input.model, "--input", snakemake.input.pairs,
            "--method", ",".join(methods), "--output", ",".join(outputs),
            "--dtype", comp.get("dtype", "float32"), "--threads", str(snakemake.threads),
            "--batch-tokens", str(comp.get("batch_tokens", 4096)),
            "--alpha", str(rw.get("alpha", 1.0)), "--terminal", rw.get("terminal", "zero"),
            "--aggregation", rw.get("aggregation", "sum"), "--gamma", str(rw.get("gamma", 0.93)),
            "--overflow", fmt.get("overflow", "error"), "--max-new-tokens", str(judge.get("max_new_tokens", 8))]
    caps = [p["max_rows_per_domain"].get(m) for m in methods if p["max_rows_per_domain"].get(m)]
    if caps:
        argv += ["--max-rows-per-domain", str(min(caps))]
    if comp.get("device", "auto") != "auto":
        argv += ["--device", comp["device"]]
    if fmt.get("system_prompt") is not None:
        argv += ["--system-prompt", fmt["system_prompt"]]
    if not fmt.get("chat_template", True):
        argv.append("--no-chat-template")
    if not fmt.get("score_eot", True):
        argv.append("--no-score-eot")
    if fmt.get("eot_token"):
        argv += ["--eot-token", fmt["eot_token"]]
    if fmt.get("max_length"):
        argv += ["--max-length", str(fmt["max_length"])]
    if judge.get("prompts"):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(judge["prompts"], f)
        argv += ["--judge-prompts", f.name]
    print("endorm", " ".join(argv))
    code = main(argv)
if code:
    raise SystemExit(f"endorm score failed (exit {code}); see {snakemake.log[0]}")
