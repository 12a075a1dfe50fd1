"""The adapters, pair conversions, metrics and the data manifest on the full released files, every row.

Run with ``ENDORM_REAL_DATA=/path/to/realdata pytest -m realdata tests/test_realdata.py`` (the layout and how to
populate it: docs/data.md). Without the variable, or where a file is absent, each test skips and says why. The
metrics get a deterministic score (the response's length in characters), so every row goes through them and the
result can be recomputed here independently from the raw JSON.
"""

from __future__ import annotations

import json
import os
import runpy
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from endorm.data import manifest
from endorm.data.pairs import RMBENCH_FILE_DOMAINS, load_rmbench_file, pair_stats, validate_pairs
from endorm.io import read_json, read_jsonl, read_rows
from endorm.benchmarks.metrics import DOMAIN_GROUPS, rmbench_accuracy
from endorm.benchmarks.promptable import dsp_matrix, pairwise_accuracy
from endorm.data.promptable import DSP_DOMAINS, dsp_pairs, dsp_stats, load_dsp, multifaceted_rows

pytestmark = pytest.mark.realdata
ROOT = Path(__file__).resolve().parents[1]
RMBENCH_DOMAIN_FILES = [f.name for f in manifest.RMBENCH_FILES if f.name != "total_dataset.json"]
MATH_FILES = ["aime24", "amc23", "minerva_math", "olympiadbench"]
MULTIFACETED = [("Multifaceted-Collection-DPO", "train"), ("Multifaceted-Collection-RM", "train"),
                ("Multifaceted-Collection-RM", "test")]


def real_file(*parts: str) -> Path:
    root = os.environ.get("ENDORM_REAL_DATA")
    if not root:
        pytest.skip("ENDORM_REAL_DATA is not set: it names the folder of the released files (see docs/data.md)")
    path = Path(root).joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} is absent (see docs/data.md for how to fetch it)")
    return path


def run_script(name: str, tmp_path: Path, **attrs) -> str:
    """Run a workflow script as Snakemake would (a `snakemake` object in its globals); returns its log."""
    log = tmp_path / f"{name}.log"
    smk = SimpleNamespace(log=[str(log)], **{"input": [], **attrs})
    runpy.run_path(str(ROOT / "workflow" / "scripts" / name), init_globals={"snakemake": smk}, run_name="__main__")
    return log.read_text()


def length_scores(rows: list[dict]) -> list[dict]:
    return [{"id": r["id"], "domain": r["domain"], "score_chosen": [len(c) for c in r["chosen"]],
             "score_rejected": [len(x) for x in r["rejected"]]} for r in rows]


def rmbench_length_accuracy(raw: list[dict]) -> float:
    """Mean over rows of mean(hard, normal, easy), computed from the released JSON with strict > on lengths."""
    total = 0.0
    for row in raw:
        win = [[len(c) > len(r) for r in row["rejected"]] for c in row["chosen"]]
        levels = [sum(win[i][j] for i in range(3) for j in range(3) if cmp(i, j)) / 3
                  for cmp in (lambda i, j: i < j, lambda i, j: i == j, lambda i, j: i > j)]
        total += sum(levels) / 3
    return 100 * total / len(raw)


# ----- RM-Bench -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", RMBENCH_DOMAIN_FILES)
def test_rmbench_file_every_row(name):
    path = real_file("rm-bench", "data", name)
    raw = json.loads(path.read_text())
    domain = RMBENCH_FILE_DOMAINS[name.split(".")[0]]
    rows = validate_pairs(load_rmbench_file(path), str(path))
    pinned = manifest.MANIFEST["rm-bench"].file(name)
    assert len(rows) == len(raw) == pinned.rows
    report = manifest.check("rm-bench", files={name: path})
    assert report["checked"][name]["git_blob"] == pinned.git_blob
    assert [r["id"] for r in rows] == [f"{domain}-{r['id']}" for r in raw]
    assert all(r["chosen"] == o["chosen"] and r["rejected"] == o["rejected"] for r, o in zip(rows, raw))
    stats = pair_stats(rows)
    assert stats["empty_responses"] == sum(not t.strip() for o in raw for t in o["chosen"] + o["rejected"])
    assert stats["identical_comparisons"] == sum(c == r for o in raw for c in o["chosen"] for r in o["rejected"])
    acc = rmbench_accuracy(length_scores(rows))
    assert acc["n"] == len(raw) and acc["domains"][DOMAIN_GROUPS.get(domain, domain)]["n"] == len(raw)
    assert acc["avg_micro"] == pytest.approx(rmbench_length_accuracy(raw))


def test_rmbench_whole_benchmark_matches_the_manifest():
    paths = [real_file("rm-bench", "data", name) for name in RMBENCH_DOMAIN_FILES]
    rows = [r for p in paths for r in load_rmbench_file(p)]
    report = manifest.check("rm-bench", rows=len(rows), domains=Counter(r["domain"] for r in rows),
                            files={p.name: p for p in paths})
    assert report["checked"]["rows"] == {"expected": 1327, "found": 1327}
    acc = rmbench_accuracy(length_scores(validate_pairs(rows, "rm-bench")))
    assert {d: v["n"] for d, v in acc["domains"].items()} == {"chat": 129, "math": 529, "code": 228, "safety": 441}


def test_rmbench_combined_file_matches_the_per_domain_files():
    path = real_file("rm-bench", "data", "total_dataset.json")
    rows = load_rmbench_file(path)
    manifest.check("rm-bench", rows=len(rows), domains=Counter(r["domain"] for r in rows), files={path.name: path})
    assert pair_stats(validate_pairs(rows, str(path)))["rows"] == 1327
    per_domain = [r for name in RMBENCH_DOMAIN_FILES for r in load_rmbench_file(real_file("rm-bench", "data", name))]
    assert Counter((r["domain"], r["prompt"]) for r in rows) == Counter((r["domain"], r["prompt"]) for r in per_domain)


def test_prepare_preferences_on_the_released_files(tmp_path):
    present = [real_file("rm-bench", "data", n) for n in RMBENCH_DOMAIN_FILES[:1]]  # skips without the variable
    root = present[0].parent
    paths = [str(root / n) for n in RMBENCH_DOMAIN_FILES if (root / n).is_file()]
    spec = {"name": "rm-bench", "source": "path", "path": paths}
    if len(paths) < len(RMBENCH_DOMAIN_FILES):  # math_filtered.json absent: accept the partial count on purpose
        spec["expect"] = {"rows": sum(manifest.MANIFEST["rm-bench"].file(Path(p).name).rows for p in paths)}
    out = SimpleNamespace(rows=str(tmp_path / "preferences.jsonl"), meta=str(tmp_path / "preferences.meta.json"))
    log = run_script("prepare_preferences.py", tmp_path, params=SimpleNamespace(data=[spec], seed=0), output=out)
    meta, rows = read_json(out.meta), read_jsonl(out.rows)
    checked = meta["entries"][0]["manifest"]["checked"]
    assert meta["rows_read"] == meta["rows_kept"] == len(rows) == checked["rows"]["found"]
    assert all(checked[Path(p).name]["git_blob"] for p in paths)
    assert meta["content"]["rows"] == len(rows) and "kept as released" in log


# ----- DSP ---------------------------------------------------------------------------------------------------------
def dsp_file() -> Path:
    return real_file("dsp", "data", "domain_specific_preference.test.json")


def test_dsp_whole_file_and_the_authors_pairs():
    path = dsp_file()
    raw = json.loads(path.read_text())
    rows = load_dsp(path)  # the row with an empty 'normal' response is kept, as the authors' conversion keeps it
    assert len(rows) == len(raw) == 661
    manifest.check("dsp-test", rows=len(rows), files={path.name: path})
    stats = dsp_stats(rows)
    empty = [(i, k) for i, item in enumerate(raw) for k, v in item["responses"].items() if not v.strip()]
    assert stats["empty_responses"] == len(empty) and len(empty) >= 1
    for d in DSP_DOMAINS:
        # reward_datasets.py --to_pairs: for each item, the domain's response over every other style, in the order
        # of the item's keys; every item kept (prepare_data_item drops nothing here)
        authors = [(i, d, style) for i, item in enumerate(raw) for style in item["responses"] if style != d]
        assert dsp_pairs(rows, d) == authors and len(authors) == 2644
        texts = [(raw[i]["responses"][a], raw[i]["responses"][b]) for i, a, b in authors]
        assert stats["per_domain"][d] == {
            "pairs": 2644, "identical_pairs": sum(a == b for a, b in texts),
            "pairs_with_empty_response": sum(not a.strip() or not b.strip() for a, b in texts)}
    lengths = [{k: len(v) for k, v in item["responses"].items()} for item in raw]
    m = dsp_matrix({x: lengths for x in DSP_DOMAINS}, len(raw))
    for d in DSP_DOMAINS:
        wins = sum(lengths[i][a] > lengths[i][b] for i, a, b in dsp_pairs(rows, d))
        assert m["matrix"]["academy"][d] == pytest.approx(100 * wins / 2644)


def test_dsp_row_with_an_empty_response_is_scored(tiny):
    from endorm.benchmarks.promptable import score_dsp
    from endorm.methods.scoring import ScoreOptions

    rows = load_dsp(dsp_file())
    odd = [r for r in rows if any(not v.strip() for v in r["responses"].values())]
    model, tok = tiny
    scores = score_dsp(model, tok, odd, {d: f"Domain {d}." for d in DSP_DOMAINS}, ScoreOptions(progress=False))
    assert all(isinstance(v, float) for x in DSP_DOMAINS for per in scores[x] for v in per.values())


def test_prepare_dsp_on_the_released_file(tmp_path):
    path = dsp_file()
    out = SimpleNamespace(rows=str(tmp_path / "dsp.json"), meta=str(tmp_path / "dsp.meta.json"))
    log = run_script("prepare_dsp.py", tmp_path, params=SimpleNamespace(data={"source": "path", "path": str(path)}),
                     output=out)
    meta = read_json(out.meta)
    assert len(read_json(out.rows)) == meta["rows_kept"] == 661 and meta["rows_dropped"] == 0
    assert meta["manifest"]["checked"][path.name]["sha256"] == manifest.MANIFEST["dsp-test"].files[0].sha256
    assert meta["content"]["empty_responses"] >= 1 and "empty response: row 61 (id 60): normal" in log


# ----- Multifaceted ------------------------------------------------------------------------------------------------
def multifaceted_file(name: str, split: str) -> Path:
    for ext in ("jsonl", "json"):
        root = os.environ.get("ENDORM_REAL_DATA")
        if root and (Path(root) / "multifaceted" / name / f"{split}.{ext}").is_file():
            return Path(root) / "multifaceted" / name / f"{split}.{ext}"
    return real_file("multifaceted", name, f"{split}.jsonl")


@pytest.mark.parametrize("name,split", MULTIFACETED)
def test_multifaceted_split_every_row(name, split):
    path = multifaceted_file(name, split)
    rows = validate_pairs(multifaceted_rows(read_rows(path), str(path)), str(path))
    manifest.check(manifest.hub_dataset(f"kaist-ai/{name}", split), rows=len(rows))
    stats = pair_stats(rows)
    acc = pairwise_accuracy(length_scores(rows))
    assert acc["n"] == stats["rows"] == len(rows)
    wins = sum(len(r["chosen"][0]) > len(r["rejected"][0]) for r in rows)
    assert acc["weighted_average"] == pytest.approx(100 * wins / len(rows))


# ----- math evaluation and RL data (manifest counts and hashes) ---------------------------------------------------
@pytest.mark.parametrize("name", MATH_FILES)
def test_math_eval_files_match_the_manifest(name):
    path = real_file("qwen2.5-math", "evaluation", "data", name, "test.jsonl")
    report = manifest.check(name, rows=len(read_rows(path)), files={path.name: path})
    assert report["checked"]["rows"]["found"] == manifest.MANIFEST[name].rows


def test_math500_and_math_train_match_the_manifest():
    path = real_file("math500", "test.jsonl")
    manifest.check("math500", rows=len(read_rows(path)), files={path.name: path})
    train = real_file("math-lighteval", "train.jsonl")
    assert manifest.check("math-lighteval-train", rows=len(read_rows(train)))["checked"]["rows"]["found"] == 7500


def test_prepare_math_eval_checks_the_manifest(tmp_path):
    path = real_file("qwen2.5-math", "evaluation", "data", "amc23", "test.jsonl")
    out = SimpleNamespace(rows=str(tmp_path / "amc23.jsonl"), meta=str(tmp_path / "amc23.meta.json"))
    spec = {"name": "amc23", "source": "path", "path": str(path)}
    run_script("prepare_math_eval.py", tmp_path, params=SimpleNamespace(source=spec), output=out)
    assert read_json(out.meta)["manifest"]["checked"]["rows"] == {"expected": 40, "found": 40}
    with pytest.raises(manifest.ManifestMismatch, match=r"amc23: rows: expected 39, found 40.*amc23\]\.expect"):
        run_script("prepare_math_eval.py", tmp_path, params=SimpleNamespace(source={**spec, "expect": {"rows": 39}}),
                   output=out)


def test_prepare_rl_prompts_checks_the_manifest(tmp_path, tiny_dir):
    path = real_file("math-lighteval", "train.jsonl")
    out = SimpleNamespace(rows=str(tmp_path / "prompts.jsonl"), meta=str(tmp_path / "prompts.meta.json"))
    params = SimpleNamespace(data={"name": "math-lighteval", "source": "path", "path": str(path)}, instruction=None,
                             system_prompt=None, max_prompt_tokens=4096)
    run_script("prepare_rl_prompts.py", tmp_path, params=params, output=out,
               input=SimpleNamespace(policy=str(tiny_dir)))
    meta = read_json(out.meta)
    assert meta["rows_read"] == 7500 and meta["manifest"]["checked"]["rows"] == {"expected": 7500, "found": 7500}
