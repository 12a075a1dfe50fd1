"""RL prompts as chat messages with their gold answers; prompts longer than rl.max_prompt_tokens are dropped here
(TRL has no max_prompt_length)."""
from transformers import AutoTokenizer

from endorm.io import write_json, write_jsonl
from endorm.logs import redirect_to
from endorm.matheval import DEFAULT_INSTRUCTION
from endorm.rl import filter_long_prompts, prompt_rows

with redirect_to(snakemake.log[0]):
    p = snakemake.params
    instruction = DEFAULT_INSTRUCTION if p.instruction is None else p.instruction
    rows, provenance = prompt_rows(p.data, instruction, p.system_prompt)
    tok = AutoTokenizer.from_pretrained(snakemake.input.policy)
    kept, dropped = filter_long_prompts(rows, tok, int(p.max_prompt_tokens))
    if not kept:
        raise SystemExit(f"every one of the {len(rows)} RL prompts exceeds {p.max_prompt_tokens} tokens")
    print(f"{len(kept)} RL prompts kept, {dropped} longer than {p.max_prompt_tokens} tokens dropped")
    write_jsonl(snakemake.output.rows, kept)
    write_json(snakemake.output.meta, {"provenance": provenance, "instruction": instruction,
                                       "system_prompt": p.system_prompt, "max_prompt_tokens": p.max_prompt_tokens,
                                       "rows": len(kept), "dropped_too_long": dropped,
                                       "tokenizer": snakemake.input.policy})
