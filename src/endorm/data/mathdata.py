"""Math rows (Table 3 and RL): the canonical row, its checks, prompts, and the two preparations that use them.

Canonical rows
    Every benchmark is first turned into JSONL rows ``{"id", "problem", "answer", "source"}`` (all strings;
    OlympiadBench rows add ``is_multiple_answer``, ``unit``, ``answer_type`` and ``answer_raw``) by its adapter
    (:mod:`endorm.data.adapters.math`, found by the config entry's ``name``). :func:`prepare_benchmark` runs it on every
    row: a bad row is dropped, counted and logged (``n_dropped``, ``dropped`` in the provenance), never the end of
    the run; rewritten golds (OlympiadBench's ``$69$,$84$`` -> ``69, 84``) are counted too (``n_answers_rewritten``).

Prompts
    :func:`build_prompt` is the one place a math prompt is made (problem, a newline, the instruction): the
    evaluation (:mod:`endorm.benchmarks.lmeval`) and RL (:func:`prepare_prompts`) both call it.

GSM8K split
    A GSM8K entry with ``n`` is a seeded split of the file (:func:`endorm.data.adapters.math.gsm8k_split`): the
    evaluation takes the first ``n`` of the permutation, RL skips its ``held_out`` rows and takes the next ``n``.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

from ..defaults import DEFAULT_INSTRUCTION
from ..errors import EndormError
from ..io import read_jsonl, require

log = logging.getLogger(__name__)



def instruction_text(instruction: str | None) -> str:
    """The instruction appended to a math problem: ``instruction`` as given (``""``: none), or the default for None."""
    return DEFAULT_INSTRUCTION if instruction is None else instruction


def build_prompt(problem: str, instruction: str | None = None) -> str:
    instruction = instruction_text(instruction)
    return f"{problem}\n{instruction}" if instruction else problem


# ----- the canonical row: helpers of the adapters -----------------------------------------------------------------
def text_field(row: dict, fields: tuple[str, ...], where: str) -> str:
    """The first of ``fields`` present in ``row``: a non-empty string, stripped."""
    for f in fields:
        if f in row and row[f] is not None:
            value = row[f]
            if not isinstance(value, str):
                raise EndormError(f"{where}: field {f!r} must be a string, got {type(value).__name__}")
            if not value.strip():
                raise EndormError(f"{where}: field {f!r} is empty")
            return value.strip()
    raise EndormError(f"{where}: missing field {' or '.join(repr(f) for f in fields)}")


def answer_text(value: Any, where: str, field: str = "answer") -> str:
    """A gold answer as a string; numbers render without a trailing .0 (AMC23 stores 27.0)."""
    if isinstance(value, bool) or value is None:
        raise EndormError(f"{where}: field {field!r} must be a string or number, got {type(value).__name__}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EndormError(f"{where}: field {field!r} is not a finite number ({value})")
        return str(int(value)) if value.is_integer() else repr(value)
    if not isinstance(value, str):
        raise EndormError(f"{where}: field {field!r} must be a string or number, got {type(value).__name__}")
    if not value.strip():
        raise EndormError(f"{where}: field {field!r} is empty")
    return value.strip()


def row_id(row: dict, fields: tuple[str, ...], n: int) -> str:
    """The row's own id (the first of ``fields`` present), else its 0-based position."""
    for f in fields:
        if row.get(f) is not None:
            return str(row[f])
    return str(n - 1)


def finish(rows: list[dict], source: str, dropped: list[dict] | None = None) -> list[dict]:
    """Checks ids are unique (a repeated id is an error, or with ``dropped`` a dropped row) and that rows remain."""
    seen, out = set(), []
    for r in rows:
        if r["id"] in seen:
            if dropped is None:
                raise EndormError(f"{source}: duplicate id {r['id']!r}")
            dropped.append({"id": r["id"], "reason": f"{source}: duplicate id {r['id']!r}"})
            continue
        seen.add(r["id"])
        out.append(r)
    if not out:
        raise EndormError(f"{source}: no rows" + (f" left ({len(dropped)} dropped, first: {dropped[0]['reason']})"
                                                  if dropped else ""))
    return out


def adapt(rows: list[dict], source: str, one_row, dropped: list[dict] | None) -> list[dict]:
    """``one_row(row, n, where)`` on every row. A row it rejects (EndormError) stops the run, or, with a
    ``dropped`` list, is recorded there (``{"row", "reason"}``) and skipped."""
    out = []
    for n, row in enumerate(rows, 1):
        where = f"{source}, row {n}"
        try:
            if not isinstance(row, dict):
                raise EndormError(f"{where}: expected an object, got {type(row).__name__}")
            out.append(one_row(row, n, where))
        except EndormError as exc:
            if dropped is None:
                raise
            dropped.append({"row": n, "reason": str(exc)})
    return finish(out, source, dropped)


def canonical_rows(name: str, rows: list[dict], source: str, dropped: list[dict] | None = None) -> list[dict]:
    """Canonical rows of benchmark ``name`` (a ``math`` adapter) from one released file's rows (``source`` names
    the file in messages). Without ``dropped`` the first bad row is an error; with it, bad rows are recorded there
    and skipped."""
    from .adapters import Reading, get
    from .sources import Raw

    return get("math", name).read([Raw(source, None, rows)], Reading({"name": name}, dropped))


def load_canonical(path: str | os.PathLike) -> list[dict]:
    """Read and check a canonical JSONL file."""
    rows = read_jsonl(path)
    for n, row in enumerate(rows, 1):
        where = f"{path}, row {n}"
        for field in ("id", "problem", "answer", "source"):
            require(row, field, str, where)
    return finish(rows, str(path))


# ----- the two preparations ---------------------------------------------------------------------------------------
def prepare_benchmark(spec: dict, work_dir: str | os.PathLike) -> tuple[list[dict], dict]:
    """(canonical rows, provenance) of one ``math_eval.benchmarks`` entry: its source fetched
    (:mod:`endorm.data.sources`), its adapter run with bad rows dropped and counted, the manifest checked (the rows read,
    unless ``n`` asks for a subset), then ``n`` rows drawn with ``seed`` in file order."""
    from .adapters import prepare

    name = spec.get("name")
    rows, meta = prepare(spec, "math", work_dir, key=f"math_eval.benchmarks[{name}]", split="test",
                         drop_bad_rows=True, sample="seeded")
    rewritten = [r["id"] for r in rows if "answer_raw" in r and r["answer_raw"] != r["answer"]]
    if rewritten:
        log.info("%s: %d gold answers rewritten as the benchmark's judge reads them (ids %s)", name,
                 len(rewritten), ", ".join(rewritten[:20]))
    meta.update(n_answers_rewritten=len(rewritten), answers_rewritten=rewritten)
    return rows, meta


def as_prompt(row: dict, instruction: str | None) -> dict:
    """A canonical row as an RL prompt row ``{id, prompt, answer, ...}`` (the adapter's extra fields kept)."""
    extra = {k: v for k, v in row.items() if k not in ("id", "problem", "answer", "source")}
    return {"id": row["id"], "prompt": build_prompt(row["problem"], instruction), "answer": row["answer"], **extra}


def math_lighteval_rows(rows: list[dict], source: str, instruction: str | None,
                        dropped: list[dict] | None = None) -> list[dict]:
    """MATH-lighteval / MATH train rows as RL prompt rows (:func:`endorm.data.adapters.math.math_lighteval`)."""
    return [as_prompt(r, instruction) for r in canonical_rows("math-lighteval", rows, source, dropped)]


def prepare_prompts(spec: dict, instruction: str | None, system_prompt: str | None,
                    work_dir: str | os.PathLike) -> tuple[list[dict], dict]:
    """RL prompts as chat messages from the ``rl.data`` entry (any ``math`` adapter: GSM8K's RL split, MATH-lighteval,
    ...; ``n``: the first n usable rows, or the split's size). Returns (rows, provenance)."""
    from .adapters import prepare

    rows, meta = prepare(spec, "math", work_dir, key="rl.data", split="train", drop_bad_rows=True, sample="first")
    out = []
    for r in rows:
        row = as_prompt(r, instruction)
        messages = [{"role": "user", "content": row["prompt"]}]
        if system_prompt is not None:
            messages.insert(0, {"role": "system", "content": system_prompt})
        row["prompt"] = messages
        out.append(row)
    return out, meta


def filter_long_prompts(rows: list[dict], tokenizer, max_tokens: int) -> tuple[list[dict], int]:
    """Drops prompts whose chat-templated form (with the generation prompt) exceeds ``max_tokens``; each kept row
    records its ``prompt_tokens``."""
    from ..core.encoding import PromptEncoder

    encoder = PromptEncoder(tokenizer)
    keep = []
    for r in rows:
        r["prompt_tokens"] = len(encoder.encode_prompt(r["prompt"]))
        if r["prompt_tokens"] <= max_tokens:
            keep.append(r)
    return keep, len(rows) - len(keep)
