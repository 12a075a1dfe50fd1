from endorm import data
from endorm.io import write_jsonl
from endorm.logs import redirect_to

with redirect_to(snakemake.log[0]):
    spec = snakemake.params.data
    if spec["source"] == "embedded":
        rows = data.embedded_preferences(spec["embedded"], snakemake.params.seed)
    elif spec["source"] == "hub":
        hub = spec["hub"]
        rows = data.load_rmbench_hub(hub["id"], hub.get("revision"), hub.get("split", "train"))
    else:
        rows = [r for path in spec["files"] for r in data.load_rmbench_file(path)]
    rows = data.validate_pairs(rows, f"preferences ({spec['source']})")
    write_jsonl(snakemake.output[0], rows)
    print(f"wrote {len(rows)} rows to {snakemake.output[0]}")
