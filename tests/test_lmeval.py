"""The math task YAMLs through lm-eval (endorm.benchmarks.lmeval): every benchmark has one, each loads offline and grades gold
and wrong answers as it should, the repository's defaults, and the evaluate script end to end with the tiny model."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ROOT

from endorm.benchmarks import lmeval
from endorm.data import mathdata
from endorm.io import read_json, read_jsonl, write_jsonl

pytest.importorskip("math_verify")

SCRIPTS = ROOT / "workflow" / "scripts"


# ----- the task YAMLs through lm-eval ---------------------------------------------------------------------------
WRONG = {"aime24": "\\boxed{205}", "amc23": "\\boxed{28}", "minerva_math": "\\boxed{1.7}",
         "olympiadbench": "\\boxed{2}", "math500": "\\boxed{\\frac{1}{3}}", "gsm8k": "\\boxed{1,235}",
         "aime2025": "\\boxed{71}", "champ": "\\boxed{145}"}
GOLD = {"aime24": ("204", "The time is \\boxed{204} minutes."), "amc23": ("27", "\\boxed{27.0}"),
        "minerva_math": ("1.6", "$s=\\boxed{1.60}$ cm"),
        "olympiadbench": ("(1,8,19), (2,7,13), (4,5,7)", "\\boxed{(4,5,7), (1,8,19), (2,7,13)}"),
        "math500": ("\\frac{1}{2}", "\\boxed{0.5}"), "gsm8k": ("1234", "She makes \\boxed{1,234} dollars."),
        "aime2025": ("336^\\circ", "\\boxed{336}"), "champ": ("144", "so 144 ways")}


@pytest.fixture(scope="module")
def task_rows(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rows")
    paths = {}
    for name, (gold, _) in GOLD.items():
        paths[name] = folder / f"{name}.jsonl"
        write_jsonl(paths[name], [{"id": f"{name}-{k}", "problem": f"Problem {k} of {name}: what is it?",
                                   "answer": gold, "source": name} for k in range(3)])
    return paths


def test_every_benchmark_has_a_task_yaml():
    assert lmeval.task_names() == sorted(GOLD)


def test_task_yamls_load_offline_and_score(task_rows, tmp_path):
    from lm_eval.tasks import TaskManager

    names = lmeval.write_task_configs(task_rows, tmp_path / "tasks", max_gen_toks=77, instruction="Box it: \\boxed{}.",
                                 stop=["<|im_end|>"])
    loaded = TaskManager(include_path=str(tmp_path / "tasks"), include_defaults=False).load(list(names.values()))
    assert sorted(loaded["tasks"]) == sorted(names.values())
    for name, task_name in names.items():
        task = loaded["tasks"][task_name]
        assert task.OUTPUT_TYPE == "generate_until"
        gen = task.config.generation_kwargs
        assert gen["max_gen_toks"] == 77 and gen["do_sample"] is False and gen["until"] == ["<|im_end|>"]
        docs = list(task.test_docs())
        assert len(docs) == 3 and docs[0]["answer"] == GOLD[name][0]
        assert task.doc_to_text(docs[0]) == f"{docs[0]['problem']}\nBox it: \\boxed{{}}."
        assert task.process_results(docs[0], [GOLD[name][1]]) == {"acc": 1}, name
        assert task.process_results(docs[0], [WRONG[name]]) == {"acc": 0}, name


def test_repository_yaml_defaults(task_rows):
    """The repository YAMLs themselves (default instruction, explicit stop list) load through lm-eval's loader."""
    from lm_eval.tasks._yaml_loader import load_yaml

    cfg = load_yaml(lmeval.TASKS_DIR / "gsm8k.yaml")
    assert cfg["dataset_path"] == "json" and cfg["generation_kwargs"]["until"] == []
    assert cfg["doc_to_text"]({"problem": "P"}) == "P\n" + mathdata.DEFAULT_INSTRUCTION
    assert cfg["process_results"]({"answer": "1234"}, ["\\boxed{1,234}"]) == {"acc": 1}


# ----- end to end: the evaluate script with the tiny model -------------------------------------------------------
def test_evaluate_end_to_end(tiny_dir, task_rows, tmp_path):
    names = sorted(GOLD)
    out = SimpleNamespace(summary=str(tmp_path / "res/summary.json"), samples=str(tmp_path / "res/samples.jsonl"))
    opts = {"max_gen_toks": 8, "batch_size": 4, "dtype": "float32", "device": "cpu", "limit": 2,
            "instruction": mathdata.DEFAULT_INSTRUCTION, "system_prompt": "You are a careful solver."}
    snake = SimpleNamespace(input=SimpleNamespace(model=str(tiny_dir), rows=[str(task_rows[n]) for n in names]),
                            params=SimpleNamespace(tasks=names, opts=opts), output=out,
                            log=[str(tmp_path / "logs/eval.log")])
    runpy.run_path(str(SCRIPTS / "evaluate_math.py"), init_globals={"snakemake": snake})
    summary = read_json(out.summary)
    assert sorted(summary["tasks"]) == names
    for name in names:
        t = summary["tasks"][name]
        assert t["n"] == 2 and t["n_rows"] == 3 and 0.0 <= t["accuracy"] <= 1.0
    assert summary["options"]["max_gen_toks"] == 8 and summary["options"]["stop"] == ["<|im_end|>"]
    samples = read_jsonl(out.samples)
    assert len(samples) == 2 * len(names) and {s["task"] for s in samples} == set(names)
    s = samples[0]
    assert set(s) >= {"task", "id", "problem", "gold", "prompt", "generation", "extracted", "extracted_by", "correct"}
    assert "You are a careful solver." in s["prompt"] and mathdata.DEFAULT_INSTRUCTION in s["prompt"]
    assert s["prompt"].rstrip().endswith("<|im_start|>assistant")
    for name in names:  # the recorded accuracy is the mean of the per-sample records
        recs = [r for r in samples if r["task"] == name]
        assert summary["tasks"][name]["accuracy"] == sum(r["correct"] for r in recs) / len(recs)
    run = Path(out.summary).parent / "summary.lm_eval"
    # the runner writes no second summary.json beside lm-eval's files: the summary is written once
    assert not (run / "summary.json").exists() and len(list((run / "lm_eval_tasks").glob("*.yaml"))) == len(names)
    assert len(list((run / "lm_eval_tasks").glob("*.jsonl"))) == len(names)  # the rows run, with their prompts
    assert json.loads(Path(out.summary).read_text())["model"] == str(Path(tiny_dir).resolve())
