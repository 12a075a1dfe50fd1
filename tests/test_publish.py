"""Publishing a finished run into the docs (endorm.tables.publish) and the per-stage cost table (endorm.analysis.stagestats)."""

import json

import pytest

from endorm.analysis import stagestats
from endorm.tables import publish
from endorm.errors import EndormError

TSV = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n{s}\t0:00:10\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n"


def make_run(work, run="demo"):
    root = work / "results" / run
    (root / "rmbench/m").mkdir(parents=True)
    (root / "rmbench/m/table1.md").write_text("# Table 1\n\n| a |\n|---|\n| 1 |\n")
    (root / "rmbench/m/table1.png").write_bytes(b"\x89PNG fake")
    (root / "math/m/base").mkdir(parents=True)
    (root / "math/m/table3.md").write_text("# Table 3\n\nrows\n")
    (root / "math/m/examples.md").write_text("# examples\n")
    summary = {"tasks": {"gsm8k": {"n": 2}}, "wall_s": 30.0,
               "generation": {"prompt_tokens": 300, "generated_tokens": 500, "seconds": 20.0}}
    (root / "math/m/base/summary.json").write_text(json.dumps(summary))
    (root / "math/m/base/samples.jsonl").write_text(
        "".join(json.dumps({"task": "gsm8k", "id": str(i), "generation": "x"}) + "\n" for i in range(2)))
    for rule, job, s in (("evaluate_math", f"{run}-m-base", 40.0), ("make_table3", f"{run}-m", 2.0)):
        (work / "benchmarks" / rule).mkdir(parents=True, exist_ok=True)
        (work / "benchmarks" / rule / f"{job}.tsv").write_text(TSV.format(s=s, rss=1000, cpu=s * 2))
    return root


def test_publish_copies_tables_and_figures_with_an_index(tmp_path):
    make_run(tmp_path)
    out = tmp_path / "docs/results/demo"
    files = publish.publish(tmp_path, "demo", out, command="make run")
    names = sorted(p.name for p in files)
    assert names == ["examples.md", "index.md", "stages.json", "stages.md", "table1.md", "table1.png", "table3.md"]
    index = (out / "index.md").read_text()
    assert index.index("## Table 1") < index.index("## Table 3") < index.index("## Cost per stage")
    assert "### Table 1" in index and "![Table 1" in index and "[examples.md](examples.md)" in index
    assert "made by `make run`" in index and "0.7 min" in index  # 40 s + 2 s of benchmarked jobs
    stages = json.loads((out / "stages.json").read_text())["stages"]
    ev = next(s for s in stages if s["rule"] == "evaluate_math")
    assert ev["new_tokens"] == 500 and ev["new_tokens_per_s"] == pytest.approx(500 / 40)
    assert ev["new_tokens_per_s_generating"] == pytest.approx(25.0)
    assert "| evaluate_math | demo-m-base |" in (out / "stages.md").read_text()
    (out / "stale.md").write_text("old")
    publish.publish(tmp_path, "demo", out)  # republished from scratch: nothing stale is kept
    assert not (out / "stale.md").exists()
    with pytest.raises(EndormError, match="no such run folder"):
        publish.publish(tmp_path, "other", out)


def test_stage_table_marks_generation_throughput():
    md = stagestats.markdown([{"rule": "train_rl", "job": "q", "wall_s": 100.0, "max_rss_mb": 2.0, "cpu_s": 190.0,
                               "new_tokens": 1000, "new_tokens_per_s": 10.0, "new_tokens_per_s_generating": 25.0}],
                             "t", "cmd", [])
    assert "| train_rl | q | 100.0 | 2 | 190.0 | 1,000 | " in md and "| 1,000 | 10.0 | 25.0 |" in md
