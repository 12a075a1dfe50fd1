"""Scoring of endorm's math tasks; the logic lives in ``endorm.data.answers`` so it is unit-tested.

Answer rule: the LAST ``\\boxed{}`` of the generation; when there is none, the last number in the text (the
Qwen2.5-Math evaluation convention); with no number either, the sample is wrong. Equivalence:
``endorm.data.answers.answers_equal`` (normalisation as the benchmarks' own graders, then latex2sympy + math_verify); a
row's ``unit`` (OlympiadBench) is accepted after the value.

Prompt: the row's ``prompt``, made by ``endorm.data.mathdata.build_prompt`` with the run's instruction when the workflow
writes the run's rows (``endorm.benchmarks.lmeval.write_task_configs``); for canonical rows used directly (``lm_eval
--include_path workflow/lm_eval_tasks``), the same function with the default instruction.
"""

from endorm.data.answers import score_answer
from endorm.data.mathdata import build_prompt


def doc_to_text(doc: dict) -> str:
    return doc.get("prompt") or build_prompt(doc["problem"])


def process_results(doc: dict, results: list[str]) -> dict[str, int]:
    _, correct = score_answer(results[0], doc["answer"], doc.get("unit") or None)
    return {"acc": int(correct)}
