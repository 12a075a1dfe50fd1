"""OlympiadBench (Qwen2.5-Math ``evaluation/data/olympiadbench/test.jsonl``, 675 rows) -> canonical math rows."""

from __future__ import annotations

import re

from ...errors import EndormError
from ...io import require
from ..mathdata import adapt, answer_text, row_id, text_field
from . import adapter, one_file


def olympiad_answer(text: str) -> str:
    """One OlympiadBench ``final_answer`` string as its judge reads it: every ``$`` removed (``"$69$,$84$"`` is the
    two answers 69 and 84), then leading/trailing spaces and ``.,;:`` (``"$(-\\infty, 0) \\cup\\{1\\}$."``)."""
    return re.sub(r"^[\s.,;:]+|[\s.,;:]+$", "", text.replace("$", ""))


@adapter("olympiadbench", "math", dataset="olympiadbench")
def olympiadbench(inputs, r):
    """OlympiadBench (Qwen2.5-Math ``evaluation/data/olympiadbench/test.jsonl``, 675 rows): ``question`` (after
    ``context`` when there is one) and ``final_answer`` (a list of strings, each read by :func:`olympiad_answer`;
    several are joined with ", "). Kept: ``is_multiple_answer``, ``unit`` ("" when none; OlympiadBench asks for the
    unit outside the box, so the grader accepts the value with or without it), ``answer_type``, and
    ``answer_raw`` (the file's strings joined, to count rewritten golds)."""
    def one(row, n, where):
        question = text_field(row, ("question",), where)
        context = row.get("context")
        if isinstance(context, str) and context.strip():
            question = context.strip() + "\n\n" + question
        finals = require(row, "final_answer", (list, str), where)
        finals = [finals] if isinstance(finals, str) else finals
        if not finals:
            raise EndormError(f"{where}: field 'final_answer' is an empty list")
        raw = [answer_text(a, where, f"final_answer[{k}]") for k, a in enumerate(finals)]
        parts = [olympiad_answer(a) for a in raw]
        if not all(parts):
            raise EndormError(f"{where}: field 'final_answer' has an answer that is only '$' or punctuation")
        multiple = row.get("is_multiple_answer", len(parts) > 1)
        if not isinstance(multiple, bool):
            raise EndormError(f"{where}: field 'is_multiple_answer' must be true or false")
        unit = row.get("unit") or ""
        if not isinstance(unit, str):
            raise EndormError(f"{where}: field 'unit' must be a string or null")
        return {"id": row_id(row, ("id",), n), "problem": question, "answer": ", ".join(parts),
                "source": "olympiadbench", "is_multiple_answer": multiple, "unit": unit.strip(),
                "answer_type": str(row.get("answer_type") or ""), "answer_raw": ", ".join(raw)}
    file = one_file(inputs, "olympiadbench")
    return adapt(file.rows(), file.where, one, r.dropped)
