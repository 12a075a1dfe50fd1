"""Preference pairs for Table 1: RM-Bench's released rows, and the embedded default's RM-Bench-shaped sets built from
packaged real data (GSM8K test, GPQA Diamond, CHAMP), each in RM-Bench's three styles [concise, detailed plain,
detailed markdown]. A constructed set's ``n`` is its size, drawn with the entry's (or the run's) seed.
"""

from __future__ import annotations

import csv
import random
import re

from ..pairs import rmbench_file_domain, rmbench_rows
from . import adapter


@adapter("rm-bench", "pairs", dataset="rm-bench")
def rm_bench(inputs, r):
    """RM-Bench: the per-domain released files (``data/<domain>_filtered.json``, the domain from the file's name),
    a combined JSON/JSONL with ``domain``, or the Hub split (1,327 rows with ``domain``), in the order given."""
    return [row for raw in inputs for row in rmbench_rows(raw.rows(), raw.where, rmbench_file_domain(raw.name))]


def _markdown(steps: list[str], answer_line: str) -> str:
    body = "\n".join(f"{k}. {s}" for k, s in enumerate(steps, 1))
    return f"### Solution\n\n{body}\n\n**{answer_line}**"


def _styles(steps: list[str], answer: str) -> list[str]:
    line = f"Final answer: {answer}"
    return [line, "\n".join(steps + [line]), _markdown(steps, line)]


def _wrong_number(answer: str, rng: random.Random) -> str:
    value = float(answer.replace(",", ""))
    for _ in range(100):
        candidate = value + rng.choice([-1, 1]) * rng.choice([1, 2, 3, 5, 10]) * max(1, round(abs(value) * 0.1))
        if candidate != value and (candidate >= 0 or value < 0):
            break
    return str(int(candidate)) if candidate == int(candidate) else str(candidate)


@adapter("math-gsm8k", "pairs", takes=("n",), needs=("n",))
def gsm8k_pairs(inputs, r):
    """GSM8K test: gold solution vs the same solution with its final answer (and last result) changed."""
    rows = inputs[0].rows()
    r.notes.update(n_file_rows=len(rows), n_eligible=len(rows))
    rng = random.Random(r.spec["seed"])
    order = list(range(len(rows)))
    rng.shuffle(order)
    out = []
    for i in order[:int(r.spec["n"])]:
        steps_text, answer = rows[i]["answer"].rsplit("####", 1)
        answer = answer.strip()
        steps = [re.sub(r"<<[^>]*>>", "", s).strip() for s in steps_text.strip().split("\n") if s.strip()]
        wrong = _wrong_number(answer, rng)
        wrong_steps = list(steps)
        # The error sits in the last step's result, as RM-Bench's subtle errors do.
        wrong_steps[-1] = re.sub(rf"{re.escape(answer)}(?!.*{re.escape(answer)})", wrong, wrong_steps[-1])
        out.append({"id": f"gsm8k-{i}", "prompt": rows[i]["question"], "domain": "math-gsm8k",
                    "chosen": _styles(steps, answer), "rejected": _styles(wrong_steps, wrong)})
    return out


@adapter("science-gpqa", "pairs", takes=("n",), needs=("n",))
def gpqa_pairs(inputs, r, max_explanation_chars: int = 600):
    """GPQA Diamond (CSV): the expert explanation with the correct answer vs with the first incorrect answer."""
    with open(inputs[0].path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rng = random.Random(r.spec["seed"])
    order = [i for i in range(len(rows)) if len(rows[i]["Explanation"]) <= max_explanation_chars]
    r.notes.update(n_file_rows=len(rows), n_eligible=len(order))  # eligible: an explanation short enough
    rng.shuffle(order)
    out = []
    for i in order[:int(r.spec["n"])]:
        row = rows[i]
        steps = [s.strip() for s in row["Explanation"].strip().split("\n") if s.strip()]
        out.append({"id": f"gpqa-{row['Record ID']}", "prompt": row["Question"].strip(), "domain": "science-gpqa",
                    "chosen": _styles(steps, row["Correct Answer"].strip()),
                    "rejected": _styles(steps, row["Incorrect Answer 1"].strip())})
    return out


def _paragraphs(text: str) -> list[str]:
    plain = re.sub(r"[*#`]+", "", text)
    return [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n|\n(?=\d+\.|- )", plain) if p.strip()]


@adapter("math-champ", "pairs", takes=("n",), needs=("n",))
def champ_pairs(inputs, r, max_chars: int = 1200):
    """CHAMP (``v0.json``): a model solution humans judged correct vs one with a marked wrong step, same problem."""
    problems = inputs[0].json()["problems"]
    out = []
    for pid in sorted(problems):
        anns = [problems[pid]["fws_annotations"][k] for k in sorted(problems[pid]["fws_annotations"])]
        good = [a["text"] for a in anns if a["start_idx"] is None and len(a["text"]) <= max_chars]
        bad = [a["text"] for a in anns if a["start_idx"] is not None and len(a["text"]) <= max_chars]
        if not good or not bad:
            continue
        styles = []
        for text in (good[0], bad[0]):
            paras = _paragraphs(text)
            styles.append([paras[-1], "\n\n".join(paras), _markdown(paras[:-1], paras[-1]) if len(paras) > 1
                           else f"**{paras[-1]}**"])
        out.append({"id": f"champ-{pid}", "prompt": problems[pid]["_text"], "domain": "math-champ",
                    "chosen": styles[0], "rejected": styles[1]})
    # eligible: a problem with a correct and a wrong solution, both short enough
    r.notes.update(n_file_rows=len(problems), n_eligible=len(out))
    random.Random(r.spec["seed"]).shuffle(out)
    return out[:int(r.spec["n"])]
