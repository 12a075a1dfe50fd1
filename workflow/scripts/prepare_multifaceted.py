from endorm.data import validate_pairs
from endorm.io import read_jsonl, read_rows, write_jsonl
from endorm.logs import redirect_to
from endorm.promptable import load_multifaceted_hub, multifaceted_rows, persona_pairs, sample_per_source

d = snakemake.params.data
with redirect_to(snakemake.log[0]):
    if d["source"] == "constructed":
        rows = persona_pairs(read_jsonl(snakemake.input[0]), snakemake.params.personas,
                             d.get("personas_per_prompt", 2), snakemake.params.seed)
    elif d["source"] == "hub":
        h = d["hub"]
        rows = load_multifaceted_hub(h["id"], h.get("revision"), h.get("split", "train"))
    else:
        rows = multifaceted_rows(read_rows(d["path"]), d["path"])
    rows = sample_per_source(rows, d.get("per_source"), snakemake.params.seed)
    rows = validate_pairs(rows, f"multifaceted ({d['source']})")
    write_jsonl(snakemake.output[0], rows)
    counts = {}
    for r in rows:
        counts[r["domain"]] = counts.get(r["domain"], 0) + 1
    print(f"{len(rows)} pairs: {counts}")
