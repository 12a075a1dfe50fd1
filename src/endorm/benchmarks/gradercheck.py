"""Grader check: does :func:`endorm.data.answers.score_answer` grade every gold answer of the math suites right, and
deterministic wrong answers wrong? (``endorm grader-check --data DIR --output FILE.json``)

For each problem of a suite (read whole, through the suite's adapter):

* gold: the gold answer written as a model would, ``... so the answer is $\\boxed{GOLD}$.``, must grade correct,
  in each of its forms (:func:`gold_forms`: as read, as the file writes it, with the row's unit);
* wrong answers, two per problem, must grade wrong:
  ``swap``: the gold of the next problem (in file order, wrapping) whose gold is a different string; and
  ``perturb``: the gold with its first number increased by one (``\\frac{1}{2}`` -> ``\\frac{2}{2}``,
  ``52_8`` -> ``53_8``; ``+1`` appended when it has no digit).

The report gives, per suite, ``n``, ``gold_correct`` (rate), ``wrong_rejected`` (rate over the 2n wrong answers)
and every exception (a gold graded wrong, a wrong answer graded right). A wrong answer can be a true equivalent by
coincidence (the next problem's gold ``x=5`` where this gold is ``5``): the exceptions are listed for a person to
judge, never hidden.

``DIR`` has the layout of the project's real-data folder: ``qwen2.5-math/evaluation/data/<suite>/test.jsonl``
(QwenLM/Qwen2.5-Math), ``math500/test.jsonl`` and ``math-lighteval/train.jsonl`` (MATH train, read by the RL
adapter; its row count and answers are checked the same way).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from ..data.answers import score_answer
from ..errors import EndormError

SUITES = {
    "aime24": "qwen2.5-math/evaluation/data/aime24/test.jsonl",
    "amc23": "qwen2.5-math/evaluation/data/amc23/test.jsonl",
    "math500": "math500/test.jsonl",
    "minerva_math": "qwen2.5-math/evaluation/data/minerva_math/test.jsonl",
    "olympiadbench": "qwen2.5-math/evaluation/data/olympiadbench/test.jsonl",
    "math_lighteval_train": "math-lighteval/train.jsonl",
}
EVAL_SUITES = ("aime24", "amc23", "math500", "minerva_math", "olympiadbench")


def perturb(answer: str) -> str:
    """``answer`` with its first number increased by one (``+1`` appended when it has no digit)."""
    m = re.search(r"\d+", answer)
    if not m:
        return answer + "+1"
    return answer[:m.start()] + str(int(m.group()) + 1) + answer[m.end():]


def wrong_answers(rows: list[dict], i: int) -> list[tuple[str, str]]:
    """[("swap", another problem's gold), ("perturb", this gold perturbed)] for row ``i``."""
    gold = rows[i]["answer"]
    out = []
    for k in range(1, len(rows)):
        other = rows[(i + k) % len(rows)]["answer"]
        if re.sub(r"\s+", "", other) != re.sub(r"\s+", "", gold):
            out.append(("swap", other))
            break
    out.append(("perturb", perturb(gold)))
    return out


def gold_forms(row: dict) -> list[tuple[str, str]]:
    """The gold as a model may write it in the box: as read (``gold``), as the file writes it when that differs
    (``file``: OlympiadBench's ``$69$,$84$``), and with the row's unit after the value (``with_unit``: ``166 cm^2``,
    ``5\\,\\mathrm{km}``)."""
    forms = [("gold", row["answer"])]
    raw = row.get("answer_raw")
    if raw and raw != row["answer"]:
        forms.append(("file", raw))
    unit = (row.get("unit") or "").replace("$", "").strip()
    if unit:
        forms.append(("with_unit", f"{row['answer']} {unit}"))
        if unit[0].isalpha():
            forms.append(("with_unit", f"{row['answer']}\\,\\mathrm{{{unit}}}"))
    return forms


def check_rows(rows: list[dict]) -> dict:
    """Gold and wrong-answer grading of canonical rows (``answer``, optional ``unit``)."""
    start = time.perf_counter()
    gold_bad, wrong_ok, n_wrong = [], [], 0
    n_gold = 0
    for i, r in enumerate(rows):
        unit = r.get("unit") or None
        for kind, written in gold_forms(r):
            n_gold += 1
            if not score_answer(f"... so the answer is $\\boxed{{{written}}}$.", r["answer"], unit)[1]:
                gold_bad.append({"id": r["id"], "gold": r["answer"], "unit": unit, "kind": kind, "written": written})
        for kind, wrong in wrong_answers(rows, i):
            n_wrong += 1
            if score_answer(f"\\boxed{{{wrong}}}", r["answer"], unit)[1]:
                wrong_ok.append({"id": r["id"], "gold": r["answer"], "unit": unit, "kind": kind, "wrong": wrong})
    n = len(rows)
    return {"n": n, "n_gold_forms": n_gold,
            "gold_correct": (n_gold - len(gold_bad)) / n_gold if n_gold else float("nan"),
            "n_wrong": n_wrong, "wrong_rejected": (n_wrong - len(wrong_ok)) / n_wrong if n_wrong else float("nan"),
            "gold_graded_wrong": gold_bad, "wrong_graded_right": wrong_ok,
            "wall_s": round(time.perf_counter() - start, 1)}


def suite_rows(name: str, data_dir: str | Path) -> tuple[list[dict], list[dict], Path]:
    """(canonical rows, dropped rows, file) of one suite of ``data_dir``; MATH train through the RL adapter."""
    from ..io import read_rows
    from ..data.mathdata import canonical_rows

    path = Path(data_dir) / SUITES[name]
    if not path.is_file():
        raise EndormError(f"{path}: file not found (suite {name}; see endorm.benchmarks.gradercheck for the layout)")
    dropped: list[dict] = []
    adapter = "math-lighteval" if name == "math_lighteval_train" else name
    return canonical_rows(adapter, read_rows(path), str(path), dropped), dropped, path


def grader_check(data_dir: str | Path, suites: list[str] | None = None) -> dict:
    """The check of every suite in ``suites`` (default: the five evaluation suites) under ``data_dir``."""
    from ..data.sources import sha256

    out = {}
    for name in suites or EVAL_SUITES:
        if name not in SUITES:
            raise EndormError(f"unknown suite {name!r}; expected one of {sorted(SUITES)}")
        rows, dropped, path = suite_rows(name, data_dir)
        out[name] = {"file": str(path), "sha256": sha256(path), "n_file_rows": len(rows) + len(dropped),
                     "dropped": dropped, **check_rows(rows)}
    return out


def table(report: dict) -> str:
    """Markdown table of a :func:`grader_check` report (``dropped``: rows of the file the adapter could not use,
    such as rows without an answer; they are not graded)."""
    lines = ["| suite | n | dropped | gold graded correct | wrong answers rejected | exceptions |",
             "|---|---|---|---|---|---|"]
    for name, r in report.items():
        gold_ok = r["n_gold_forms"] - len(r["gold_graded_wrong"])
        lines.append(f"| {name} | {r['n']} | {len(r['dropped'])} | {r['gold_correct']:.1%} "
                     f"({gold_ok}/{r['n_gold_forms']}) | {r['wrong_rejected']:.1%} "
                     f"({r['n_wrong'] - len(r['wrong_graded_right'])}/{r['n_wrong']}) | "
                     f"{len(r['gold_graded_wrong']) + len(r['wrong_graded_right'])} |")
    return "\n".join(lines)


def cmd_grader_check(args) -> None:
    from ..io import check_report_outputs, write_json, write_text

    if args.output:  # before any grading: the report replaces neither a data file nor itself
        md_path = check_report_outputs(args.output, [Path(args.data) / SUITES[n] for n in args.suites or EVAL_SUITES])
    report = grader_check(args.data, args.suites)
    md = table(report)
    print(md)
    for name, r in report.items():
        print(f"{name}: {r['n']} of {r['n_file_rows']} rows graded, {len(r['dropped'])} dropped (no usable answer)")
        for d in r["dropped"]:
            print(f"{name}: dropped {d['reason']}")
        for e in r["gold_graded_wrong"]:
            print(f"{name} {e['id']}: gold ({e['kind']}) graded wrong: {e['written']!r} for gold {e['gold']!r}")
        for e in r["wrong_graded_right"]:
            print(f"{name} {e['id']}: wrong answer ({e['kind']}) graded right: {e['wrong']!r} for gold {e['gold']!r}")
    if args.output:
        write_json(args.output, report)
        write_text(md_path, md + "\n")


def add_subparser(command) -> None:
    """Register ``endorm grader-check`` (``command(name, **kw)`` makes a subcommand's parser)."""
    p = command("grader-check", help="grade every gold answer (must be right) and wrong answers (must be "
                                            "wrong) of the math suites; rates and exceptions as JSON")
    p.add_argument("--data", required=True, help="real-data folder (qwen2.5-math/, math500/, math-lighteval/)")
    p.add_argument("--suites", nargs="+", default=None, choices=sorted(SUITES),
                   help=f"default: {' '.join(EVAL_SUITES)}")
    p.add_argument("--output", default=None, help="report JSON (a .md table is written beside it)")
    p.set_defaults(func=cmd_grader_check)
