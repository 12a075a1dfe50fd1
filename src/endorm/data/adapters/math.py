"""Math benchmarks' released files -> canonical rows ``{id, problem, answer, source}`` (Table 3, RL prompts).

Each adapter reads its file's own shape and takes the gold answer as the benchmark's own code reads it, naming the
file, row and field of any problem (:mod:`endorm.data.mathdata` has the shared helpers and the canonical row's checks).
"""

from __future__ import annotations

import random
import re

from ..answers import last_boxed, verify_timeout
from ...errors import EndormError
from ...io import require
from ..mathdata import adapt, answer_text, finish, row_id, text_field
from . import adapter, one_file


def aime_amc_rows(rows: list[dict], source: str, name: str, dropped: list[dict] | None = None) -> list[dict]:
    """AIME 2024 / AMC23 (Qwen2.5-Math ``evaluation/data/{aime24,amc23}/test.jsonl``): ``problem``/``question`` and
    ``answer`` (AMC23 answers are floats such as 27.0, rendered as 27; Qwen2.5-Math reads them with float())."""
    def one(row, n, where):
        return {"id": row_id(row, ("id",), n), "problem": text_field(row, ("problem", "question"), where),
                "answer": answer_text(require(row, "answer", (str, int, float), where), where), "source": name}
    return adapt(rows, source, one, dropped)


@adapter("aime24", "math", dataset="aime24")
def aime24(inputs, r):
    raw = one_file(inputs, "aime24")
    return aime_amc_rows(raw.rows(), raw.where, "aime24", r.dropped)


@adapter("amc23", "math", dataset="amc23")
def amc23(inputs, r):
    raw = one_file(inputs, "amc23")
    return aime_amc_rows(raw.rows(), raw.where, "amc23", r.dropped)


@adapter("minerva_math", "math", dataset="minerva_math")
def minerva_math(inputs, r):
    """Minerva Math (272 MIT OCW problems; Qwen2.5-Math ``evaluation/data/minerva_math/test.jsonl``): ``problem``
    and ``solution``; the answer is the solution's last ``\\boxed{}`` (as Minerva's and Qwen2.5-Math's code read
    it), normalised when graded (:func:`endorm.data.answers.normalise_answer`: ``4.5e33``, ``-1./3``, ``np.arcsin``)."""
    def one(row, n, where):
        solution = text_field(row, ("solution",), where)
        answer = last_boxed(solution)
        if not answer:
            raise EndormError(f"{where}: field 'solution' has no \\boxed{{}} answer")
        return {"id": row_id(row, ("idx", "id"), n), "problem": text_field(row, ("problem",), where),
                "answer": answer, "source": "minerva_math"}
    raw = one_file(inputs, "minerva_math")
    return adapt(raw.rows(), raw.where, one, r.dropped)


@adapter("math500", "math", dataset="math500")
def math500(inputs, r):
    """MATH-500 (``test.jsonl`` of openai/prm800k's ``math_splits``, the Hub's HuggingFaceH4/MATH-500): ``problem``,
    ``answer`` (``unique_id`` as id when present)."""
    def one(row, n, where):
        return {"id": row_id(row, ("unique_id", "id"), n), "problem": text_field(row, ("problem",), where),
                "answer": answer_text(require(row, "answer", (str, int, float), where), where), "source": "math500"}
    raw = one_file(inputs, "math500")
    return adapt(raw.rows(), raw.where, one, r.dropped)


# ----- GSM8K and its split ------------------------------------------------------------------------------------------
def gsm8k_answer(text: str, where: str) -> str:
    """GSM8K gold: the text after ``####``, commas removed (``1,234`` -> ``1234``)."""
    if "####" not in text:
        raise EndormError(f"{where}: field 'answer' has no '####' final answer")
    answer = text.rsplit("####", 1)[1].strip().replace(",", "")
    if not answer:
        raise EndormError(f"{where}: field 'answer' is empty after '####'")
    return answer


def gsm8k_rows(rows: list[dict], source: str, name: str = "gsm8k", indices: list[int] | None = None) -> list[dict]:
    """GSM8K (``question``, ``answer`` ending ``#### N``); ``indices`` (0-based) selects rows; ids are the indices."""
    out = []
    for i in (range(len(rows)) if indices is None else indices):
        if not 0 <= i < len(rows):
            raise EndormError(f"{source}: row index {i} out of range (file has {len(rows)} rows)")
        where = f"{source}, row {i + 1}"
        row = rows[i]
        out.append({"id": str(i), "problem": text_field(row, ("question",), where),
                    "answer": gsm8k_answer(require(row, "answer", str, where), where), "source": name})
    return finish(out, source)


def gsm8k_split(seed: int, n_rl: int, n_eval: int, total: int) -> tuple[list[int], list[int]]:
    """(rl_indices, eval_indices): disjoint 0-based row indices of a GSM8K file of ``total`` rows.

    The indices 0..total-1 are shuffled with ``random.Random(seed)``; evaluation takes the first ``n_eval``, RL the
    next ``n_rl``. Deterministic in ``seed``; the evaluation set does not depend on ``n_rl``."""
    if n_rl < 0 or n_eval < 0:
        raise EndormError(f"gsm8k_split: n_rl and n_eval must be >= 0, got {n_rl} and {n_eval}")
    if n_rl + n_eval > total:
        raise EndormError(f"gsm8k_split: n_rl + n_eval = {n_rl + n_eval} exceeds the {total} GSM8K test rows")
    order = list(range(total))
    random.Random(seed).shuffle(order)
    return order[n_eval:n_eval + n_rl], order[:n_eval]


@adapter("gsm8k", "math", takes=("n", "held_out"))
def gsm8k(inputs, r):
    """GSM8K's test file. With ``n``, a seeded split (:func:`gsm8k_split`): the evaluation takes the first ``n``
    rows of the ``seed``'s permutation; RL skips the ``held_out`` rows kept for evaluation and takes the next ``n``,
    so the two are disjoint. Without ``n``, every row."""
    raw = one_file(inputs, "gsm8k")
    rows = raw.rows()
    n, held_out, seed = r.spec.get("n"), int(r.spec.get("held_out") or 0), int(r.spec.get("seed", 0))
    if n is None:
        return gsm8k_rows(rows, raw.where)
    picked, _ = gsm8k_split(seed, int(n), held_out, len(rows))
    of = f"of the random.Random({seed}) permutation of the {len(rows)} GSM8K test rows"
    r.notes["split"] = (f"rows {held_out}..{held_out + int(n) - 1} {of} (the first {held_out} are held out for "
                        "evaluation)" if held_out else f"the first {n} {of} (RL prompts come after them)")
    return gsm8k_rows(rows, raw.where, "gsm8k", picked)


# ----- packaged benchmarks ----------------------------------------------------------------------------------------
@adapter("aime2025", "math")
def aime2025(inputs, r):
    """AIME 2025 I and II as packaged (``question``, ``answer`` strings); ids ``I-1`` .. ``II-15``."""
    out = []
    for raw in inputs:
        part = "II" if re.search(r"-II\b|_II\b|II\.jsonl$", raw.where) else "I"
        for n, row in enumerate(raw.rows(), 1):
            where = f"{raw.where}, row {n}"
            out.append({"id": f"{part}-{n}", "problem": text_field(row, ("question", "problem"), where),
                        "answer": answer_text(require(row, "answer", (str, int, float), where), where),
                        "source": "aime2025"})
    return finish(out, "AIME 2025 files")


def champ_rows(data: dict, source: str, name: str = "champ") -> tuple[list[dict], list[str]]:
    """CHAMP ``v0.json``: ``problems[pid]["_text"]`` and ``["_raw_answer"]``. Kept: answers that are one math
    expression (a single ``@@expr@@`` span, or a bare number) that math_verify parses; prose answers ("No",
    "0 is the only possible value", "C(10, 5), or equivalently 252") are skipped. Returns (rows, skipped ids)."""
    from math_verify import parse

    problems = data.get("problems") if isinstance(data, dict) else None
    if not isinstance(problems, dict):
        raise EndormError(f"{source}: missing field 'problems' (an object of problems by id)")
    out, skipped = [], []
    for pid in sorted(problems):
        where = f"{source}, problem {pid}"
        p = problems[pid]
        if not isinstance(p, dict):
            raise EndormError(f"{where}: expected an object")
        text = text_field(p, ("_text",), where)
        raw = text_field(p, ("_raw_answer",), where)
        m = re.fullmatch(r"@@([^@]+)@@", raw)
        expr = m.group(1).strip() if m else (raw if re.fullmatch(r"-?\d+(\.\d+)?(/\d+)?", raw) else None)
        if expr is None or not parse(f"\\boxed{{{expr}}}", parsing_timeout=verify_timeout()):
            skipped.append(pid)
            continue
        out.append({"id": pid, "problem": text, "answer": expr, "source": name})
    return finish(out, source), skipped


@adapter("champ", "math")
def champ(inputs, r):
    raw = one_file(inputs, "champ")
    kept, skipped = champ_rows(raw.json(), raw.where)
    r.notes.update(kept=len(kept), skipped_non_expression_answers=len(skipped))
    return kept


# ----- RL's training problems -------------------------------------------------------------------------------------
@adapter("math-lighteval", "math", dataset="math-lighteval-train")
def math_lighteval(inputs, r):
    """MATH-lighteval / MATH train (``problem``, ``solution``, ``level``, ``type``; 7,500 rows): gold answer = the
    solution's last ``\\boxed{}`` (MATH's own reading, as in ``last_boxed_only_string``; ``\\fbox`` too). A bad row
    is named by file, row (0-based) and field. Ids are ``math-<row index>``; ``level`` and ``type`` are kept."""
    raw = one_file(inputs, "math-lighteval")
    rows, out = raw.rows(), []
    for i, row in enumerate(rows):
        where = f"{raw.where}: row {i}"
        try:
            if not isinstance(row, dict):
                raise EndormError(f"{where}: expected an object, got {type(row).__name__}")
            for key in ("problem", "solution"):
                if not isinstance(row.get(key), str) or not row[key].strip():
                    raise EndormError(f"{where}: field {key!r} must be a non-empty string")
            answer = last_boxed(row["solution"])
            if answer is None:
                raise EndormError(f"{where}: field 'solution' has no \\boxed{{}} answer")
            if not answer:  # MATH train has two: "... there are $\\boxed{}$ primes in that range."
                raise EndormError(f"{where}: field 'solution' has an empty \\boxed{{}} answer")
        except EndormError as exc:
            if r.dropped is None:
                raise
            r.dropped.append({"row": i, "reason": str(exc)})
            continue
        out.append({"id": f"math-{i}", "problem": row["problem"], "answer": answer, "source": "math-lighteval",
                    "level": row.get("level"), "type": row.get("type")})
    if not out:
        raise EndormError(f"{raw.where}: no usable rows ({len(r.dropped or [])} dropped)")
    return out
