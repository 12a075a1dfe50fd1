from endorm.cli import main
from endorm.logs import redirect_to

b = snakemake.params.bench
with redirect_to(snakemake.log[0]):
    code = main(["bench", "--model", snakemake.input.model, "--rows", str(b.get("rows", 4)),
                 "--prompt-tokens", str(b.get("prompt_tokens", 256)),
                 "--response-tokens", ",".join(map(str, b.get("response_tokens", [48, 320, 400]))),
                 "--dtype", snakemake.params.dtype, "--threads", str(snakemake.threads),
                 "--repeats", str(b.get("repeats", 2)), "--output", snakemake.output.json])
if code:
    raise SystemExit(f"endorm bench failed; see {snakemake.log[0]}")
