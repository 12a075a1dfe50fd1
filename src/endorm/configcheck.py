"""The workflow's configuration, checked before anything is planned (torch-free: the Snakefile calls it in every job).

First the files themselves (:func:`check_config_files`): a file that is missing or not YAML is named with the
parser's line and column, and a key written twice in one mapping (YAML would silently keep only the last) with both
lines. Then the merged config, in two passes, every problem reported at once, each with its key path:

1. the JSON schema (``workflow/schemas/config.schema.yaml``): every object is closed, so a typo such as
   ``rewards:`` or ``dsp: {enabeld: false}`` is an error that names the nearest valid key; numbers have ranges,
   choices enums; and every number is finite (``.nan`` passes a schema's range checks);
   ``rl.trainer`` holds TRL's own fields: its keys are checked against TRL's config class (a typo names the
   nearest field), its values are TRL's to check when the run starts;
2. what a schema cannot say: references to ``models`` keys, data sets without an adapter (:mod:`endorm.data.adapters`),
   judge prompt placeholders, math benchmarks without a task YAML, and RL prompts that could overlap the held-out
   GSM8K evaluation rows.

Over 400 lines on purpose: one pass over the whole config, whose checks share the key paths, the schema and the
nearest-key suggestions; split, each part would need all three.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib.util
import math
import os
from pathlib import Path
from typing import Any, Iterable

from .errors import EndormError
from .methods import check_judge_prompt


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem with its key path."""


HEADER = "invalid configuration (see config/README.md):\n  "


def _repeated_keys(node, path: list, where: str, seen_nodes: set) -> list[str]:
    """Keys written twice in one mapping of a composed YAML document, with both lines."""
    import yaml

    if id(node) in seen_nodes:  # an alias of a node already walked
        return []
    seen_nodes.add(id(node))
    problems = []
    if isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "?"
            line = key.start_mark.line + 1
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if name in lines:
                    both = f"on line {line}" if lines[name] == line else f"on lines {lines[name]} and {line}"
                    problems.append(f"{where}, line {line}: config key {_path(path + [name])} is written twice "
                                    f"({both}); YAML would keep only the second")
                lines.setdefault(name, line)
            problems += _repeated_keys(value, path + [name], where, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _repeated_keys(item, path + [i], where, seen_nodes)
    return problems


def config_file_problems(path: str | os.PathLike) -> list[str]:
    """What is wrong with one config file as a file: missing or unreadable, not YAML (the parser's line and column),
    not a mapping of keys, or a key written twice in one mapping."""
    import yaml

    from .io import read_text

    try:
        text = read_text(path)
    except EndormError as exc:
        return [f"config file {exc}"]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        why = "; ".join(x for x in (exc.context, exc.problem) if x)
        return [f"config file {path}{at}: not valid YAML ({why})"]
    except yaml.YAMLError as exc:
        return [f"config file {path}: not valid YAML ({exc})"]
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        return [f"config file {path}: expected a mapping of config keys at the top level, got {got}"]
    return _repeated_keys(node, [], f"config file {path}", set())


def check_config_files(paths: Iterable[str | os.PathLike]) -> None:
    """Raise :class:`ConfigError` listing every problem of the config files ``paths`` (see
    :func:`config_file_problems`), before they are merged."""
    problems = [p for path in paths for p in config_file_problems(path)]
    if problems:
        raise ConfigError(HEADER + "\n  ".join(problems))


def nonfinite_problems(value: Any, where: list | None = None) -> list[str]:
    """Every number of the config that is NaN or infinite (YAML's ``.nan``, ``.inf``), by key path."""
    where = where or []
    if isinstance(value, float) and not math.isfinite(value):
        return [f"config key {_path(where)}: {value} is not a finite number"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in nonfinite_problems(v, where + [k])]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nonfinite_problems(v, where + [i])]
    return []


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _allowed(schema: dict, root: dict) -> list[str]:
    """The keys an object schema names: its own properties and those of a schema it refers to (``$ref``: the
    sections' shared source definition), or its closed set of property names."""
    names = list(schema.get("properties", {}))
    if "$ref" in schema:
        names += [n for n in _allowed(_resolve(schema["$ref"], root), root) if n not in names]
    enum = schema.get("propertyNames", {})
    if "$ref" in enum:
        enum = _resolve(enum["$ref"], root)
    return names + list(enum.get("enum", []))


def _nested(schema: dict, root: dict, names: list[str]) -> list[str]:
    """``block.key`` for the keys of the object-valued properties ``names`` of ``schema`` (a source's blocks), so
    a key written one level too high is pointed to its block."""
    props = dict(_resolve(schema["$ref"], root).get("properties", {})) if "$ref" in schema else {}
    props.update(schema.get("properties", {}))
    out = []
    for name in names:
        sub = props.get(name, {})
        sub = _resolve(sub["$ref"], root) if "$ref" in sub else sub
        out += [f"{name}.{key}" for key in sub.get("properties", {})]
    return out


def _resolve(ref: str, root: dict) -> dict:
    node: Any = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def _suggest(key: str, allowed: list[str], list_all: bool = True, n: int = 1, prefix: str = "") -> str:
    """'; did you mean ...?' with the nearest of ``allowed`` (up to ``n`` of them, those about as near as the
    nearest; each after ``prefix``), else '; allowed: ...' with all of them (unless ``list_all`` is false)."""
    close = difflib.get_close_matches(str(key), allowed, n=n, cutoff=0.6)
    if close:
        best = difflib.SequenceMatcher(None, str(key), close[0]).ratio()
        close = [c for c in close if difflib.SequenceMatcher(None, str(key), c).ratio() >= best - 0.05]
    contains = [a for a in allowed if str(key).lower() in a.lower() or a.lower() in str(key).lower()]
    close = close or (contains if len(contains) == 1 else [])
    if close:
        names = [repr(prefix + c) for c in close]
        return f"; did you mean {names[0] if len(names) == 1 else ', '.join(names[:-1]) + ' or ' + names[-1]}?"
    return f"; allowed: {', '.join(allowed)}" if allowed and list_all else ""


# Where TRL defines the config class of each RL algorithm, and the classes it derives from. Their fields are read
# from the source: importing TRL loads torch and transformers (seconds), and every job of a cluster run checks the
# config again.
_TRL_BASES = [("trl", "trainer/base_config.py", "_BaseConfig"), ("transformers", "training_args.py",
                                                                 "TrainingArguments")]
TRL_CONFIGS = {"grpo": [("trl", "trainer/grpo_config.py", "GRPOConfig"), *_TRL_BASES],
               "rloo": [("trl", "trainer/rloo_config.py", "RLOOConfig"), *_TRL_BASES]}


@functools.lru_cache(maxsize=None)
def trl_config_fields(algorithm: str) -> tuple[str, ...] | None:
    """The fields of TRL's config class for ``algorithm`` (GRPOConfig, RLOOConfig) that its constructor takes, read
    from TRL's and transformers' source without importing them; None when a source is not where this TRL keeps it
    (TRL itself then refuses an unknown field when the run starts)."""
    names: list[str] = []
    for package, file, cls in TRL_CONFIGS.get(algorithm, []):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            return None
        try:
            tree = ast.parse(Path(next(iter(spec.submodule_search_locations)), file).read_text())
        except (OSError, SyntaxError):
            return None
        body = next((n.body for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls), None)
        if body is None:
            return None
        for stmt in body:
            if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                    and "ClassVar" not in ast.unparse(stmt.annotation) and not _init_false(stmt.value)):
                names.append(stmt.target.id)
    return tuple(dict.fromkeys(names)) or None


def _init_false(value: ast.expr | None) -> bool:
    """A dataclass ``field(init=False, ...)``: not a constructor argument."""
    return isinstance(value, ast.Call) and any(k.arg == "init" and isinstance(k.value, ast.Constant)
                                               and k.value.value is False for k in value.keywords)


def _trainer_hint(key: str, config: dict) -> str:
    """For an unknown key of ``rl`` that is (close to) a field of TRL's config: where TRL's fields go."""
    fields = trl_config_fields(_get(config, "rl", "algorithm", default="grpo"))
    if not fields:
        return ""
    if key in fields:
        return f"; {key} is TRL's: write it under rl.trainer"
    close = _suggest(key, list(fields), list_all=False, n=3, prefix="rl.trainer.")
    return f"; TRL's settings go under rl.trainer{close}" if close else ""


def trainer_problems(config: dict) -> list[str]:
    """Keys of ``rl.trainer`` that are not fields of TRL's config class for ``rl.algorithm``, with the nearest one."""
    trainer, algorithm = _get(config, "rl", "trainer"), _get(config, "rl", "algorithm", default="grpo")
    fields = trl_config_fields(algorithm) if isinstance(trainer, dict) else None
    if fields is None:  # no trainer mapping, an algorithm the schema refuses, or TRL's source not found
        return []
    cls = TRL_CONFIGS[algorithm][0][2]
    return [f"config key rl.trainer.{key}: not a field of TRL's {cls} (rl.algorithm {algorithm})"
            f"{_suggest(key, list(fields), list_all=False, n=3)}" for key in trainer if key not in fields]


def schema_problems(config: dict, schema: dict) -> list[str]:
    """Every schema violation as ``config key PATH: what is wrong`` (unknown keys with the nearest valid key)."""
    from jsonschema import Draft202012Validator

    problems = []
    for err in sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: list(map(str, e.path))):
        where = list(err.absolute_path)
        if err.validator in ("additionalProperties", "unevaluatedProperties") and isinstance(err.instance, dict):
            if isinstance(err.validator_value, dict):  # a schema for other keys, not a closed object
                problems.append(f"config key {_path(where)}: {err.message}")
                continue
            allowed = _allowed(err.schema, schema)
            for key in err.instance:
                if key not in allowed:
                    hint = _trainer_hint(key, config) if where == ["rl"] else ""
                    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                    hint = hint or _suggest(key, allowed if close else allowed + _nested(err.schema, schema, allowed))
                    problems.append(f"config key {_path(where + [key])}: unknown key{hint}")
            continue
        if err.validator == "not" and err.schema.get("description"):  # a combination the schema explains
            problems.append(f"config key {_path(where)}: {err.schema['description']}")
            continue
        if "propertyNames" in err.schema_path and err.validator == "enum":  # a key outside a closed set of names
            allowed = [str(v) for v in err.validator_value]
            problems.append(f"config key {_path(where + [err.instance])}: unknown key{_suggest(err.instance, allowed)}")
            continue
        if err.validator in ("allOf", "if") and err.context:
            for sub in err.context:
                problems.append(f"config key {_path(where + list(sub.path))}: {sub.message}")
            continue
        problems.append(f"config key {_path(where)}: {err.message}")
    return list(dict.fromkeys(problems))


def _get(config: dict, *keys, default=None):
    node: Any = config
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            return default
        node = node[k]
    return node


def reference_problems(config: dict, tasks_dir: str | os.PathLike | None = None) -> list[str]:
    """Cross-references the schema cannot express (only on a config that already passed the schema)."""
    problems = []
    models = set(_get(config, "models", default={}) or {})

    def model_ref(path: tuple[str, ...], required: bool = True):
        value = _get(config, *path)
        if value is None and not required:
            return
        if value not in models:
            problems.append(f"config key {'.'.join(path)}: {value!r} is not a key of models "
                            f"(models: {', '.join(sorted(models))})")

    model_ref(("reward_model",))
    for key in models:
        ref = _get(config, "models", key, "random", "tokenizer_from")
        if ref is not None and (_get(config, "models", ref, "source") != "package"):
            problems.append(f"config key models.{key}.random.tokenizer_from: {ref!r} is not a key of models with "
                            f"source package (a packaged GGUF holds the tokenizer; models: {', '.join(sorted(models))})")
    enabled = {s: isinstance(config.get(s), dict) and config[s].get("enabled", True) for s in
               ("rmbench", "dsp", "multifaceted", "rl", "math_eval")}
    problems += _adapter_problems(config, enabled)
    # Row caps and judge prompts name known methods (the schema checks that). One for a method that a section does
    # not run is kept and unused: config files merge over config/config.yaml, so an override cannot delete a key.
    for method, template in (_get(config, "judge", "prompts", default={}) or {}).items():
        try:
            check_judge_prompt(method, template, f"config key judge.prompts.{method}")
        except EndormError as exc:
            problems.append(str(exc))
    constructed = [s for s in ("dsp", "multifaceted") if enabled[s] and _get(config, s, "data", "source") ==
                   "constructed"]
    if constructed:
        if not isinstance(config.get("constructed"), dict):
            problems.append(f"config key constructed: missing; {', '.join(constructed)} use constructed data, which "
                            "needs constructed.generator (a key of models)")
        else:
            model_ref(("constructed", "generator"))
            if "multifaceted" in constructed and not _get(config, "constructed", "personas"):
                problems.append("config key constructed.personas: missing; multifaceted.data.source constructed "
                                "needs at least two personas")
    if enabled["rl"]:
        model_ref(("rl", "policy"))
        model_ref(("rl", "reward_model"), required=False)
        rl = config["rl"]
        if rl.get("launcher") == "accelerate":
            path = Path(__file__).resolve().parents[2] / rl.get("accelerate_config", "workflow/accelerate/fsdp.yaml")
            if not path.is_file():
                problems.append(f"config key rl.accelerate_config: {path} is not a file")
    if enabled["rl"] and enabled["math_eval"]:
        problems += _gsm8k_overlap(config)
        controls = _get(config, "math_eval", "controls")
        if isinstance(controls, dict) and controls.get("enabled", True):
            names = [b.get("name") for b in _get(config, "math_eval", "benchmarks", default=[])]
            per = controls.get("problems")
            for task in (per if isinstance(per, dict) else {}):
                if task not in names:
                    problems.append(f"config key math_eval.controls.problems.{task}: not a benchmark of "
                                    f"math_eval.benchmarks ({', '.join(map(str, names))})")
            samples = controls.get("samples", 8)
            for k, n in enumerate(controls.get("best_of", [4, 8])):
                if n > samples:
                    problems.append(f"config key math_eval.controls.best_of[{k}]: best-of-{n} needs {n} samples per "
                                    f"problem, but math_eval.controls.samples is {samples}")
            rl_temperature = _get(config, "rl", "trainer", "temperature")
            if rl_temperature in controls.get("temperatures", [0.5]):
                problems.append(f"config key math_eval.controls.temperatures: {rl_temperature} is "
                                "rl.trainer.temperature, whose row the reference samples (math_eval.controls.samples) "
                                "already give")
    if isinstance(config.get("analysis"), dict) and config["analysis"].get("enabled", True):
        problems += _analysis_problems(config["analysis"])
    if enabled["math_eval"] and tasks_dir is not None:
        known = sorted(p.stem for p in Path(tasks_dir).glob("*.yaml"))
        names = [b.get("name") for b in _get(config, "math_eval", "benchmarks", default=[])]
        for k, name in enumerate(names):
            if name not in known:
                problems.append(f"config key math_eval.benchmarks[{k}].name: no task YAML {name!r} in {tasks_dir}"
                                f"{_suggest(name, known)}")
            if name in names[:k]:
                problems.append(f"config key math_eval.benchmarks[{k}].name: {name!r} is listed twice")
    return problems


def _adapter_problems(config: dict, enabled: dict) -> list[str]:
    """Each data entry's ``name`` is an adapter of its family (endorm.data.adapters), with the nearest one suggested."""
    from .data.adapters import get, names

    entries = []
    if enabled["rmbench"]:
        entries += [(f"rmbench.data[{i}].name", "pairs", e) for i, e in enumerate(config["rmbench"].get("data", []))]
    if enabled["rl"]:
        entries.append(("rl.data.name", "math", config["rl"].get("data", {})))
    if enabled["math_eval"]:
        entries += [(f"math_eval.benchmarks[{i}].name", "math", e)
                    for i, e in enumerate(_get(config, "math_eval", "benchmarks", default=[]))]
    if isinstance(config.get("constructed"), dict):
        entries.append(("constructed.prompts.name", "prompts", config["constructed"].get("prompts", {})))
    problems = []
    for key, family, entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        known = names(family)
        if name is not None and name not in known:
            problems.append(f"config key {key}: {name!r} is not a data set of endorm.data.adapters (family {family})"
                            f"{_suggest(name, known)}")
            continue
        if name is None:
            continue
        ad = get(family, name)
        at = key.removesuffix(".name")
        problems += [f"config key {at}.{k}: missing; {name} needs it" for k in ad.needs if entry.get(k) is None]
        if family == "pairs" and entry.get("n") is not None and "n" not in ad.takes:
            problems.append(f"config key {at}.n: {name} reads every row (n is the size of a constructed set)")
    return problems


def _analysis_problems(analysis: dict) -> list[str]:
    """Length bin edges increase; the per-token view shows at least one comparison."""
    problems = []
    edges = _get(analysis, "length", "bins")
    if edges is not None and list(edges) != sorted(edges):
        problems.append(f"config key analysis.length.bins: edges must increase, got {edges}")
    tokens = analysis.get("tokens") or {}
    counts = [tokens[k] for k in ("top", "bottom", "random") if k in tokens]
    if len(counts) == 3 and sum(counts) < 1:  # a key left out has a default of at least 1
        problems.append("config key analysis.tokens: top + bottom + random must be at least 1 (the per-token view "
                        "shows those comparisons)")
    return problems


def _gsm8k_overlap(config: dict) -> list[str]:
    """RL prompts from the packaged GSM8K must not overlap the held-out GSM8K evaluation rows."""
    data = config["rl"].get("data", {})
    gsm = [b for b in _get(config, "math_eval", "benchmarks", default=[]) if b.get("name") == "gsm8k"]
    if data.get("name") != "gsm8k" or not gsm:
        return []
    if data.get("seed", 0) != gsm[0].get("seed", 0) or int(gsm[0].get("n") or 0) > int(data.get("held_out", 0)):
        return [f"config key math_eval.benchmarks gsm8k (n={gsm[0].get('n')}, seed={gsm[0].get('seed', 0)}) must use "
                f"rl.data's seed ({data.get('seed', 0)}) and n <= rl.data.held_out ({data.get('held_out')}): "
                "otherwise RL prompts could be evaluation problems"]
    return []


def check_config(config: dict, schema_path: str | os.PathLike, tasks_dir: str | os.PathLike | None = None) -> None:
    """Raise :class:`ConfigError` listing every problem of ``config`` (schema first, then references)."""
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    problems = nonfinite_problems(config) + schema_problems(config, schema) + trainer_problems(config)
    if not problems:
        problems = reference_problems(config, tasks_dir)
    if problems:
        raise ConfigError(HEADER + "\n  ".join(problems))

