"""RL prompts as chat messages with their gold answers; prompts longer than rl.max_prompt_tokens are dropped here
(TRL has no max_prompt_length)."""
from transformers import AutoTokenizer

from endorm import manifest
from endorm.io import write_json, write_jsonl
from endorm.logs import redirect_to
from endorm.mathdata import filter_long_prompts, instruction_text, prompt_rows

with redirect_to(snakemake.log[0]):
    p = snakemake.params
    data = dict(p.data)
    expect = data.pop("expect", None)
    rows, provenance = prompt_rows(data, p.instruction, p.system_prompt)
    read = provenance.get("n_file_rows", len(rows))  # rows read from the file, before the counted drops (n_dropped)
    if data["source"] == "package":
        checked = "packaged data of the embedded default: not in the manifest"
    else:  # the rows read, before the long-prompt filter; a local file stands for MATH-lighteval's train split
        hub = data["source"] == "hub"
        dataset = manifest.hub_dataset(data["dataset"], data.get("split", "train")) if hub else "math-lighteval-train"
        checked = manifest.check(dataset, rows=None if data.get("n") else read, expect=expect,
                                 files=None if hub else {"train": data["path"]}, key="rl.data.expect")
    print(f"{read} RL prompts read, {len(rows)} usable; manifest: {checked}")
    tok = AutoTokenizer.from_pretrained(snakemake.input.policy)
    kept, dropped = filter_long_prompts(rows, tok, int(p.max_prompt_tokens))
    if not kept:
        raise SystemExit(f"every one of the {len(rows)} RL prompts exceeds {p.max_prompt_tokens} tokens")
    print(f"{len(kept)} RL prompts kept, {dropped} longer than {p.max_prompt_tokens} tokens dropped")
    write_jsonl(snakemake.output.rows, kept)
    write_json(snakemake.output.meta, {"provenance": provenance, "instruction": instruction_text(p.instruction),
                                       "system_prompt": p.system_prompt, "max_prompt_tokens": p.max_prompt_tokens,
                                       "rows_read": read, "rows_dropped_bad": provenance.get("n_dropped", 0), "rows": len(kept), "dropped_too_long": dropped,
                                       "manifest": checked,
                                       "tokenizer": snakemake.input.policy})
