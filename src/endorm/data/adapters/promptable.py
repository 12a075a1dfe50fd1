"""The promptable reward's data (Table 2, Figure 1): DSP's test file, a Multifaceted Collection split, and the
embedded default's constructed stand-ins for both (the generator's answers to MT-Bench first turns under each
system message, :mod:`endorm.data.promptable`).
"""

from __future__ import annotations

from ...io import require
from ..promptable import DSP_KEYS, multifaceted_rows, persona_pairs, validate_dsp
from . import adapter


@adapter("dsp", "dsp", dataset="dsp-test")
def dsp(inputs, r):
    """DSP (Linear95/DSP ``data/domain_specific_preference.test.json``): a JSON list of ``{query, responses}``."""
    return [row for raw in inputs for row in validate_dsp(raw.rows(), raw.where)]


@adapter("constructed", "dsp")
def dsp_constructed(inputs, r):
    """The generator's conditioned responses (one row per prompt, a response per system message) in DSP's shape:
    the four domains' responses and ``normal`` (the template's own default system prompt)."""
    raw = inputs[0]
    rows = [{"id": row["id"], "query": row["prompt"], "responses": {k: row["responses"][k] for k in DSP_KEYS}}
            for row in raw.rows()]
    return validate_dsp(rows, raw.where)


@adapter("multifaceted", "pairs")
def multifaceted(inputs, r):
    """A Multifaceted Collection split (the DPO/ORPO or the RM shape, :func:`endorm.data.promptable.multifaceted_rows`)."""
    return [row for raw in inputs for row in multifaceted_rows(raw.rows(), raw.where)]


@adapter("persona-pairs", "pairs")
def constructed_persona_pairs(inputs, r):
    """The generator's conditioned responses as Multifaceted-shaped pairs (:func:`endorm.data.promptable.persona_pairs`);
    options: ``personas`` (name -> system message); the entry's ``personas_per_prompt``."""
    return persona_pairs(inputs[0].rows(), r.options["personas"], r.spec["personas_per_prompt"], r.spec["seed"])


@adapter("mt-bench", "prompts")
def mt_bench(inputs, r):
    """MT-Bench questions (FastChat's ``llm_judge/data/mt_bench/question.jsonl``): the first turns of the first
    ``per_category`` questions of each category (option), in file order."""
    raw = inputs[0]
    counts: dict[str, int] = {}
    out = []
    for n, row in enumerate(raw.rows(), 1):
        cat = require(row, "category", str, f"{raw.where}, row {n}")
        if counts.get(cat, 0) < r.options["per_category"]:
            counts[cat] = counts.get(cat, 0) + 1
            out.append({"id": f"mtbench-{row['question_id']}", "prompt": row["turns"][0], "category": cat})
    return out
