"""The math evaluation's runner (Table 3): zero-shot lm-eval over the repository's task YAMLs, greedy or sampled.

lm-eval 0.4.13 with ``dataset_path: json``. Relative ``data_files`` resolve against the process's working directory,
so each run writes, into ``out_dir/lm_eval_tasks/``, the rows of each task with their prompt (made by
:func:`endorm.data.mathdata.build_prompt`, the one place a math prompt is made) and a small task YAML that ``include``-s
the repository's YAML (``workflow/lm_eval_tasks/<name>.yaml``) and fills in the absolute path of those rows, the
token limit and the stop strings. They are loaded with ``TaskManager(include_path=out_dir/lm_eval_tasks,
include_defaults=False)``; the same folder works with ``lm_eval run --include_path``. Answers are graded by
:func:`endorm.data.answers.score_answer` (the task YAMLs' ``process_results``), and each record is graded again here to
check that lm-eval used it.

Greedy by default (Table 3's rows). With a :class:`Sampling` (Table 3's controls), the per-run YAMLs ask lm-eval for
``repeats`` samples per problem (``generation_kwargs``: ``do_sample``, ``temperature``, ``top_p`` 1 and ``top_k`` 0:
plain temperature sampling, as TRL's rollouts) with fixed seeds; everything else (rows, prompt, chat template, stop
strings, grader) is the greedy run's. Each sample is one record (``sample`` = its index among the problem's).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..data.answers import answers_equal, extract_answer
from ..data.sources import package_version
from ..errors import EndormError
from ..data.mathdata import build_prompt, instruction_text, load_canonical

# The task YAMLs live in the repository (workflow/lm_eval_tasks); ENDORM_LM_EVAL_TASKS points elsewhere.
TASKS_DIR = Path(os.environ.get("ENDORM_LM_EVAL_TASKS")
                 or Path(__file__).resolve().parents[3] / "workflow" / "lm_eval_tasks")
TASK_PREFIX = "endorm_math_"
FALLBACK = ("last \\boxed{} of the generation; without one, the last number in the text (Qwen2.5-Math convention); "
            "without a number, wrong")
# End-of-turn markers of common chat templates: added to the stop strings when the tokenizer knows them (a base
# model's eos is often <|endoftext|>, while its chat template ends a turn with <|im_end|>).
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>")


@dataclass(frozen=True)
class Sampling:
    """Sampled decoding of an evaluation run: ``samples`` per problem (lm-eval ``repeats``) at ``temperature``.

    ``top_p`` 1 and ``top_k`` 0 switch off nucleus and top-k truncation (TRL's rollout defaults), so the samples come
    from ``softmax(logits / temperature)``. ``seed`` seeds lm-eval's python, numpy and torch generators.
    """

    temperature: float
    samples: int = 1
    seed: int = 0
    top_p: float = 1.0
    top_k: int = 0

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise EndormError(f"sampling temperature must be > 0, got {self.temperature!r}")
        if int(self.samples) < 1:
            raise EndormError(f"samples per problem must be >= 1, got {self.samples!r}")
        if not 0 < self.top_p <= 1 or self.top_k < 0:
            raise EndormError(f"top_p must be in (0, 1] and top_k >= 0, got {self.top_p!r}, {self.top_k!r}")

    def generation_kwargs(self) -> dict:
        return {"do_sample": True, "temperature": float(self.temperature), "top_p": float(self.top_p),
                "top_k": int(self.top_k)}


def continuous_hflm(**kwargs):
    """lm-eval's ``HFLM`` whose generation runs :func:`endorm.core.generation.generate_many` (continuous batching: a
    finished row leaves the batch at once, a repeated prompt is prefilled once, each row samples from its own
    seeded generator) instead of ``transformers``' ``generate``. ``max_batch`` (rows in flight) takes the place of
    lm-eval's batch size, which is set so that every request of a generation setting arrives in one call. Greedy
    continuations equal ``generate``'s; everything else (prompts, chat template, stop strings, post-processing,
    grading) is lm-eval's. ``lm.generation_stats`` collects each call's token counts and seconds."""
    import torch
    from lm_eval.models.huggingface import HFLM

    from ..core.generation import generate_many

    class ContinuousHFLM(HFLM):
        def __init__(self, *, max_batch: int, **kw):
            super().__init__(batch_size=1 << 30, **kw)
            self.max_batch = int(max_batch)
            self.generation_stats: list[dict] = []

        def _model_generate(self, context, max_length, stop, **generation_kwargs):
            mask = generation_kwargs.pop("attention_mask", None)
            if mask is None:
                mask = torch.ones_like(context)
            sample = bool(generation_kwargs.get("do_sample")) and float(generation_kwargs.get("temperature") or 0) > 0
            prompts = [row[m.bool()].tolist() for row, m in zip(context.cpu(), mask.cpu())]
            tok = self.tokenizer
            eos = self.model.generation_config.eos_token_id
            stop_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
            strings = []
            for s in stop:
                ids = tok.encode(s, add_special_tokens=False)
                (stop_ids.add(ids[0]) if len(ids) == 1 else strings.append(s))
            longest = max((len(tok.encode(s, add_special_tokens=False)) for s in strings), default=0) + 2

            def stop_check(ids):  # multi-token stop strings: lm-eval cuts the text at the first one anyway
                return any(s in tok.decode(ids[-longest:]) for s in strings)

            # one seed per row from lm-eval's seeded torch generator: rows keep their samples whatever max_batch
            seeds = torch.randint(0, 2 ** 62, (len(prompts),)).tolist() if sample else None
            out, stats = generate_many(
                self.model, prompts, max_new_tokens=max_length - context.shape[1], stop_ids=sorted(stop_ids),
                temperature=float(generation_kwargs["temperature"]) if sample else 0.0,
                top_k=int(generation_kwargs.get("top_k") or 0), top_p=float(generation_kwargs.get("top_p") or 1.0),
                seeds=seeds, max_batch=self.max_batch, stop_check=stop_check if strings else None,
                pad_id=tok.pad_token_id or 0)
            self.generation_stats.append({**stats, "rows": len(prompts), "sampled": sample})
            width = max((len(o) for o in out), default=0)
            full = torch.full((len(out), context.shape[1] + width), tok.pad_token_id or 0, dtype=torch.long)
            full[:, :context.shape[1]] = context.cpu()
            for i, o in enumerate(out):
                full[i, context.shape[1]:context.shape[1] + len(o)] = torch.tensor(o, dtype=torch.long)
            return full

    return ContinuousHFLM(**kwargs)


def task_names() -> list[str]:
    """Benchmarks with a task YAML in ``workflow/lm_eval_tasks``."""
    return sorted(p.stem for p in TASKS_DIR.glob("*.yaml"))


def _stop_strings(model_dir: Path, stop: list[str] | None) -> list[str]:
    if stop is not None:
        return list(stop)
    cfg = model_dir / "tokenizer.json"
    known: set[str] = set()
    if cfg.is_file():
        with open(cfg, encoding="utf-8") as f:
            known = {t.get("content") for t in json.load(f).get("added_tokens", [])}
    return [t for t in END_OF_TURN if t in known]


def task_limit(limit: int | dict | None, name: str) -> int | None:
    """Rows of task ``name`` under ``limit``: one number for every task, or {task: number} (a task not named: all)."""
    return limit.get(name) if isinstance(limit, dict) else limit


def write_task_configs(tasks: dict[str, str | os.PathLike], folder: str | os.PathLike, *, max_gen_toks: int,
                       instruction: str | None = None, stop: list[str] | None = None,
                       cache_dir: str | os.PathLike | None = None, sampling: Sampling | None = None,
                       limit: int | dict | None = None) -> dict[str, str]:
    """Write, per task, its rows with their prompt (``<task>.jsonl``: the canonical rows plus ``prompt`` from
    :func:`endorm.data.mathdata.build_prompt`) and an lm-eval YAML including the repository's YAML with that file's
    absolute path filled in, into ``folder``. ``sampling``: greedy when None, else ``repeats`` and sampled
    ``generation_kwargs`` (:class:`Sampling`). ``limit``: the first rows of each task only (:func:`task_limit`).
    ``cache_dir``: the datasets cache for the JSON files (default
    ``folder/../datasets_cache``, emptied first so a rewritten rows file is never read from a stale cache).
    Returns {name: lm-eval task name}."""
    import shutil

    import yaml

    from ..io import jsonl_text, write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in (*folder.glob("*.yaml"), *folder.glob("*.jsonl")):
        old.unlink()
    cache_dir = Path(cache_dir) if cache_dir is not None else folder.parent / "datasets_cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    names = {}
    for name, rows_path in tasks.items():
        base = TASKS_DIR / f"{name}.yaml"
        if not base.is_file():
            raise EndormError(f"no task YAML for {name!r} in {TASKS_DIR}; expected one of {task_names()}")
        rows_path = Path(rows_path).resolve()
        if not rows_path.is_file():
            raise EndormError(f"{rows_path}: file not found (canonical rows for task {name!r})")
        task = TASK_PREFIX + name
        rows = [{**r, "prompt": build_prompt(r["problem"], instruction)} for r in load_canonical(rows_path)]
        rows = rows[:task_limit(limit, name)]
        write_text(folder / f"{task}.jsonl", jsonl_text(rows))
        decoding = sampling.generation_kwargs() if sampling else {"do_sample": False, "temperature": 0.0}
        cfg = {
            "include": str(base),
            "task": task,
            "dataset_kwargs": {"data_files": {"test": str((folder / f"{task}.jsonl").resolve())},
                               "cache_dir": str(cache_dir.resolve())},
            "generation_kwargs": {"until": list(stop or []), **decoding, "max_gen_toks": int(max_gen_toks)},
        }
        if sampling:
            cfg["repeats"] = int(sampling.samples)
        (folder / f"{task}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, width=1 << 16))
        names[name] = task
    return names


def _records(name: str, task: str, samples: list[dict], sampled: bool = False) -> list[dict]:
    """One record per generation: per problem one (greedy) or each of its samples (``sample`` = its index; lm-eval
    scores only the first, its default ``take_first`` filter, and that one is checked against our grade)."""
    out = []
    for s in samples:
        doc = s["doc"]
        generations = list(s["resps"][0]) if s.get("resps") else [""]
        args = s.get("arguments") or []
        prompt = args[0][0] if args and isinstance(args[0], (list, tuple)) else None
        logged = s.get("acc")
        for k, generation in enumerate(generations if sampled else generations[:1]):
            extracted, how = extract_answer(generation)
            correct = extracted is not None and answers_equal(extracted, doc["answer"], doc.get("unit") or None)
            if k == 0 and logged is not None and bool(logged) != correct:
                raise EndormError(f"{task}, doc {s.get('doc_id')}: lm-eval scored {logged} but score_answer gives "
                                  f"{correct}; the task YAML does not use endorm.data.answers.score_answer")
            out.append({"task": name, "id": doc["id"], **({"sample": k} if sampled else {}),
                        "problem": doc["problem"], "gold": doc["answer"], "prompt": prompt,
                        "generation": generation, "extracted": extracted, "extracted_by": how,
                        "correct": bool(correct)})
    return out


def _task_summary(recs: list[dict], sampling: Sampling | None) -> dict:
    """Accuracy over every generation (sampled: the mean over samples, an estimate of pass@1 at that temperature),
    problems, and with samples the share of problems with at least one correct sample (pass@k)."""
    n_gen = len(recs)
    out = {"accuracy": sum(r["correct"] for r in recs) / n_gen if n_gen else float("nan"),
           "n": len({r["id"] for r in recs}), "n_boxed": sum(r["extracted_by"] == "boxed" for r in recs)}
    if sampling:
        by_id: dict = {}
        for r in recs:
            by_id.setdefault(r["id"], []).append(r["correct"])
        out.update(n_samples=n_gen, samples_per_problem=int(sampling.samples),
                   pass_at_k=sum(any(v) for v in by_id.values()) / len(by_id) if by_id else float("nan"))
    return out


def evaluate(model_dir: str | os.PathLike, tasks: dict[str, str | os.PathLike], out_dir: str | os.PathLike, *,
             max_gen_toks: int, batch_size: int = 1, limit: int | dict | None = None, dtype: str = "float32",
             device: str | None = "cpu", system_prompt: str | None = None, instruction: str | None = None,
             stop: list[str] | None = None, threads: int | None = None, sampling: Sampling | None = None) -> dict:
    """Zero-shot evaluation of ``model_dir`` with its chat template on canonical JSONL ``tasks``: greedy, or
    ``sampling`` (:class:`Sampling`: samples per problem, temperature, seed).

    Writes ``out_dir/lm_eval_tasks/`` (the exact task YAMLs and rows run) and returns the summary,
    ``{"tasks": {name: {"accuracy", "n", "n_boxed"}}, "samples": [records], "options": {...}, "wall_s"}``, for the
    caller to write (the workflow's ``evaluate_math`` adds provenance). ``limit`` keeps the first rows of each task
    (one number, or {task: number}). ``stop`` defaults
    to the model's end-of-turn tokens among :data:`END_OF_TURN` (the eos is always a stop). ``system_prompt``
    None keeps the chat template's default system prompt. ``device`` "auto" picks cuda when available.
    ``threads`` sets torch's CPU threads (on a shared 2-core machine, more threads than free cores make
    generation several times slower). Sampled runs are deterministic for a given seed, batch size and device."""
    import torch
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    model_dir, out_dir = Path(model_dir).resolve(), Path(out_dir)
    if not (model_dir / "config.json").is_file():
        raise EndormError(f"{model_dir}: not a transformers model folder (no config.json)")
    if not tasks:
        raise EndormError("evaluate: no tasks given")
    rows_by_task = {name: {r["id"]: r for r in load_canonical(p)} for name, p in tasks.items()}
    stops = _stop_strings(model_dir, stop)
    task_folder = out_dir / "lm_eval_tasks"
    names = write_task_configs(tasks, task_folder, max_gen_toks=max_gen_toks, instruction=instruction, stop=stops,
                               sampling=sampling, limit=limit)
    options = {"max_gen_toks": int(max_gen_toks), "batch_size": batch_size, "limit": limit, "dtype": dtype,
               "device": device, "system_prompt": system_prompt, "instruction": instruction_text(instruction),
               "stop": stops, "apply_chat_template": True, "num_fewshot": 0, "do_sample": sampling is not None,
               "answer_rule": FALLBACK, "threads": threads}
    seeds = {}
    if sampling:
        options["sampling"] = asdict(sampling)
        seeds = {k: int(sampling.seed) for k in ("random_seed", "numpy_random_seed", "torch_random_seed",
                                                  "fewshot_random_seed")}
    if threads:
        torch.set_num_threads(int(threads))
    if device in (None, "", "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
        options["device"] = f"auto ({device})"
    start = time.perf_counter()
    lm = continuous_hflm(pretrained=str(model_dir), dtype=dtype, max_batch=batch_size, device=device)
    # lm-eval bounds generation with max_length = prompt + max_gen_toks; a max_new_tokens in the model's own
    # generation_config.json (Qwen2.5-Math-7B's: 2048) takes precedence in `generate` and would ignore max_gen_toks.
    lm.model.generation_config.max_new_tokens = None
    result = simple_evaluate(
        model=lm, tasks=list(names.values()), log_samples=True, apply_chat_template=True,
        system_instruction=system_prompt, num_fewshot=0, bootstrap_iters=0,
        task_manager=TaskManager(include_path=str(task_folder), include_defaults=False), **seeds)
    wall = time.perf_counter() - start
    if result is None:
        raise EndormError("lm-eval returned no results")
    summary, records = {}, []
    for name, task in names.items():
        recs = _records(name, task, result["samples"][task], sampled=sampling is not None)
        summary[name] = {**_task_summary(recs, sampling), "n_rows": len(rows_by_task[name]),
                         "lm_eval_task": task, "rows": str(Path(tasks[name]).resolve())}
        records += recs
    gen = {k: sum(s[k] for s in lm.generation_stats) for k in ("prompt_tokens", "generated_tokens", "seconds")}
    gen["generated_tokens_per_s"] = round(gen["generated_tokens"] / gen["seconds"], 2) if gen["seconds"] else None
    out = {"tasks": summary, "options": options, "model": str(model_dir), "wall_s": round(wall, 2), "generation": gen,
           "lm_eval_version": package_version("lm_eval"), "math_verify_version": package_version("math-verify")}
    return {**out, "samples": records}
