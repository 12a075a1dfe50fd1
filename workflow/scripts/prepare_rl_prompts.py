"""RL prompts as chat messages with their gold answers; prompts longer than rl.max_prompt_tokens are dropped here
(TRL has no max_prompt_length)."""
import tempfile
from pathlib import Path

from transformers import AutoTokenizer

from endorm.io import write_json, write_jsonl
from endorm.logs import redirect_to
from endorm.data.mathdata import filter_long_prompts, instruction_text, prepare_prompts

with redirect_to(snakemake.log[0]):
    p = snakemake.params
    instruction = instruction_text(p.instruction)
    with tempfile.TemporaryDirectory(dir=Path(snakemake.output.rows).parent) as tmp:
        rows, provenance = prepare_prompts(dict(p.data), instruction, p.system_prompt, tmp)
    read = provenance["n_file_rows"]  # rows read from the source, before the counted drops (n_dropped)
    print(f"{read} RL prompts read, {len(rows)} usable; manifest: {provenance['manifest']}")
    tok = AutoTokenizer.from_pretrained(snakemake.input.policy)
    kept, dropped = filter_long_prompts(rows, tok, int(p.max_prompt_tokens))
    if not kept:
        raise SystemExit(f"every one of the {len(rows)} RL prompts exceeds {p.max_prompt_tokens} tokens")
    print(f"{len(kept)} RL prompts kept, {dropped} longer than {p.max_prompt_tokens} tokens dropped")
    write_jsonl(snakemake.output.rows, kept)
    write_json(snakemake.output.meta, {"provenance": provenance, "instruction": instruction_text(p.instruction),
                                       "system_prompt": p.system_prompt, "max_prompt_tokens": p.max_prompt_tokens,
                                       "rows_read": read, "rows_dropped_bad": provenance["n_dropped"],
                                       "rows": len(kept), "dropped_too_long": dropped,
                                       "manifest": provenance["manifest"], "tokenizer": snakemake.input.policy})
