from endorm.data.adapters import prepare
from endorm.io import write_jsonl
from endorm.logs import redirect_to
from endorm.options import load_for_job, prompt_format
from endorm.benchmarks.promptable import generate_conditioned

c = snakemake.params.constructed
with redirect_to(snakemake.log[0]):
    model, tok = load_for_job(snakemake.input.model, snakemake.params.compute, snakemake.threads)
    prompts, meta = prepare(c["prompts"], "prompts", None, key="constructed.prompts",
                            options={"per_category": c["prompts_per_category"]})
    print(f"{len(prompts)} prompts from {meta['source']} ({meta['name']})")
    # DSP shape: each domain's system prompt, and "normal" = no domain prompt (the template's own default).
    systems = {**snakemake.params.dsp_prompts, "normal": None, **c.get("personas", {})}  # personas: optional
    rows = generate_conditioned(model, tok, prompts, systems, prompt_format(snakemake.params.format),
                                c["max_new_tokens"], repetition_penalty=c["repetition_penalty"],
                                min_new_tokens=c["min_new_tokens"])
    for r in rows:
        r["constructed"] = {"generator": c["generator"], "greedy": True, "max_new_tokens": c["max_new_tokens"],
                            "repetition_penalty": c["repetition_penalty"], "source": "MT-Bench first turns"}
    write_jsonl(snakemake.output[0], rows)
    print(f"wrote {len(rows)} prompts x {len(systems)} system messages")
