"""Runs `endorm bench` as its own process: the benchmark starts each variant in a fresh (spawned) process, which
must not re-import this Snakemake script."""
import subprocess
import sys

b = snakemake.params.bench
argv = [sys.executable, "-m", "endorm.cli", "bench", "--model", snakemake.input.model,
        "--rows", str(b.get("rows", 4)), "--prompt-tokens", str(b.get("prompt_tokens", 256)),
        "--response-tokens", ",".join(map(str, b.get("response_tokens", [48, 320, 400]))),
        "--dtype", snakemake.params.dtype, "--threads", str(snakemake.threads),
        "--repeats", str(b.get("repeats", 2)), "--output", snakemake.output.json]
with open(snakemake.log[0], "w") as log:
    code = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT)
if code:
    raise SystemExit(f"endorm bench failed (exit {code}); see {snakemake.log[0]}")
