from endorm.assets import fetch_pinned, github_raw_url
from endorm.io import read_jsonl, write_json
from endorm.logs import redirect_to
from endorm.promptable import DSP_KEYS, load_dsp, validate_dsp

d = snakemake.params.data
with redirect_to(snakemake.log[0]):
    if d["source"] == "constructed":
        rows = validate_dsp([{"id": r["id"], "query": r["prompt"], "responses": {k: r["responses"][k] for k in DSP_KEYS}}
                             for r in read_jsonl(snakemake.input[0])], snakemake.input[0])
    elif d["source"] == "github":
        g = d["github"]
        tmp = snakemake.output[0] + ".download"
        fetch_pinned(github_raw_url(g["repo"], g["commit"], g["path"]), g["sha256"], tmp)
        rows = load_dsp(tmp)
        __import__("os").unlink(tmp)
    else:
        rows = load_dsp(d["path"])
    write_json(snakemake.output[0], rows)
    print(f"{len(rows)} DSP queries")
